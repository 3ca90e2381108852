"""``radgui roi grow|rings|measure``: the ROI tools over files, for scripting.

Examples
--------
::

    radgui roi grow ct.nrrd --seed 33,359,218 --preset solid --opening-mm 1.5 -o tumour.nrrd
    radgui roi rings ct.nrrd tumour.nrrd --distances 3,6,9 --clip body --core 2 --unions -o voi/
    radgui roi measure ct.nrrd tumour.nrrd ring3mm.nrrd --csv measures.csv --json measures.json

Seeds are (z, y, x) voxel indices of the image as radgui shows it (canonical
LPS orientation), or physical LPS positions in mm given in (z, y, x) order
with ``--seed-mm``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radgui.cli._args import add_image_options, float_tuple, image_kwargs

NAME = "roi"
HELP = "ROI tools over files: grow a region from a seed, peritumoral rings/core, measurements."

_ZYX = float_tuple(3, "three numbers z,y,x")


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="roi_command", metavar="TOOL", required=True,
                                parser_class=type(parser))

    g = sub.add_parser("grow", help="Grow a 3D region from seed points and write the mask.")
    g.add_argument("image", help="image file (NRRD/NIfTI/MHA) or DICOM folder")
    g.add_argument("--seed", type=_ZYX, action="append", default=[],
                   help="seed voxel index z,y,x (repeatable)")
    g.add_argument("--seed-mm", type=_ZYX, action="append", default=[],
                   help="seed physical LPS position in mm, given as z,y,x (repeatable)")
    g.add_argument("--mode", default="interval",
                   choices=["interval", "adaptive", "pet_fraction", "pet_fixed"])
    g.add_argument("--preset", default="solid", help="CT preset: solid, part-solid, ground-glass, soft-tissue")
    g.add_argument("--lower", type=float, help="lower value (HU) of the interval")
    g.add_argument("--upper", type=float, help="upper value (HU) of the interval")
    g.add_argument("--max-radius-mm", type=float, default=30.0, help="nothing farther from a seed (default 30)")
    g.add_argument("--opening-mm", type=float, default=1.5,
                   help="opening radius in mm that cuts thin bridges, 0 to skip (default 1.5)")
    g.add_argument("--no-fill-holes", action="store_true", help="keep cavities")
    g.add_argument("--fraction", type=float, default=0.41, help="PET: fraction of SUVmax (default 0.41)")
    g.add_argument("--suv", type=float, default=2.5, help="PET: fixed SUV threshold (default 2.5)")
    g.add_argument("--modality", help="CT, MR, PT or OT (default: from the file)")
    g.add_argument("-o", "--output", required=True, help="mask file to write (.nrrd, .nii.gz, .mha)")
    g.add_argument("--json", help="also write the parameters and measurements as JSON")
    _add_export(g)
    add_image_options(g)

    r = sub.add_parser("rings", help="Peritumoral rings, core and unions in mm around a tumour mask.")
    r.add_argument("image", help="image file or DICOM folder")
    r.add_argument("mask", help="tumour mask on the image grid")
    r.add_argument("--label", type=int, help="the ROI's label in the mask (default: the mask's only label)")
    r.add_argument("--distances", type=_floats, default=[3.0, 6.0, 9.0], help="ring distances in mm (3,6,9)")
    r.add_argument("--mode", choices=["annular", "cumulative"], default="annular")
    r.add_argument("--core", type=float, help="also write the core at this depth in mm")
    r.add_argument("--unions", action="store_true", help="also write tumour+ring<d>mm")
    r.add_argument("--clip", choices=["none", "body"], default="none",
                   help="body: keep rings inside the body (HU > -500, CT only)")
    r.add_argument("--hu-range", type=_floats, help="keep ring voxels within low,high (e.g. -1000,-300)")
    r.add_argument("-o", "--output-dir", required=True, help="folder for <name>.nrrd files and rings.json")
    r.add_argument("--suffix", default=".nrrd", help="mask file suffix (default .nrrd)")
    r.add_argument("--label-names", metavar="FILE", help="ITK-SNAP label description file naming the mask's labels")
    _add_export(r)
    add_image_options(r)

    m = sub.add_parser("measure", help="Measure ROIs: volume, RECIST and 3D diameters, intensity, SUV.")
    m.add_argument("image", help="image file or DICOM folder")
    m.add_argument("masks", nargs="+", help="one or more masks on the image grid")
    m.add_argument("--label", type=int, help="the ROI's label in each mask (default: each mask's only label)")
    m.add_argument("--modality", help="CT, MR, PT or OT (PT adds SUV measures)")
    m.add_argument("--csv", help="write a CSV table (one row per mask)")
    m.add_argument("--json", help="write JSON")
    m.add_argument("--label-names", metavar="FILE", help="ITK-SNAP label description file naming the masks' labels")
    m.add_argument("--sr", metavar="FILE", help="also write a DICOM SR (TID 1500) of the measurements, with the "
                                               "DICOM-SEG it references (<FILE stem>.seg.dcm); DICOM images only")
    add_image_options(m)


def _add_export(parser) -> None:
    parser.add_argument("--export", action="append", default=[], choices=("seg", "rtstruct", "slicer"),
                        help="also write the ROI(s) as a DICOM-SEG (seg), an RTSTRUCT (rtstruct; both need a "
                             "DICOM image, de-identified) or a 3D Slicer .seg.nrrd (slicer); repeatable")


def _export(formats, masks: dict, volume, base: Path, roles: dict | None = None) -> list[Path]:
    """Write ``masks`` in each of ``formats`` next to ``base`` (``<base>.seg.dcm``, ``.rtstruct.dcm``, ``.seg.nrrd``)."""
    written = []
    for fmt in dict.fromkeys(formats):
        if fmt == "seg":
            from radgui.io.seg import write_seg

            written.append(write_seg(masks, volume, base.with_name(base.name + ".seg.dcm"), roles=roles))
        elif fmt == "rtstruct":
            from radgui.io.seg import write_rtstruct

            written.append(write_rtstruct(masks, volume, base.with_name(base.name + ".rtstruct.dcm"), roles=roles))
        else:
            from radgui.io.masks import write_slicer_seg

            written.append(write_slicer_seg(masks, volume, base.with_name(base.name + ".seg.nrrd")))
    for path in written:
        print(f"wrote {path}")
    return written


def _provenance(output, command: str, inputs: dict, extra: dict | None = None, volume=None) -> None:
    from radgui.features.ibsi import write_provenance

    write_provenance(output, command=command, inputs=inputs, extra=extra,
                     warnings=volume.warnings if volume is not None else None)


def _stem(path: Path) -> Path:
    name = path.name
    for suffix in (".nii.gz", ".seg.nrrd", ".nrrd", ".nii", ".mha", ".mhd"):
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)])
    return path.with_suffix("")


def _load(args, with_mask: bool = False):
    from radgui.io import load_mask, load_volume, mask_to_array

    volume = load_volume(args.image, modality=getattr(args, "modality", None), **image_kwargs(args))
    if not with_mask:
        return volume, None
    mask = mask_to_array(load_mask(args.mask, volume, label=args.label,
                                   label_names=getattr(args, "label_names", None))) > 0
    return volume, mask


def _clean(d: dict) -> dict:
    import numpy as np

    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        elif isinstance(v, tuple):
            v = [x.item() if hasattr(x, "item") else x for x in v]
        out[k] = v
    return out


def _grow(args) -> int:
    import numpy as np

    from radgui.errors import RadguiError
    from radgui.io import save_mask
    from radgui.roi import grow_region, measure

    volume, _ = _load(args)
    seeds = [np.asarray(s) for s in args.seed]
    seeds += [np.round(volume.physical_to_index(p)) for p in args.seed_mm]
    if not seeds:
        raise RadguiError("give at least one --seed z,y,x or --seed-mm z,y,x")
    res = grow_region(volume.array, volume.spacing, np.array(seeds), mode=args.mode, preset=args.preset,
                      lower=args.lower, upper=args.upper, max_radius_mm=args.max_radius_mm,
                      opening_mm=args.opening_mm, fill_holes=not args.no_fill_holes,
                      fraction=args.fraction, suv_threshold=args.suv)
    full = res.full()
    if not full.any():
        from radgui.errors import EmptyMaskError

        raise EmptyMaskError(
            f"nothing grew: the seed value is outside the interval {res.interval[0]:g}..{res.interval[1]:g}")
    save_mask(full.astype(np.uint8), args.output, like=volume)
    summary = {"image": str(args.image), "mask": str(args.output), "params": _clean(res.params),
               "measures": _clean(measure(full, volume))}
    if args.json:
        from radgui.files import write_json

        write_json(args.json, summary, indent=2, default=str)
    name = _stem(Path(args.output)).name
    roles = {name: {"role": "tumour", "algorithm": "region_growing",
                    "parameters": {k: v for k, v in _clean(res.params).items() if not isinstance(v, (list, dict))}}}
    exported = _export(args.export, {name: full.astype(np.uint8)}, volume, _stem(Path(args.output)), roles)
    _provenance(args.output, "radgui roi grow", {"image": args.image},
                {"params": _clean(res.params), "exported": [p.name for p in exported]}, volume)
    print(f"wrote {args.output}: {res.voxel_count} voxels, {summary['measures']['volume_ml']:.2f} mL")
    return 0


def _rings(args) -> int:
    import numpy as np

    from radgui.io import save_mask
    from radgui.progress import run
    from radgui.roi import iter_ring_set, volume_ml

    volume, mask = _load(args, with_mask=True)
    if args.clip == "body" and volume.modality != "CT":
        from radgui.roi import RoiParameterError

        raise RoiParameterError(f"--clip body needs a CT in HU; this image is {volume.modality}")
    hu = tuple(args.hu_range) if args.hu_range else None
    if hu is not None and len(hu) != 2:
        from radgui.roi import RoiParameterError

        raise RoiParameterError(f"--hu-range takes low,high, got {args.hu_range}")
    ring_set = run(iter_ring_set(mask, volume.spacing, args.distances, mode=args.mode, core_depth_mm=args.core,
                                 unions=args.unions, clip=None if args.clip == "none" else args.clip,
                                 image=volume.array, hu_range=hu))
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"image": str(args.image), "tumour": str(args.mask), "mode": args.mode,
              "distances_mm": list(args.distances), "clip": args.clip, "hu_range": hu,
              "spacing_zyx_mm": list(volume.spacing), "vois": {}}
    for name, arr in ring_set.vois.items():
        path = save_mask(arr.astype(np.uint8), out_dir / f"{name}{args.suffix}", like=volume)
        n = int(arr.sum())
        entry = {"file": path.name, "voxel_count": n, "volume_ml": volume_ml(n, volume.spacing)}
        if name in ring_set.thickness:
            entry["thickness_through_centroid"] = {
                k: {"mm": v[0], "voxels": v[1]} for k, v in ring_set.thickness[name].items()}
        report["vois"][name] = entry
        print(f"{name}: {entry['voxel_count']} voxels, {entry['volume_ml']:.2f} mL -> {path}")
    from radgui.files import write_json

    exported = _export(args.export, {"tumour": mask.astype(np.uint8),
                                     **{k: v.astype(np.uint8) for k, v in ring_set.vois.items()}}, volume, out_dir / "vois")
    write_json(out_dir / "rings.json", report, indent=2)
    _provenance(out_dir / "rings.json", "radgui roi rings", {"image": args.image, "tumour": args.mask},
                {"exported": [p.name for p in exported]}, volume)
    return 0


def _measure(args) -> int:
    import pandas as pd

    from radgui.io import load_mask, mask_to_array
    from radgui.roi import measure

    import numpy as np

    volume, _ = _load(args)
    rows = []
    masks = {}
    for path in args.masks:
        mask = mask_to_array(load_mask(path, volume, label=args.label, label_names=args.label_names)) > 0
        from radgui.errors import EmptyMaskError

        if not mask.any():
            raise EmptyMaskError("the mask is empty" + (f" for label {args.label}" if args.label else ""), path)
        row = {"mask": str(path), **_clean(measure(mask, volume))}
        rows.append(row)
        masks[path] = mask
    table = pd.DataFrame(rows)
    from radgui.files import write_csv, write_json

    if args.csv:
        write_csv(args.csv, table, index=False)
        _provenance(args.csv, "radgui roi measure", {"image": args.image, "masks": list(args.masks)}, None, volume)
    if args.json:
        write_json(args.json, rows, indent=2)
        _provenance(args.json, "radgui roi measure", {"image": args.image, "masks": list(args.masks)}, None, volume)
    if args.sr:
        from radgui.io.masks import split_segment
        from radgui.io.seg import write_seg
        from radgui.report.sr import write_sr

        names = {}
        for path in args.masks:
            base, segment = split_segment(path)
            name = segment or _stem(base).name
            while name in names.values():
                name += "_"
            names[path] = name
        sr = Path(args.sr)
        seg = write_seg({names[p]: m.astype(np.uint8) for p, m in masks.items()}, volume,
                        _stem(sr).with_name(_stem(sr).name + ".seg.dcm"))
        write_sr(volume, seg, {names[r["mask"]]: r for r in rows}, sr)
        _provenance(sr, "radgui roi measure", {"image": args.image, "masks": list(args.masks)},
                    {"segmentation": seg.name}, volume)
        print(f"wrote {seg} and {sr}")
    if not args.csv and not args.json:
        table.to_csv(sys.stdout, index=False)
    else:
        print(table.to_string(index=False))
    return 0


def run(args: argparse.Namespace) -> int:
    return {"grow": _grow, "rings": _rings, "measure": _measure}[args.roi_command](args)
