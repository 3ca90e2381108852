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
    print(summary_line(result.metrics))
    for p in (bundle, pdf, metrics):
        print(f"wrote {p}")
    print(f"wrote {bundle.with_name('manifest.json')}")
    return 0


def summary_line(m: dict) -> str:
    """One line: the final model's held-out (or training) AUC, or C-index for survival models."""
    test = m["cohort"]["test_cohort"]
    if "models" in m and m["models"]:
        comb = m["models"][test or "train"]["combined"]
        return (f"combined model AUC ({test or 'training'}): {comb['auc']:.3f} "
                f"[{comb['auc_ci_low']:.3f}, {comb['auc_ci_high']:.3f}]")
    s = m["survival"][test or "train"]
    return f"Cox model C-index ({test or 'training'}): {s['c_index_linear_predictor']:.3f}"
