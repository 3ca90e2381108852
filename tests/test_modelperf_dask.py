"""Issue 20 item 2: validation on a Dask cluster gives the local run's results; XGBoost device choice."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from radgui.errors import RadguiError, SchedulerError
from radgui.model import learners, validation
from radgui.model.learners import build_pipeline

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded in-process workers: a real scheduler and task graph, no process start-up cost."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as c:
        with distributed.Client(c, set_as_default=False) as client:
            yield client


def _cohort(n=60, p=12, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"original_firstorder_F{i}" for i in range(p)])
    y = (X.iloc[:, 0] - 0.7 * X.iloc[:, 1] + rng.normal(size=n) > 0).astype(int).to_numpy()
    return X, y


def _on_cluster(client, fn):
    """Run ``fn``, returning its result and the number of tasks the cluster ran meanwhile."""
    with distributed.get_task_stream(client) as ts:
        out = fn()
    return out, len(ts.data)


def test_repeated_cv_on_dask_equals_local(cluster):
    X, y = _cohort()
    pipe = build_pipeline({"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 12}}, {"name": "lasso"}, seed=0)
    local = validation.repeated_cv(pipe, X, y, repeats=2, folds=3, seed=5)
    two = validation.repeated_cv(pipe, X, y, repeats=2, folds=3, seed=5, n_jobs=2)
    dask, ran = _on_cluster(cluster, lambda: validation.repeated_cv(pipe, X, y, repeats=2, folds=3, seed=5,
                                                                   scheduler=cluster.scheduler.address))
    assert ran > 0  # the folds really ran on the cluster
    assert np.array_equal(dask.predictions, local.predictions)
    assert np.array_equal(two.predictions, local.predictions)
    assert np.array_equal(dask.fold_ids, local.fold_ids) and dask.auc == local.auc


def test_bootstrap_optimism_on_dask_equals_local(cluster):
    X, y = _cohort(seed=1)
    pipe = build_pipeline({"zscore": {}}, {"name": "logistic"}, seed=0)
    local = validation.bootstrap_optimism(pipe, X, y, n_boot=8, seed=3)
    dask, ran = _on_cluster(cluster, lambda: validation.bootstrap_optimism(pipe, X, y, n_boot=8, seed=3,
                                                                           scheduler=cluster))
    assert ran > 0
    assert np.array_equal(dask.boot_auc, local.boot_auc) and np.array_equal(dask.test_auc, local.test_auc)
    assert dask.corrected == local.corrected


def test_stacking_cv_on_dask_equals_local(cluster):
    X, y = _cohort(n=60, p=6, seed=2)  # SVM + RF + XGBoost -> MLP, untuned to stay quick
    pipe = build_pipeline({"zscore": {}}, {"name": "stacking", "meta": "mlp", "tune": {"n_iter": 0},
                                           "stack_folds": 2}, seed=0)
    local = validation.repeated_cv(pipe, X, y, repeats=1, folds=2, seed=0)
    dask = validation.repeated_cv(pipe, X, y, repeats=1, folds=2, seed=0, scheduler=cluster)
    assert np.array_equal(dask.predictions, local.predictions)


def test_progress_steps_carry_the_time_left(cluster):
    X, y = _cohort()
    pipe = build_pipeline({"zscore": {}}, {"name": "logistic"}, seed=0)
    steps = []
    gen = validation.iter_repeated_cv(pipe, X, y, repeats=2, folds=3, seed=0, scheduler=cluster)
    while True:
        try:
            steps.append(next(gen))
        except StopIteration:
            break
    assert [s.done for s in steps] == list(range(7)) and {s.total for s in steps} == {6}
    assert all(" left" in s.message for s in steps[1:-1]) and " left" not in steps[-1].message
    t0 = time.monotonic() - 30.0  # 30 s for 1 of 4 units: 90 s left
    assert validation.eta_text(t0, 1, 4) == ", about 2 min left"
    assert validation.eta_text(time.monotonic() - 2.0, 1, 3) == ", about 4 s left"
    assert validation.eta_text(time.monotonic(), 0, 3) == "" and validation.eta_text(time.monotonic(), 3, 3) == ""


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "", 42])
def test_bad_scheduler_address_is_one_line_error_within_timeout(monkeypatch, address):
    monkeypatch.setattr(validation, "CONNECT_TIMEOUT_S", 1.0)
    X, y = _cohort()
    pipe = build_pipeline({"zscore": {}}, {"name": "logistic"}, seed=0)
    t0 = time.monotonic()
    with pytest.raises(SchedulerError) as err:
        validation.repeated_cv(pipe, X, y, repeats=1, folds=3, seed=0, scheduler=address)
    assert time.monotonic() - t0 < 15
    assert isinstance(err.value, RadguiError) and "\n" not in str(err.value)
    assert "scheduler" in str(err.value)


def test_cli_train_refuses_unreachable_scheduler(monkeypatch, tmp_path, capsys):
    from radgui.cli import main

    monkeypatch.setattr(validation, "CONNECT_TIMEOUT_S", 1.0)
    X, y = _cohort()
    X.insert(0, "patient_id", [f"P{i}" for i in range(len(y))])
    X["outcome"] = y
    X.to_csv(tmp_path / "features.csv", index=False)
    (tmp_path / "c.yaml").write_text("features: features.csv\noutcome: {column: outcome}\n"
                                     "validation: {repeats: 1, folds: 3, bootstrap: 0}\n")
    code = main(["train", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out"),
                 "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "tcp://127.0.0.1:9" in err[0]


def test_xgboost_device_cpu_here_and_monkeypatched(monkeypatch):
    import xgboost

    monkeypatch.delenv("RADGUI_XGBOOST_DEVICE", raising=False)
    monkeypatch.setattr(learners, "_DEVICE", [])
    if not xgboost.build_info().get("USE_CUDA"):  # the xgboost-cpu wheel: never CUDA
        assert learners._cuda_usable() is False
    monkeypatch.setattr(learners, "_cuda_usable", lambda: False)
    assert learners.xgboost_device() == "cpu"
    est = learners.make_learner({"name": "xgboost", "tune": {"n_iter": 0}}, seed=0)
    assert est.get_params()["device"] == "cpu"
    monkeypatch.setattr(learners, "_DEVICE", [])
    monkeypatch.setattr(learners, "_cuda_usable", lambda: True)
    assert learners.xgboost_device() == "cuda"
    assert learners.make_learner({"name": "xgboost", "tune": {"n_iter": 0}}, seed=0).get_params()["device"] == "cuda"
    prov = learners.compute_provenance({"name": "stacking"})["compute"]
    assert prov["xgboost_device"] == "cuda" and prov["xgboost"] == xgboost.__version__
    assert learners.compute_provenance({"name": "lasso"}) == {}
    monkeypatch.setenv("RADGUI_XGBOOST_DEVICE", "cpu")
    assert learners.xgboost_device() == "cpu"
    monkeypatch.setenv("RADGUI_XGBOOST_DEVICE", "tpu")
    with pytest.raises(RadguiError, match="RADGUI_XGBOOST_DEVICE"):
        learners.xgboost_device()


def test_deployable_moves_a_gpu_xgboost_to_cpu():
    from xgboost import XGBClassifier

    X, y = _cohort(n=30, p=3)
    m = XGBClassifier(n_estimators=3, device="cpu", verbosity=0).fit(X, y)
    m.set_params(device="cuda")  # as if trained on a GPU (params only: nothing runs on it here)
    out = learners.deployable(m)
    assert out.get_params()["device"] == "cpu" and m.get_params()["device"] == "cuda"
    np.testing.assert_array_equal(out.predict_proba(X), XGBClassifier(n_estimators=3, verbosity=0).fit(X, y)
                                  .predict_proba(X))


def test_cli_train_on_a_cluster_records_the_xgboost_device(cluster, tmp_path, capsys, monkeypatch):
    """``radgui train --scheduler``: the run uses the cluster, and the bundle says where XGBoost trained."""
    from radgui.cli import main
    from radgui.model.bundle import ModelBundle

    monkeypatch.delenv("RADGUI_XGBOOST_DEVICE", raising=False)
    X, y = _cohort(n=60, p=4, seed=3)
    X.insert(0, "patient_id", [f"P{i}" for i in range(len(y))])
    X["outcome"] = y
    X.to_csv(tmp_path / "features.csv", index=False)
    (tmp_path / "c.yaml").write_text("features: features.csv\noutcome: {column: outcome}\nsplit: {method: none}\n"
                                     "steps: {zscore: {}}\nlearner: {name: xgboost, tune: {n_iter: 0}}\n"
                                     "validation: {repeats: 1, folds: 3, bootstrap: 2}\n")
    with distributed.get_task_stream(cluster) as ts:
        code = main(["train", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out"),
                     "--scheduler", cluster.scheduler.address, "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert len(ts.data) > 0
    prov = ModelBundle.load(tmp_path / "out" / "model.radgui-model").provenance
    assert prov["compute"]["xgboost_device"] == learners.xgboost_device()
