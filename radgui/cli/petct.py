"""``radgui petct fuse|features``: fused PET/CT images and four-VOI PET/CT/fused features over files.

Examples
--------
::

    radgui petct fuse ct.nrrd pet_suv.nrrd --fusion wavelet -o fused.nrrd
    radgui petct features STUDY_DICOM_FOLDER --mask tumour.nrrd --fusion weighted --weight 0.5 -o features.csv
    radgui petct features ct.nrrd pet_suv.nrrd --mask tumour.nrrd --ring-mm 6 --core-mm 3 -o features.csv

With one path, it is a DICOM folder holding the CT and PET series of one
study (:func:`radgui.io.petct.load_petct`); with two, the CT and the PET in
SUV (file or DICOM folder). A PET not on the CT grid is resampled onto it
(linear) after the frame-of-reference check: files without a
FrameOfReferenceUID (NRRD, NIfTI) need ``--consent``. The mask is the tumour
on the CT grid. ``features`` writes one row (``patient_id`` then
``<image>_<voi>__<feature>`` columns) and ``<output>.provenance.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radgui.cli._args import add_image_options, float_tuple, image_kwargs

NAME = "petct"
HELP = "PET/CT: fuse PET and CT (weighted or wavelet) and extract CT, PET and fused features of four VOIs."

_LOW_HIGH = float_tuple(2, "two numbers low,high")


def _add_inputs(p) -> None:
    p.add_argument("ct", help="CT file or DICOM folder; alone: a DICOM folder with the CT and PET of one study")
    p.add_argument("pet", nargs="?", help="PET in SUV (file or DICOM folder; DICOM is converted to SUVbw)")
    p.add_argument("--consent", action="store_true",
                   help="resample a PET not on the CT grid even without matching FrameOfReferenceUIDs "
                        "(recorded in the warnings)")
    f = p.add_argument_group("fusion")
    f.add_argument("--fusion", choices=("weighted", "wavelet"), default="weighted",
                   help="weighted: w*PET + (1-w)*CT; wavelet: averaged approximation, max-abs details")
    f.add_argument("--weight", type=float, default=0.5, help="weight of PET in [0, 1] (default 0.5)")
    f.add_argument("--ct-window", type=_LOW_HIGH, default=None, metavar="LO,HI",
                   help="CT window in HU scaled to [0, 1] (default -1000,1000)")
    f.add_argument("--pet-range", type=_LOW_HIGH, default=None, metavar="LO,HI",
                   help="SUV range scaled to [0, 1] (default 0,20)")
    f.add_argument("--wavelet", default="db1", help="wavelet of --fusion wavelet (default db1, i.e. Haar)")
    f.add_argument("--level", type=int, default=1, help="wavelet levels (default 1)")
    add_image_options(p)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="petct_command", metavar="TOOL", required=True, parser_class=type(parser))
    fz = sub.add_parser("fuse", help="Write the fused PET/CT image (on the CT grid, float32, [0, 1]).")
    _add_inputs(fz)
    fz.add_argument("-o", "--output", required=True, help="image file to write (.nrrd, .nii.gz, .mha)")
    fz.add_argument("--json", help="also write the fusion parameters and provenance as JSON")

    ft = sub.add_parser("features", help="CT, PET and fused features of tumour, ring, core and tumour+ring.")
    _add_inputs(ft)
    ft.add_argument("--mask", required=True, help="tumour mask on the CT grid (label map, SEG, RTSTRUCT#ROI ...)")
    ft.add_argument("--label", type=int, help="the tumour's label in the mask (default: the mask's only label)")
    ft.add_argument("--ring-mm", type=float, default=6.0, help="peritumoral ring width in mm (default 6)")
    ft.add_argument("--core-mm", type=float, default=3.0, help="intratumoral core depth in mm (default 3)")
    ft.add_argument("--clip", choices=("none", "body"), default="none",
                    help="body: keep the ring inside the body (CT > -500 HU)")
    ft.add_argument("--images", default="ct,pet,fused", help="images to extract, comma separated (ct,pet,fused)")
    ft.add_argument("--preset", action="append", default=[], metavar="IMAGE=PRESET",
                    help="preset of one image, e.g. fused=petct-fused or ct=ct-wavelet (repeatable)")
    ft.add_argument("--id", default="case", help="patient_id of the row (default: case)")
    ft.add_argument("-o", "--output", help="features CSV (default stdout); beside it <output>.provenance.json")
    ft.add_argument("--quiet", action="store_true", help="no progress bar")


def _load(args):
    """(ct, pet on the CT grid) from the command's paths."""
    from radgui.errors import RadguiError
    from radgui.io import load_volume
    from radgui.io.petct import load_petct, pet_on_ct
    from radgui.io.volume import GEOMETRY_TOL_MM, grid_mismatch_mm

    if args.pet is None:
        if not Path(args.ct).is_dir():
            raise RadguiError(f"{args.ct}: give the PET image too, or a DICOM folder holding both series")
        pair = load_petct(args.ct, consent=args.consent)
        return pair.ct, pair.pet_on_ct
    ct = load_volume(args.ct, **image_kwargs(args))
    pet = load_volume(args.pet, modality="PT")
    if grid_mismatch_mm(ct.image, pet.image) > GEOMETRY_TOL_MM:
        pet = pet_on_ct(pet, ct, consent=args.consent)
    return ct, pet


def _fusion(args) -> dict:
    from radgui.io.petct import fusion_kwargs

    kw = {"method": args.fusion, "weight": args.weight, "ct_window_hu": args.ct_window,
          "pet_range_suv": args.pet_range}
    if args.fusion == "wavelet":
        kw.update(wavelet=args.wavelet, level=args.level)
    return fusion_kwargs(kw)


def run(args) -> int:
    from radgui.files import atomic_path, write_json

    fusion = _fusion(args)  # bad parameters fail before any loading
    if args.petct_command == "fuse":
        import SimpleITK as sitk

        from radgui.io.petct import fuse

        ct, pet = _load(args)
        fused = fuse(ct, pet, **fusion)
        with atomic_path(args.output) as tmp:
            sitk.WriteImage(fused.image, str(tmp), True)
        if args.json:
            write_json(args.json, {"output": str(args.output), "fusion": fused.meta["fusion"],
                                   "warnings": fused.warnings})
        print(f"wrote {args.output}: {fused.meta['name']}, {'x'.join(map(str, fused.shape))} (z,y,x)")
        return 0

    from radgui.cli._args import parse_pairs
    from radgui.cli.extract import _Bar
    from radgui.errors import RadguiError
    from radgui.features.petct import iter_extract_petct, save_table
    from radgui.io import load_mask
    from radgui.progress import run as run_steps

    images = tuple(i.strip() for i in args.images.split(",") if i.strip())
    presets = parse_pairs(args.preset, "--preset", "PRESET")
    bad = [k for k in presets if k not in ("ct", "pet", "fused")]
    if bad:
        raise RadguiError(f"--preset {bad[0]}=...: the image must be ct, pet or fused")
    ct, pet = _load(args)
    mask = load_mask(args.mask, ct, label=args.label)
    bar = _Bar(not args.quiet)
    try:
        table = run_steps(iter_extract_petct(ct, pet, mask, fusion=fusion, ring_mm=args.ring_mm,
                                             core_depth_mm=args.core_mm,
                                             clip=None if args.clip == "none" else args.clip, images=images,
                                             presets=presets, case_id=args.id), bar)
    finally:
        bar.close()
    prov = table.attrs["provenance"]
    if args.output:
        save_table(table, args.output)
        counts = ", ".join(f"{k} {v}" for k, v in prov["vois"].items())
        print(f"wrote {args.output}: {table.shape[1]} features ({len(images)} image(s) x 4 VOIs; voxels: {counts})")
    else:
        table.to_csv(sys.stdout)
    return 0
