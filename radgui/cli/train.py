"""``radgui train CONFIG --out DIR``: train, validate, and write bundle + report + metrics."""

from __future__ import annotations

import sys

from radgui.report.workflow import summary_line  # the engine's; re-exported for callers of radgui.cli.train

NAME = "train"
HELP = ("Train and validate a model from a YAML config; write model.radgui-model, report.pdf, metrics.json "
        "and manifest.json.")


def add_arguments(parser):
    parser.add_argument("config", help="training config (YAML; see examples/train/config.yaml)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--jobs", type=int, default=None, help="parallel jobs for validation (overrides the config)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run cross-validation and bootstrap on a Dask distributed scheduler, e.g. "
                             "tcp://10.0.0.5:8786 (radgui[cluster]); results equal the local run's")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from radgui.files import check_writable
    from radgui.model.config import load_config
    from radgui.report.workflow import iter_train_and_report
    from radgui.progress import run as run_steps

    config = load_config(args.config)
    if args.jobs is not None:
        config.validation["n_jobs"] = args.jobs
    if args.scheduler:
        from radgui.model.validation import dask_client

        with dask_client(args.scheduler):  # fail now, in one line, not after reading every table
            pass
        config.validation["scheduler"] = args.scheduler
    check_writable(args.out)  # fail now, not after the training
    last = [None]

    def show(step):
        if args.quiet or step.message == last[0]:
            return
        last[0] = step.message
        frac = step.fraction
        pct = f"{100 * frac:5.1f}% " if frac is not None else "       "
        print(f"\r{pct}{step.message[:90]:<90}", end="", file=sys.stderr, flush=True)

    result, written = run_steps(iter_train_and_report(config, args.out), show)  # the Train dock's function too
    if not args.quiet:
        print(file=sys.stderr)
    print(summary_line(result.metrics))
    for p in written:
        print(f"wrote {p}")
    print(f"wrote {written[0].with_name('manifest.json')}")
    return 0

