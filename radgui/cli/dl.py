"""``radgui dl train|extract|synth``: deep-learning features from a 3D SE-ResNet (optional extra ``radgui[dl]``)."""

from __future__ import annotations

import sys

NAME = "dl"
HELP = ("Deep-learning features (optional extra radgui[dl]): train a 3D SE-ResNet on tumour-centred crops, "
        "extract its penultimate layer as dl_* columns.")

#: Largest outcomes CSV read.
MAX_OUTCOMES_BYTES = 50 * 1024 * 1024


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="dl_command", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="Train the network on a cohort manifest and an outcomes CSV; write "
                                     "WEIGHTS.safetensors and its WEIGHTS.json manifest.")
    t.add_argument("manifest", help="cohort manifest CSV (patient_id,image,mask[,label,...]: radgui extract's)")
    t.add_argument("--outcomes", required=True, help="CSV with patient_id and the target column(s)")
    t.add_argument("--label", help="binary target column (0/1)")
    t.add_argument("--time", dest="time_col", help="survival time column (Cox partial likelihood; with --event)")
    t.add_argument("--event", dest="event_col", help="survival event column (0/1; with --time)")
    t.add_argument("--out", required=True, help="weights file to write (NAME.safetensors; NAME.json beside it)")
    t.add_argument("--arch", default="se-resnet-small", choices=["se-resnet-small", "seresnet50"],
                   help="network (default se-resnet-small; seresnet50 is MONAI's SEResNet50, for a GPU)")
    t.add_argument("--crop-mm", type=float, default=48.0, help="crop edge in mm (default 48)")
    t.add_argument("--spacing-mm", type=float, default=2.0, help="crop voxel spacing in mm (default 2)")
    g = t.add_mutually_exclusive_group()
    g.add_argument("--window", type=float, nargs=2, metavar=("LOW", "HIGH"), default=(-1000.0, 400.0),
                   help="intensity window mapped to [0, 1] (default -1000 400 HU)")
    g.add_argument("--zscore", action="store_true", help="z-score each crop instead of a window (MR)")
    t.add_argument("--epochs", type=int, default=80, help="most epochs (default 80)")
    t.add_argument("--patience", type=int, default=25, help="early-stopping patience in epochs (default 25)")
    t.add_argument("--batch-size", type=int, default=None,
                   help="mini-batch (default 16; survival: the training set, at most 64)")
    t.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 0.003)")
    t.add_argument("--val-fraction", type=float, default=0.2, help="validation share for early stopping (0.2)")
    t.add_argument("--seed", type=int, default=0, help="seed of the split, weights and augmentations (0)")
    t.add_argument("--no-augment", action="store_true", help="no flips or intensity augmentation")
    t.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    t.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    e = sub.add_parser("extract", help="Penultimate-layer features (dl_0..dl_n) of every ROI of a manifest, or "
                                       "of one image and mask.")
    e.add_argument("weights", help="WEIGHTS.safetensors (its .json manifest beside it)")
    e.add_argument("manifest", nargs="?", help="cohort manifest CSV (or use --image and --mask)")
    e.add_argument("--image", help="one image file or DICOM folder")
    e.add_argument("--mask", help="its ROI mask")
    e.add_argument("--mask-label", type=int, default=None, help="label value of the ROI in --mask")
    e.add_argument("-o", "--output", help="features CSV (default: stdout)")
    e.add_argument("--patient-table", action="store_true",
                   help="write only patient_id and dl_* (one ROI per patient): the features file of radgui train")
    e.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    e.add_argument("--quiet", action="store_true", help="no progress output")
    s = sub.add_parser("synth", help="Write the synthetic cohort (a texture carries the outcome) as NRRD "
                                     "images, masks, manifest.csv and outcomes.csv.")
    s.add_argument("folder", help="output folder")
    s.add_argument("--n", type=int, default=40, help="patients (default 40)")
    s.add_argument("--target", choices=["binary", "survival"], default="binary", help="outcome kind")
    s.add_argument("--seed", type=int, default=0, help="seed (default 0)")


def _progress(quiet: bool):
    last = [None]

    def show(step):
        if quiet or step.message == last[0]:
            return
        last[0] = step.message
        frac = step.fraction
        pct = f"{100 * frac:5.1f}% " if frac is not None else "       "
        print(f"\r{pct}{step.message[:90]:<90}", end="", file=sys.stderr, flush=True)

    return show


def _outcomes(args, keys):
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from radgui.errors import DLInputError, InputFileError

    path = Path(args.outcomes)
    if not path.is_file():
        raise InputFileError("outcomes CSV not found", path)
    if path.stat().st_size > MAX_OUTCOMES_BYTES:
        raise InputFileError(f"outcomes CSV is larger than {MAX_OUTCOMES_BYTES:,} bytes", path)
    try:
        table = pd.read_csv(path, dtype={"patient_id": str}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read as CSV ({' '.join(str(exc).split())[:160]})", path) from None
    cols = [args.label] if args.label else [args.time_col, args.event_col]
    missing = [c for c in ["patient_id", *cols] if c not in table.columns]
    if missing:
        raise InputFileError(f"outcomes CSV lacks column(s) {', '.join(missing)}", path)
    if table["patient_id"].duplicated().any():
        raise InputFileError("outcomes CSV repeats a patient_id", path)
    table = table.set_index("patient_id")
    absent = [p for p in keys["patient_id"] if p not in table.index]
    if absent:
        raise InputFileError(f"no outcome for {len(absent)} patient(s) of the manifest (first: {absent[0]})", path)
    rows = table.loc[list(keys["patient_id"]), cols]
    try:
        values = rows.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise InputFileError(f"column(s) {', '.join(cols)} must be numbers", path) from None
    if not np.isfinite(values).all():
        raise InputFileError(f"column(s) {', '.join(cols)} have empty or non-finite values", path)
    if args.label:
        return "binary", values[:, 0], {"label": args.label}
    return "survival", (values[:, 0], values[:, 1]), {"time": args.time_col, "event": args.event_col}


def _train(args) -> int:
    from radgui.dl import ArchSpec, CropSpec, TrainConfig, iter_crop_cohort, iter_train, save_weights
    from radgui.dl._torch import require_torch
    from radgui.files import check_writable
    from radgui.progress import run as run_steps
    from pathlib import Path

    from radgui.errors import DLInputError

    if bool(args.label) == bool(args.time_col or args.event_col):
        raise DLInputError("give --label (binary) or --time and --event (survival), one of the two")
    if not args.label and not (args.time_col and args.event_col):
        raise DLInputError("a survival target needs both --time and --event")
    require_torch("monai", "safetensors.torch")
    crop = CropSpec(args.crop_mm, args.spacing_mm, None if args.zscore else tuple(args.window))
    arch = ArchSpec(name=args.arch)
    aug = {"flips": False, "intensity_shift": 0.0, "intensity_scale": 0.0} if args.no_augment else {}
    config = TrainConfig(max_epochs=args.epochs, patience=args.patience, batch_size=args.batch_size, lr=args.lr,
                         val_fraction=args.val_fraction, seed=args.seed, device=args.device, threads=args.threads,
                         **aug)
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise DLInputError(f"--out must end in .safetensors, got {out.name}")
    check_writable(out.resolve().parent)
    show = _progress(args.quiet)
    keys, crops = run_steps(iter_crop_cohort(args.manifest, crop), show)
    target, y, info = _outcomes(args, keys)
    result = run_steps(iter_train(crops, y, target, arch=arch, crop=crop, config=config, target_info=info), show)
    if not args.quiet:
        print(file=sys.stderr)
    wpath, mpath = save_weights(out, result.model)
    tr = result.model.manifest["training"]
    metric = tr["best_val_metric"]
    print(f"radgui dl train: {target}, {tr['n_train']} train / {tr['n_val']} validation patients, best epoch "
          f"{tr['best_epoch']} of {tr['epochs_run']}, validation {tr['val_metric_name']} "
          f"{'n/a' if metric is None else f'{metric:.3f}'}, {tr['device']}, {tr['seconds']:.1f} s")
    print(f"wrote {wpath}")
    print(f"wrote {mpath}")
    return 0


def _extract(args) -> int:
    import pandas as pd

    from radgui.dl import extract_roi, iter_extract_cohort, load_weights
    from radgui.errors import DLInputError
    from radgui.files import write_csv
    from radgui.progress import run as run_steps

    one = args.image or args.mask
    if bool(args.manifest) == bool(one) or (one and not (args.image and args.mask)):
        raise DLInputError("give a manifest, or --image and --mask, not both")
    if args.output:
        from pathlib import Path

        from radgui.files import check_writable

        check_writable(Path(args.output).resolve().parent)  # fail now, not after the network ran
    model = load_weights(args.weights, device=args.device)
    show = _progress(args.quiet)
    if args.manifest:
        from radgui.dl import patient_table

        table = run_steps(iter_extract_cohort(model, args.manifest, None), show)
        if args.patient_table:
            table = patient_table(table)
        if args.output:
            write_csv(args.output, table, index=False)
    else:
        from radgui.io import load_mask, load_volume

        volume = load_volume(args.image)
        mask = load_mask(args.mask, like=volume, label=args.mask_label)
        row = extract_roi(model, volume, mask)
        table = pd.DataFrame([row.to_numpy()], columns=row.index)
        table.insert(0, "image", str(args.image))
        if args.output:
            write_csv(args.output, table, index=False)
    if not args.quiet:
        print(file=sys.stderr)
    if args.output:
        print(f"radgui dl extract: {len(table)} ROI(s) x {model.arch.feature_dim} features on {model.device} "
              f"-> {args.output}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    return 0


def _synth(args) -> int:
    from radgui.dl.synthetic import write_synthetic_cohort

    manifest, outcomes = write_synthetic_cohort(args.folder, n=args.n, target=args.target, seed=args.seed)
    print(f"wrote {manifest}")
    print(f"wrote {outcomes}")
    return 0


def run(args) -> int:
    return {"train": _train, "extract": _extract, "synth": _synth}[args.dl_command](args)
