"""Train and report as one engine step: what the Train dock runs (and ``radgui train`` prints).

:func:`iter_train_and_report` trains a config (yielding progress), then writes
the bundle, the PDF report, the metrics and the manifest through
:func:`radgui.report.model_report.report_from_training`; :func:`summary_line`
is the one-line result both the dock and the CLI show. :func:`apply_form`
writes the Train dock's form values into a config mapping (the rules of which
keys a split method or learner keeps live here, not in the widget), and
:func:`read_config_file` / :func:`write_config_file` are its YAML file I/O.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

from radgui.progress import Step

#: Keys each split method keeps; the others are config errors once the method changes.
SPLIT_KEYS = {"holdout": {"method", "test_fraction"}, "external": {"method", "features", "clinical"}}


def iter_train_and_report(config, out_dir) -> Generator[Step, None, tuple[Any, list[Path]]]:
    """Train (yielding progress), then write bundle, report and metrics.

    Returns
    -------
    (TrainResult, list of Path)
        The training result and the files written: bundle, report, metrics
        (then ``predictions.csv`` when the run has out-of-fold predictions).
    """
    from radgui.model.train import iter_train
    from radgui.report.model_report import report_from_training

    result = yield from iter_train(config)
    yield Step(0, None, "writing the report")
    files = list(report_from_training(result, out_dir))
    if getattr(result, "prediction_table", None) is not None:
        files.append(files[0].with_name("predictions.csv"))
    return result, files


def summary_line(m: dict) -> str:
    """The final model's validated AUC with its CI, the apparent one beside it; C-index for survival models.

    Separation and convergence warnings follow, one per line, starting with
    ``warning:``.

    Examples
    --------
    >>> summary_line({"cohort": {"test_cohort": None},
    ...               "survival": {"train": {"c_index_linear_predictor": 0.712}}})
    'Cox model C-index (training): 0.712'
    """
    test = m["cohort"]["test_cohort"]
    if "models" in m and m["models"]:
        h = m.get("headline")
        if h is None:  # metrics written before headlines existed
            comb = m["models"][test or "train"]["combined"]
            h = {"auc": comb["auc"], "ci_low": comb["auc_ci_low"], "ci_high": comb["auc_ci_high"],
                 "label": test or "training", "apparent_auc": m["models"]["train"]["combined"]["auc"]}

        line = (f"combined model AUC ({h['label']}): {_num(h['auc'])} [{_num(h.get('ci_low'))}, "
                f"{_num(h.get('ci_high'))}]; apparent (training, optimistic): {_num(h.get('apparent_auc'))}")
        if h.get("validated") is False:
            line = "warning: no validation ran, this AUC is the apparent one; " + line
        lines = _comparison_lines(m.get("comparison"), "auc", "AUC", [line])
        return "\n".join(lines + [f"warning: {w}" for w in m.get("warnings", [])])
    s = m["survival"][test or "train"]
    comp = m.get("comparison")
    lines = _comparison_lines(comp if comp and "endpoint" in comp else None, "c_index", "C-index",
                              [f"Cox model C-index ({test or 'training'}): {s['c_index_linear_predictor']:.3f}"])
    return "\n".join(lines + [f"warning: {w}" for w in m.get("warnings", [])])


def _comparison_lines(comp, key: str, name: str, lines: list[str]) -> list[str]:
    """``lines`` with a multi-model run's final model first and one line per model after (validated cohorts only)."""
    if not comp:
        return lines
    validated = [c for c in comp["cohorts"] if c != "train"]
    ext = {c for c in validated if comp["cohorts"][c].get("external")}
    out = [f"final model: {comp['final']} ({comp['final_reason']})", *lines,
           *(f"model {mm['name']}: " + "; ".join(
               f"{'external ' if c in ext else ''}{c} {name} {_num(comp['cohorts'][c]['models'][mm['name']].get(key))}"
               for c in validated)
             for mm in comp["models"])]
    for c, pairs in (comp.get("pairwise") or {}).items():  # survival studies: the final model against each other one
        for pair in pairs.values():
            if comp["final"] not in (pair["old"], pair["new"]) or "diff" not in pair["c_index"]:
                continue
            d, sign = pair["c_index"], (1 if pair["new"] == comp["final"] else -1)
            other = pair["old"] if sign == 1 else pair["new"]
            lo, hi = sorted((sign * d["ci_low"], sign * d["ci_high"]))
            out.append(f"{comp['final']} vs {other}, {'external ' if c in ext else ''}{c}: delta {name} "
                       f"{sign * d['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}], paired bootstrap p {d['p_value']:.3f}")
    return out


def _num(v) -> str:
    return "NA" if v is None or v != v else f"{v:.3f}"


def result_message(metrics: dict, files) -> str:
    """What the Train dock shows after a run: the summary line (capitalised) and one ``wrote`` line per file."""
    line = summary_line(metrics)
    return line[0].upper() + line[1:] + "\n" + "\n".join(f"wrote {p}" for p in files)


def apply_form(doc: Mapping, form: Mapping[str, Any]) -> dict:
    """Write the Train dock's form values into a config mapping (a new dict; ``doc`` is not changed).

    ``form`` holds ``name``, ``features``, ``clinical``, ``outcome``,
    ``positive``, ``center`` (text), ``split`` (method), ``test_fraction``,
    ``steps`` (step name -> checked; steps not named are kept as they are), ``learner``, ``lasso_rule``,
    ``repeats``, ``folds``, ``bootstrap``, ``n_jobs`` and ``seed``. Keys the
    chosen split method or learner does not use are dropped (they would be
    config errors); an empty clinical table or center removes the key.

    Examples
    --------
    >>> doc = apply_form({"split": {"method": "holdout", "test_fraction": 0.3}},
    ...                  {"split": "none", "steps": {"zscore": True}, "learner": "lasso", "positive": "1"})
    >>> doc["split"], doc["steps"], doc["outcome"]["positive"]
    ({'method': 'none'}, {'zscore': {}}, 1)
    """
    from radgui.model.config import LEARNER_KEYS

    doc = dict(doc)
    doc["name"] = str(form.get("name", "")).strip() or "radiomics model"
    doc["features"] = str(form.get("features", "")).strip()
    for key in ("clinical", "center"):
        text = str(form.get(key) or "").strip()
        if text:
            doc[key] = text
        else:
            doc.pop(key, None)
    outcome = dict(doc.get("outcome") or {})
    outcome["column"] = str(form.get("outcome", "")).strip()
    pos = str(form.get("positive", "")).strip()
    outcome["positive"] = int(pos) if pos.lstrip("-").isdigit() else pos
    doc["outcome"] = outcome
    split = dict(doc.get("split") or {})
    split["method"] = form.get("split", split.get("method", "holdout"))
    if split["method"] == "holdout" and form.get("test_fraction") is not None:
        split["test_fraction"] = round(float(form["test_fraction"]), 3)
    doc["split"] = {k: v for k, v in split.items() if k in SPLIT_KEYS.get(split["method"], {"method"})}
    steps = dict(doc.get("steps") or {})
    for name, checked in dict(form.get("steps") or {}).items():
        if checked:
            steps[name] = steps.get(name) or {}
        else:
            steps.pop(name, None)
    if "lasso" in steps and form.get("lasso_rule"):
        steps["lasso"] = {**steps["lasso"], "rule": form["lasso_rule"]}
    doc["steps"] = steps
    learner = dict(doc.get("learner") or {})
    learner["name"] = form.get("learner", learner.get("name", "lasso"))
    doc["learner"] = {k: v for k, v in learner.items()
                      if k == "name" or k in LEARNER_KEYS.get(learner["name"], ())}
    validation = dict(doc.get("validation") or {})
    for key in ("repeats", "folds", "bootstrap", "n_jobs"):
        if form.get(key) is not None:
            validation[key] = int(form[key])
    doc["validation"] = validation
    if form.get("seed") is not None:
        doc["seed"] = int(form["seed"])
    return doc


def read_config_file(path) -> dict:
    """A training config mapping from a YAML file (bounded parser); a :class:`RadguiError` names the file.

    The mapping is what the Train dock shows; :func:`radgui.model.config.config_from_dict`
    validates it when training starts.
    """
    from radgui.errors import ConfigError
    from radgui.untrusted import load_yaml_file

    path = Path(path)
    doc = load_yaml_file(path)  # UntrustedInputError (a RadguiError) names the file
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    return doc


def read_config_text(text: str, source: str = "the YAML editor") -> dict:
    """A training config mapping from YAML text (bounded parser); :class:`ConfigError` naming ``source``."""
    from radgui.errors import ConfigError, UntrustedInputError
    from radgui.untrusted import load_yaml

    try:
        doc = load_yaml(text, source=source) or {}
    except UntrustedInputError as exc:
        raise ConfigError(exc.reason, source) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{source} must hold a mapping of keys to values")
    return doc


def config_yaml(doc: Mapping) -> str:
    """The YAML text of a config mapping (key order kept), as the dock's editor and saved files show it."""
    import yaml

    return yaml.safe_dump(dict(doc), sort_keys=False)


def write_config_file(path, doc: Mapping) -> Path:
    """Write a config mapping as YAML (atomically, :func:`radgui.files.write_text`); returns the path."""
    from radgui.files import write_text

    path = Path(path)
    write_text(path, config_yaml(doc))
    return path
