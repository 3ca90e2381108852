"""``radgui train CONFIG --out DIR``: train, validate, and write bundle + report + metrics."""

from __future__ import annotations

import sys

NAME = "train"
HELP = ("Train and validate a model from a YAML config; write model.radgui-model, report.pdf, metrics.json "
        "and manifest.json.")


def add_arguments(parser):
    parser.add_argument("config", help="training config (YAML; see examples/train/config.yaml)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--jobs", type=int, default=None, help="parallel jobs for validation (overrides the config)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from radgui.files import check_writable
    from radgui.model.config import load_config
    from radgui.model.train import iter_train
    from radgui.progress import run as run_steps
    from radgui.report.model_report import report_from_training

    config = load_config(args.config)
    if args.jobs is not None:
        config.validation["n_jobs"] = args.jobs
    check_writable(args.out)  # fail now, not after the training
    last = [None]

    def show(step):
        if args.quiet or step.message == last[0]:
            return
        last[0] = step.message
        frac = step.fraction
        pct = f"{100 * frac:5.1f}% " if frac is not None else "       "
        print(f"\r{pct}{step.message[:90]:<90}", end="", file=sys.stderr, flush=True)

    result = run_steps(iter_train(config), show)
    if not args.quiet:
        print(file=sys.stderr)
    bundle, pdf, metrics = report_from_training(result, args.out)
    written = [bundle, pdf, metrics]
    if result.prediction_table is not None:
        written.append(bundle.with_name("predictions.csv"))
    print(summary_line(result.metrics))
    for p in written:
        print(f"wrote {p}")
    print(f"wrote {bundle.with_name('manifest.json')}")
    return 0


def summary_line(m: dict) -> str:
    """The final model's validated AUC with its CI, the apparent one beside it; C-index for survival models.

    Separation and convergence warnings follow, one per line, starting with
    ``warning:``.
    """
    test = m["cohort"]["test_cohort"]
    if "models" in m and m["models"]:
        h = m.get("headline")
        if h is None:  # metrics written before headlines existed
            comb = m["models"][test or "train"]["combined"]
            h = {"auc": comb["auc"], "ci_low": comb["auc_ci_low"], "ci_high": comb["auc_ci_high"],
                 "label": test or "training", "apparent_auc": m["models"]["train"]["combined"]["auc"]}

        def f(v):
            return "NA" if v is None or v != v else f"{v:.3f}"

        line = (f"combined model AUC ({h['label']}): {f(h['auc'])} [{f(h.get('ci_low'))}, {f(h.get('ci_high'))}]; "
                f"apparent (training, optimistic): {f(h.get('apparent_auc'))}")
        if h.get("validated") is False:
            line = "warning: no validation ran, this AUC is the apparent one; " + line
        lines = [line]
        comp = m.get("comparison")
        if comp:  # a multi-model run: one line per model, validated AUCs only
            lines.insert(0, f"final model: {comp['final']} ({comp['final_reason']})")
            validated = [c for c in comp["cohorts"] if c != "train"]
            for mm in comp["models"]:
                lines.append(f"model {mm['name']}: " + "; ".join(
                    f"{c} AUC {f(comp['cohorts'][c]['models'][mm['name']]['auc'])}" for c in validated))
        return "\n".join(lines + [f"warning: {w}" for w in m.get("warnings", [])])
    s = m["survival"][test or "train"]
    return f"Cox model C-index ({test or 'training'}): {s['c_index_linear_predictor']:.3f}"
