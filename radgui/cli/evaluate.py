"""``radgui evaluate BUNDLE FEATURES``: validate a model bundle on a new cohort."""

from __future__ import annotations

NAME = "evaluate"
HELP = "Validate a model bundle on a new cohort; write report.pdf, predictions.csv, metrics.json and manifest.json."


def add_arguments(parser):
    parser.add_argument("bundle", help="model bundle (*.radgui-model)")
    parser.add_argument("cohort", help="feature table (CSV: patient id + feature columns; may also hold clinical "
                                       "columns and the outcome)")
    parser.add_argument("--clinical", help="clinical table (CSV with the same patient id column)")
    parser.add_argument("--outcome", help="outcome column (binary; required for a logistic or skops bundle, "
                                          "refused for a Cox bundle)")
    parser.add_argument("--positive", default=None, help="value of the outcome column meaning 'event' (default 1)")
    parser.add_argument("--time", help="survival time column (required for a Cox bundle; with a binary bundle it "
                                       "adds Kaplan-Meier by risk group)")
    parser.add_argument("--event", help="survival event column (1 = event, 0 = censored)")
    parser.add_argument("--id-column", default="patient_id")
    parser.add_argument("--out", required=True, help="output folder")


def run(args) -> int:
    from pathlib import Path

    import pandas as pd

    from radgui.errors import ConfigError, InputFileError
    from radgui.files import check_writable, output_set, write_csv, write_text
    from radgui.model.bundle import ModelBundle
    from radgui.model.train import evaluate_bundle
    from radgui.report.model_report import to_json, write_report

    bundle = ModelBundle.load(args.bundle)
    out = check_writable(args.out)  # fail now, not after the validation

    def read(path, what):
        p = Path(path)
        if not p.is_file():
            raise InputFileError(f"{what} table not found", p)
        t = pd.read_csv(p)
        if args.id_column not in t.columns:
            raise ConfigError(f"id column '{args.id_column}' is missing", p)
        t[args.id_column] = t[args.id_column].astype(str)
        return t.set_index(args.id_column)

    feats = read(args.cohort, "feature")
    clin = read(args.clinical, "clinical").reindex(feats.index) if args.clinical else feats
    table = clin if args.clinical else feats
    if bundle.model_kind == "cox":
        return _run_survival(args, bundle, feats, clin, table)
    if args.outcome is None:
        raise ConfigError(f"a {bundle.model_kind} bundle is evaluated against a binary outcome: give --outcome "
                          "COLUMN (and --positive VALUE when the event is not 1)")
    args.positive = "1" if args.positive is None else args.positive
    for col in [args.outcome] + [c for c in (args.time, args.event) if c]:
        if col not in table.columns:
            raise ConfigError(f"column '{col}' is not in the {'clinical' if args.clinical else 'feature'} table",
                              args.clinical or args.cohort)
    if (args.time is None) != (args.event is None):
        raise ConfigError("--time and --event go together")
    y = (table[args.outcome].astype(str).str.replace(r"\.0$", "", regex=True) == str(args.positive)).astype(int)
    if y.nunique() != 2:
        raise ConfigError(f"outcome '{args.outcome}' has no patient with value {args.positive!r} or none without it",
                          args.clinical or args.cohort)
    frame, metrics = evaluate_bundle(bundle, feats, clin, y,
                                     table[args.time] if args.time else None, table[args.event] if args.event else None)
    m = metrics["models"]["external"]["model"]
    summary = [f"Model: {bundle.name} ({bundle.model_kind}); intended use: {bundle.intended_use}",
               f"Validation cohort: {args.cohort} with {len(frame)} patients ({int(frame['y'].sum())} events). "
               f"AUC {m['auc']:.3f} (95% CI {m['auc_ci_low']:.3f}-{m['auc_ci_high']:.3f}, DeLong); calibration slope "
               f"{m['calibration']['slope']:.2f}, intercept {m['calibration']['intercept']:.2f}, Brier "
               f"{m['calibration']['brier']:.3f}. Metrics at the bundle's cutoff ({metrics['cutoff']['value']:.3f}, "
               f"{metrics['cutoff']['method']}) are on the confusion-matrix page."]
    with output_set(out) as outputs:  # report, predictions, metrics, then manifest.json: all or none
        write_report(outputs.path("report.pdf"), title=f"External validation: {bundle.name}", summary=summary,
                     metrics=metrics, predictions={"external": frame}, models=["model"],
                     cutoff=metrics["cutoff"]["value"], bundle=bundle, survival=args.time is not None,
                     time_unit=bundle.provenance.get("reference_cohort", {}).get("time_unit", ""))
        write_csv(outputs.path("predictions.csv"), frame)
        write_text(outputs.path("metrics.json"), to_json(metrics))
    print(f"AUC {m['auc']:.3f} [{m['auc_ci_low']:.3f}, {m['auc_ci_high']:.3f}] on {len(frame)} patients")
    for name in ("report.pdf", "metrics.json", "predictions.csv", "manifest.json"):
        print(f"wrote {out / name}")
    return 0


def _run_survival(args, bundle, feats, clin, table) -> int:
    """A Cox bundle: C-index, time-dependent AUC, calibration at the horizon and K-M by risk group."""
    from pathlib import Path

    from radgui.errors import ConfigError
    from radgui.files import write_csv, write_text
    from radgui.model.train_survival import evaluate_survival_bundle
    from radgui.report.model_report import to_json
    from radgui.report.survival_report import write_survival_evaluation_report

    where = args.clinical or args.cohort
    if args.outcome is not None or args.positive is not None:
        raise ConfigError(f"bundle '{bundle.name}' is a Cox survival model: it is evaluated on --time and --event "
                          "(censoring respected), not on a binary --outcome/--positive; remove them")
    if args.time is None or args.event is None:
        raise ConfigError(f"bundle '{bundle.name}' is a Cox survival model: give --time COLUMN and --event COLUMN "
                          "(1 = event, 0 = censored)")
    for col in (args.time, args.event):
        if col not in table.columns:
            raise ConfigError(f"column '{col}' is not in the {'clinical' if args.clinical else 'feature'} table",
                              where)
    frame, metrics = evaluate_survival_bundle(bundle, feats, clin, table[args.time], table[args.event], where)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    td, c, cal = metrics["time_dependent"], metrics["c_index"], metrics["calibration_at_horizon"]
    unit = td["time_unit"]
    line = (f"C-index {c['harrell']:.3f} (Harrell); time-dependent AUC at {td['horizon']:g} {unit} "
            + ("NA" if td["auc"] is None else f"{td['auc']:.3f}")
            + f"; observed/expected risk at the horizon {cal['observed_expected']:.2f}; calibration slope "
            f"{cal['slope']['value']:.2f} on {len(frame)} patients ({int(frame['event'].sum())} events)")
    pdf = write_survival_evaluation_report(out / "report.pdf", bundle=bundle, frame=frame, metrics=metrics,
                                           cohort_name=str(args.cohort))
    write_csv(out / "predictions.csv", frame.drop(columns=["y"]))
    write_text(out / "metrics.json", to_json(metrics))
    print(line)
    for note in metrics["notes"]:
        print(f"note: {note}")
    for path in (pdf, out / "metrics.json", out / "predictions.csv"):
        print(f"wrote {path}")
    return 0
