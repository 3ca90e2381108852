"""Hostile ``estimator.skops`` payloads: forged FunctionNode / PartialNode / MethodNode nodes, old
protocols and corrupted native (XGBoost) bytes must end in ``BundleError`` with nothing run."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pandas as pd
import pytest

from radgui.errors import BundleError
from radgui.model.bundle import ESTIMATOR_FILE, ModelBundle, Predictor

FEATS = ["original_firstorder_Mean", "original_glcm_Idm", "original_shape_Sphericity"]


def _train(name: str):
    from radgui.model.learners import deployable, make_learner

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(80, len(FEATS))), columns=FEATS)
    y = (X[FEATS[0]] + rng.normal(size=80) > 0).astype(int)
    model = make_learner({"name": name, "tune": {"n_iter": 0}}, seed=0).fit(X, y)
    return deployable(model), X


def _bundle(estimator) -> ModelBundle:
    preds = [Predictor(name=f, source="radiomics") for f in FEATS]
    return ModelBundle(name="rf", model_kind="skops", outcome={"name": "y", "type": "binary", "positive": "1"},
                       predictors=preds, estimator=estimator, estimator_features=list(FEATS), provenance={})


@pytest.fixture(scope="module")
def rf_bundle(tmp_path_factory):
    est, X = _train("rf")
    path = _bundle(est).save(tmp_path_factory.mktemp("rf") / "rf.radgui-model")
    return path, est, X


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return path


def _edit_skops(skops: bytes, edit) -> bytes:
    """Rewrite ``schema.json`` of a skops payload with ``edit(schema)``; other members unchanged."""
    src = zipfile.ZipFile(io.BytesIO(skops))
    schema = json.loads(src.read("schema.json"))
    edit(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            data = json.dumps(schema).encode() if info.filename == "schema.json" else src.read(info.filename)
            zf.writestr(info.filename, data)
    return out.getvalue()


def _json(value):
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _inject_dict_attribute(schema, key: str, key_type: dict):
    """Add to the root estimator an attribute ``forged_`` = {key: 1} whose key type is ``key_type``.

    skops builds the dict as ``{key_type(key): 1}``, so ``key_type`` is *called* with ``key``.
    """
    forged = {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
              "content": {key: _json(1)},
              "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                            "content": [key_type]}}
    attrs = schema["content"]
    attrs["content"]["forged_"] = forged
    attrs["key_types"]["content"].append({"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"})


def _inject_attribute(schema, node: dict):
    """Add ``node`` as the value of a new attribute ``forged_`` of the root estimator."""
    attrs = schema["content"]
    attrs["content"]["forged_"] = node
    attrs["key_types"]["content"].append({"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"})


def _forged_bundle(rf_bundle, tmp_path, key: str, key_type: dict, protocol: int | None = None):
    path, _, _ = rf_bundle
    members = _members(path)

    def edit(schema):
        _inject_dict_attribute(schema, key, key_type)
        if protocol is not None:
            schema["protocol"] = protocol

    members[ESTIMATOR_FILE] = _edit_skops(members[ESTIMATOR_FILE], edit)
    return _write(tmp_path / "forged.radgui-model", members)


def _os_system_v0():
    # protocol-0 FunctionNode: the function comes from content.module_path/function, not from
    # __module__/__class__ (which claim a harmless builtins.dict)
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "FunctionNode",
            "content": {"module_path": "os", "function": "system"}}


def test_genuine_rf_bundle_loads_and_predicts_identically(rf_bundle):
    path, est, X = rf_bundle
    loaded = ModelBundle.load(path)
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X), est.predict_proba(X))


def test_forged_function_node_is_refused_and_runs_nothing(rf_bundle, tmp_path):
    marker = tmp_path / "pwned-function"
    bad = _forged_bundle(rf_bundle, tmp_path, f"touch {marker}", _os_system_v0(), protocol=0)
    with pytest.raises(BundleError, match="estimator.skops"):
        ModelBundle.load(bad)
    assert not marker.exists()


def test_forged_partial_node_is_refused_and_runs_nothing(rf_bundle, tmp_path):
    marker = tmp_path / "pwned-partial"
    partial = {"__class__": "dict", "__module__": "builtins", "__loader__": "PartialNode",
               "content": {"func": _os_system_v0(),
                           "args": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                                    "content": []},
                           "kwds": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                                    "content": {}, "key_types": {"__class__": "list", "__module__": "builtins",
                                                                 "__loader__": "ListNode", "content": []}},
                           "namespace": _json(None)}}
    bad = _forged_bundle(rf_bundle, tmp_path, f"touch {marker}", partial, protocol=0)
    with pytest.raises(BundleError, match="estimator.skops"):
        ModelBundle.load(bad)
    assert not marker.exists()


def test_forged_method_node_is_refused_and_overwrites_nothing(rf_bundle, tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    path, _, _ = rf_bundle
    with zipfile.ZipFile(io.BytesIO(_members(path)[ESTIMATOR_FILE])) as zf:
        npy = next(n for n in zf.namelist() if n.endswith(".npy"))
    # ndarray.tofile bound to an array of the payload, called with the dict key (a path)
    method = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "MethodNode",
              "content": {"func": "tofile",
                          "obj": {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode",
                                  "type": "numpy", "file": npy}}}
    bad = _forged_bundle(rf_bundle, tmp_path, str(victim), method)
    with pytest.raises(BundleError, match="estimator.skops"):
        ModelBundle.load(bad)
    assert victim.read_text() == "keep me"


def test_each_node_kind_is_refused_by_name_at_the_current_protocol(rf_bundle, tmp_path):
    """The allowlist names the node kind even when the protocol check would not catch it."""
    from radgui.model.bundle import _check_skops_schema

    path, _, _ = rf_bundle
    skops = _members(path)[ESTIMATOR_FILE]
    for loader in ("FunctionNode", "PartialNode", "MethodNode", "OperatorFuncNode", "ReduceNode"):
        node = {"__class__": "dict", "__module__": "builtins", "__loader__": loader, "content": {}}
        forged = _edit_skops(skops, lambda s: _inject_attribute(s, node))
        schema = json.loads(zipfile.ZipFile(io.BytesIO(forged)).read("schema.json"))
        with pytest.raises(BundleError, match=f"{loader}"):
            _check_skops_schema(schema, None)


def test_old_protocol_is_refused(rf_bundle, tmp_path):
    path, _, _ = rf_bundle
    members = _members(path)
    members[ESTIMATOR_FILE] = _edit_skops(members[ESTIMATOR_FILE], lambda s: s.update(protocol=1))
    with pytest.raises(BundleError, match="protocol 1"):
        ModelBundle.load(_write(tmp_path / "p1.radgui-model", members))


def test_dict_key_type_outside_the_allowlist_is_refused(rf_bundle, tmp_path):
    """A TypeNode key type naming a trusted *class* (numpy.ndarray) is still not a key type."""
    node = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "TypeNode"}
    bad = _forged_bundle(rf_bundle, tmp_path, "k", node)
    with pytest.raises(BundleError, match="key type"):
        ModelBundle.load(bad)


def test_corrupted_xgboost_bytes_never_kill_the_process(tmp_path):
    """Random byte flips in the booster payload: the loader may refuse, never crash this process."""
    est, X = _train("xgboost")
    path = _bundle(est).save(tmp_path / "xgb.radgui-model")
    loaded = ModelBundle.load(path)
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X), est.predict_proba(X))
    members = _members(path)
    src = zipfile.ZipFile(io.BytesIO(members[ESTIMATOR_FILE]))
    binname = next(n for n in src.namelist() if n.endswith(".bin"))
    booster = bytearray(src.read(binname))
    rng = np.random.default_rng(11)
    outcomes = []
    for i in range(4):
        mutated = bytearray(booster)
        for pos in rng.integers(0, len(mutated), size=40):
            mutated[pos] = int(rng.integers(0, 256))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for info in src.infolist():
                zf.writestr(info.filename, bytes(mutated) if info.filename == binname else src.read(info.filename))
        members[ESTIMATOR_FILE] = out.getvalue()
        try:
            b = ModelBundle.load(_write(tmp_path / f"m{i}.radgui-model", members))
            outcomes.append(np.isfinite(b.estimator.predict_proba(X)).all())
        except BundleError as exc:
            assert str(exc).count("\n") == 0
            outcomes.append("refused")
    assert os.getpid() > 0 and len(outcomes) == 4  # still alive
    assert "refused" in outcomes


def test_child_crash_becomes_bundle_error(monkeypatch, rf_bundle, tmp_path):
    """A payload that kills the loader child (SIGSEGV) is a one-line BundleError here."""
    import radgui.model.bundle as mb

    path, _, _ = rf_bundle
    members = _members(path)
    # a distinct payload (new hash) so the probe cache does not answer
    members[ESTIMATOR_FILE] = _edit_skops(members[ESTIMATOR_FILE], lambda s: _inject_attribute(s, _json("x")))
    monkeypatch.setattr(mb, "_CHILD_CODE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(BundleError, match="crashed"):
        ModelBundle.load(_write(tmp_path / "seg.radgui-model", members))


def test_xgboost_tree_with_out_of_range_child_is_refused(tmp_path):
    """XGBoost itself accepts a tree whose child index points past its node array."""
    import xgboost as xgb

    est, X = _train("xgboost")
    doc = json.loads(bytes(est.get_booster().save_raw("json")))
    tree = doc["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["left_children"][0] = 10_000
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(doc).encode()))  # accepted by XGBoost
    est._Booster = booster
    members = _members(_bundle(_train("xgboost")[0]).save(tmp_path / "ok.radgui-model"))
    import skops.io as sio

    members[ESTIMATOR_FILE] = sio.dumps(est)
    with pytest.raises(BundleError, match="child indices out of range|crashed"):
        ModelBundle.load(_write(tmp_path / "bad-tree.radgui-model", members))


def test_sklearn_tree_with_out_of_range_child_is_refused(rf_bundle, tmp_path):
    import copy

    import skops.io as sio

    path, est, _ = rf_bundle
    bad = copy.deepcopy(est)
    state = bad.estimators_[0].tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10_000
    state["nodes"] = nodes
    bad.estimators_[0].tree_.__setstate__(state)
    members = _members(path)
    members[ESTIMATOR_FILE] = sio.dumps(bad)
    with pytest.raises(BundleError, match="child indices out of range|crashed"):
        ModelBundle.load(_write(tmp_path / "bad-sk.radgui-model", members))


def _with_inner(skops: bytes, extra: dict, compression=zipfile.ZIP_DEFLATED, schema: bytes | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(skops))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as zf:
        for info in src.infolist():
            data = schema if (schema is not None and info.filename == "schema.json") else src.read(info.filename)
            zf.writestr(info.filename, data)
        for name, data in extra.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_inner_skops_bomb_and_deep_schema_are_refused_before_skops_reads_them(rf_bundle, tmp_path):
    path, _, _ = rf_bundle
    members = _members(path)
    members[ESTIMATOR_FILE] = _with_inner(members[ESTIMATOR_FILE], {"zeros.npy": b"\0" * (8 * 1024 * 1024)})
    with pytest.raises(BundleError, match="member 'zeros.npy' inflates .* times"):
        ModelBundle.load(_write(tmp_path / "inner-bomb.radgui-model", members))
    members = _members(path)
    deep = b'{"protocol": 2, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    members[ESTIMATOR_FILE] = _with_inner(members[ESTIMATOR_FILE], {}, schema=deep)
    with pytest.raises(BundleError, match="schema.json not valid JSON .*nested deeper than 200"):
        ModelBundle.load(_write(tmp_path / "inner-deep.radgui-model", members))
