"""radgui.dl: crops in mm, the Cox loss, training that learns a texture, determinism, weights as data.

Needs the dl extra (torch, MONAI, safetensors): `make test-dl` installs it; without it these skip.
Training runs on 1 CPU thread (bit-identical reruns need a fixed thread count; it is also the fastest
on a shared 2-core machine).
"""

from __future__ import annotations

import json
import math
import pickle
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the dl extra (torch) is not installed: make test-dl")
pytest.importorskip("monai", reason="the dl extra (MONAI) is not installed: make test-dl")
pytest.importorskip("safetensors", reason="the dl extra (safetensors) is not installed: make test-dl")

from radgui.dl import (  # noqa: E402
    ArchSpec,
    CropSpec,
    TrainConfig,
    cox_nll,
    crop_roi,
    load_weights,
    save_weights,
    synthetic_crops,
    train,
)
from radgui.dl.synthetic import SMALL_CROP  # noqa: E402
from radgui.errors import DLInputError, EmptyMaskError, WeightsError  # noqa: E402
from radgui.io import volume_from_array  # noqa: E402

pytestmark = pytest.mark.dl

FAST = dict(threads=1, seed=0)


# ----------------------------------------------------------------------------- crops
def _gradient_volume(axis: int, spacing=(2.5, 0.8, 1.2), origin=(-30.0, 12.0, 5.0), shape=(24, 60, 50)):
    """Intensity = physical coordinate (mm) along ``axis`` (z, y, x): linear interpolation reproduces it exactly."""
    idx = np.indices(shape, dtype=float)[axis]
    return volume_from_array(origin[axis] + spacing[axis] * idx, spacing=spacing, origin=origin)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_crop_is_centred_on_the_roi_and_sized_in_mm(axis):
    vol = _gradient_volume(axis)
    mask = np.zeros(vol.shape, np.uint8)
    mask[10:14, 20:31, 18:25] = 1                                     # centroid index (11.5, 25, 21)
    centre_mm = np.asarray(vol.origin) + np.asarray(vol.spacing) * np.array([11.5, 25.0, 21.0])
    spec = CropSpec(size_mm=20.0, spacing_mm=2.0, window=(-1000.0, 1000.0))  # 10 voxels of 2 mm
    cube = crop_roi(vol, mask, spec)
    assert cube.shape == (10, 10, 10) and cube.dtype == np.float32
    hu = cube * 2000.0 - 1000.0                                       # undo the window
    # voxel k of the cube sits at centre + (k - 4.5) * 2 mm along every axis
    expected = centre_mm[axis] + (np.arange(10) - 4.5) * 2.0
    profile = np.moveaxis(hu, axis, 0)[:, 5, 5]
    np.testing.assert_allclose(profile, expected, atol=1e-3)
    # the other axes are constant
    assert np.ptp(np.moveaxis(hu, axis, 0)[3]) < 1e-3


def test_crop_outside_the_image_takes_the_window_low_and_zscore_without_window():
    vol = volume_from_array(np.full((10, 10, 10), 50.0), spacing=(1, 1, 1))
    mask = np.zeros(vol.shape, np.uint8)
    mask[0, 0, 0] = 1                                                 # a corner: half the cube is outside
    cube = crop_roi(vol, mask, CropSpec(16, 1.0, (-100.0, 200.0)))
    assert cube.min() == 0.0 and math.isclose(cube.max(), 150 / 300, rel_tol=1e-6)
    noisy = volume_from_array(np.random.default_rng(0).normal(50, 10, (10, 10, 10)), spacing=(1, 1, 1))
    z = crop_roi(noisy, mask, CropSpec(16, 1.0, None))
    assert abs(z.mean()) < 1e-5 and abs(z.std() - 1) < 1e-4
    flat = crop_roi(vol, mask, CropSpec(16, 1.0, None))  # constant (outside = image minimum): zeros, not NaN
    assert not flat.any()


def test_bad_crops_are_refused():
    vol = volume_from_array(np.zeros((8, 8, 8)))
    with pytest.raises(EmptyMaskError, match="no voxel"):
        crop_roi(vol, np.zeros((8, 8, 8), np.uint8))
    for kwargs in ({"size_mm": -4}, {"spacing_mm": float("nan")}, {"size_mm": 4, "spacing_mm": 1},
                   {"size_mm": 1000, "spacing_mm": 1}, {"window": (5.0, 1.0)}, {"window": (0, float("inf"))}):
        with pytest.raises(DLInputError):
            CropSpec(**kwargs)


# ----------------------------------------------------------------------------- Cox loss
TIME = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0])
EVENT = np.array([1, 1, 1, 0, 1, 0])
X = np.array([0.5, -1.0, 2.0, 0.3, -0.7, 1.1])


def test_cox_nll_matches_hand_computation_with_breslow_ties():
    beta = 0.8
    r = beta * X
    e = np.exp(r)
    # hand: risk set of t=1 is everyone; the two tied events at t=2 share {2,2,3,4,5}; t=4: {4,5}
    ll = (r[0] - np.log(e.sum())) + (r[1] - np.log(e[1:].sum())) + (r[2] - np.log(e[1:].sum())) \
        + (r[4] - np.log(e[4:].sum()))
    got = cox_nll(torch.tensor(r), torch.tensor(TIME), torch.tensor(EVENT))
    assert math.isclose(float(got), -ll / 4, rel_tol=1e-12)
    # order of the rows does not matter
    perm = np.array([3, 5, 0, 2, 4, 1])
    got2 = cox_nll(torch.tensor(r[perm]), torch.tensor(TIME[perm]), torch.tensor(EVENT[perm]))
    assert math.isclose(float(got2), float(got), rel_tol=1e-12)


def test_cox_nll_matches_statsmodels_breslow_and_its_gradient_is_the_score():
    from statsmodels.duration.hazard_regression import PHReg

    model = PHReg(TIME, X[:, None], status=EVENT, ties="breslow")
    for beta in (-1.3, 0.0, 0.8):
        b = torch.tensor([beta], dtype=torch.float64, requires_grad=True)
        loss = cox_nll(b * torch.tensor(X), torch.tensor(TIME), torch.tensor(EVENT))
        loss.backward()
        assert math.isclose(float(loss.detach()), -model.loglike(np.array([beta])) / EVENT.sum(), rel_tol=1e-10)
        assert math.isclose(float(b.grad[0]), -model.score(np.array([beta]))[0] / EVENT.sum(), rel_tol=1e-8)


def test_cox_nll_without_events_is_zero():
    r = torch.tensor([0.3, -0.2], requires_grad=True)
    loss = cox_nll(r, torch.tensor([1.0, 2.0]), torch.tensor([0, 0]))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.equal(r.grad, torch.zeros(2))


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def binary_run():
    crops, out = synthetic_crops(120, "binary", seed=1, spec=SMALL_CROP)
    y = out["response"]
    result = train(crops[:80], y[:80], "binary", crop=SMALL_CROP,
                   config=TrainConfig(max_epochs=60, patience=60, **FAST))
    return crops, y, result


def _heldout_auc(features, y, n_train=80):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    clf.fit(features[:n_train], y[:n_train])
    return roc_auc_score(y[n_train:], clf.predict_proba(features[n_train:])[:, 1])


def test_dl_features_carry_the_texture_and_beat_noise_on_a_held_out_split(binary_run):
    crops, y, result = binary_run
    features = result.model.embed(crops)
    assert features.shape == (120, 64) and np.isfinite(features).all()
    auc_dl = _heldout_auc(features, y)
    auc_noise = _heldout_auc(np.random.default_rng(7).normal(size=features.shape), y)
    # 40 held-out patients the network never saw (neither in training nor in early stopping)
    assert auc_dl >= 0.85, (auc_dl, auc_noise)
    assert auc_dl > auc_noise + 0.2
    tr = result.model.manifest["training"]
    assert tr["n_train"] + tr["n_val"] == 80 and tr["n_val"] == 16  # 20 % of each class held out, seeded


def test_training_is_deterministic_on_cpu_with_a_seed():
    crops, out = synthetic_crops(24, "binary", seed=3, spec=SMALL_CROP)
    cfg = TrainConfig(max_epochs=3, patience=3, **FAST)
    a = train(crops, out["response"], crop=SMALL_CROP, config=cfg).model.network.state_dict()
    b = train(crops, out["response"], crop=SMALL_CROP, config=cfg).model.network.state_dict()
    c = train(crops, out["response"], crop=SMALL_CROP,
              config=TrainConfig(max_epochs=3, patience=3, threads=1, seed=1)).model.network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())
    assert not torch.are_deterministic_algorithms_enabled()          # restored after the run


def test_early_stopping_keeps_the_best_epoch():
    crops, out = synthetic_crops(24, "binary", seed=4, spec=SMALL_CROP)
    res = train(crops, out["response"], crop=SMALL_CROP, config=TrainConfig(max_epochs=40, patience=2, **FAST))
    hist = res.history
    assert len(hist) < 40                                              # stopped early
    assert len(hist) - res.best_epoch == 2
    best = min(h["val_loss"] for h in hist)
    assert hist[res.best_epoch - 1]["val_loss"] == best
    # the kept weights are the best epoch's: the validation loss is reproduced from them
    val = res.val_index
    logits = torch.tensor(res.model.predict(crops[val]))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(out["response"][val], dtype=torch.float64))
    assert math.isclose(float(bce), best, rel_tol=1e-4)


def test_survival_training_runs_with_the_cox_loss():
    crops, out = synthetic_crops(30, "survival", seed=5, spec=SMALL_CROP)
    res = train(crops, (out["time"], out["event"]), "survival", crop=SMALL_CROP,
                config=TrainConfig(max_epochs=3, patience=3, **FAST), target_info={"time": "t", "event": "e"})
    assert res.model.target == {"kind": "survival", "time": "t", "event": "e"}
    assert res.model.manifest["training"]["val_metric_name"] == "Harrell C"
    assert res.model.embed(crops[:4]).shape == (4, 64)


@pytest.mark.parametrize("y, target, match", [
    (np.zeros(24), "binary", "at least 3 patients of each class"),
    (np.full(24, 2), "binary", "0 or 1"),
    ((np.ones(24), np.zeros(24)), "survival", "at least 4 events"),
    ((-np.ones(24), np.ones(24)), "survival", "positive"),
    (np.arange(24) % 2, "regression", "binary' or 'survival"),
])
def test_bad_targets_are_refused(y, target, match):
    crops, _ = synthetic_crops(24, "binary", seed=0, spec=SMALL_CROP)
    with pytest.raises(DLInputError, match=match):
        train(crops, y, target, crop=SMALL_CROP, config=TrainConfig(max_epochs=1, **FAST))


def test_bad_training_inputs_are_refused():
    crops, out = synthetic_crops(24, "binary", seed=0, spec=SMALL_CROP)
    with pytest.raises(DLInputError, match="at least 10 patients"):
        train(crops[:6], out["response"][:6], crop=SMALL_CROP)
    with pytest.raises(DLInputError, match="crops must be an array"):
        train(crops, out["response"])                                 # 16-voxel crops, 24-voxel spec
    bad = crops.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DLInputError, match="non-finite"):
        train(bad, out["response"], crop=SMALL_CROP)
    for kwargs in ({"max_epochs": 0}, {"lr": -1.0}, {"val_fraction": 0.9}, {"batch_size": 1}, {"threads": 0}):
        with pytest.raises(DLInputError):
            TrainConfig(**kwargs)
    with pytest.raises(DLInputError, match="architecture must be one of"):
        ArchSpec(name="resnet-huge")


# ----------------------------------------------------------------------------- weights
@pytest.fixture(scope="module")
def saved(binary_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    wpath, mpath = save_weights(folder / "model.safetensors", binary_run[2].model)
    return binary_run, wpath, mpath


def test_weights_round_trip_bit_identical(saved):
    (crops, _y, result), wpath, mpath = saved
    assert sorted(p.name for p in wpath.parent.iterdir()) == ["model.json", "model.safetensors"]  # no temporaries
    loaded = load_weights(wpath, device="cpu")
    np.testing.assert_array_equal(loaded.embed(crops[:10]), result.model.embed(crops[:10]))
    assert loaded.crop == SMALL_CROP and loaded.arch == ArchSpec() and loaded.target["kind"] == "binary"
    doc = json.loads(mpath.read_text())
    from radgui.files import sha256_file

    assert doc["sha256"] == sha256_file(wpath)
    assert doc["normalisation"] == {"kind": "window", "low": -100.0, "high": 200.0, "maps_to": [0.0, 1.0]}
    assert {"torch", "monai", "safetensors", "radgui"} <= set(doc["versions"])
    assert doc["training"]["seed"] == 0 and doc["feature_dim"] == 64
    assert load_weights(mpath, device="cpu").feature_names[:2] == ["dl_0", "dl_1"]  # the .json opens it too


def _copy_with(saved, tmp_path, data: bytes | None = None, manifest_edit=None, resha: bool = True):
    """A copy of the saved pair with other weights bytes and/or an edited manifest (SHA updated)."""
    import hashlib

    _run, wpath, mpath = saved
    w, m = tmp_path / "w.safetensors", tmp_path / "w.json"
    w.write_bytes(wpath.read_bytes() if data is None else data)
    doc = json.loads(mpath.read_text())
    if resha:
        doc["sha256"] = hashlib.sha256(w.read_bytes()).hexdigest()
    if manifest_edit:
        manifest_edit(doc)
    m.write_text(json.dumps(doc))
    return w


def _tensors(saved):
    from safetensors.torch import load

    return load(saved[1].read_bytes())


def _raw_safetensors(header: dict, body: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def test_a_pickle_file_is_refused_and_never_unpickled(saved, tmp_path, monkeypatch):
    class Boom:
        def __reduce__(self):
            return (print, ("PWNED",))

    calls = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(a))
    w = _copy_with(saved, tmp_path, pickle.dumps({"stem.conv.weight": Boom()}))
    with pytest.raises(WeightsError, match="pickle or torch.save archive"):
        load_weights(w)
    import io

    buf = io.BytesIO()
    torch.save(saved[0][2].model.network.state_dict(), buf)
    with pytest.raises(WeightsError, match="pickle or torch.save archive"):
        load_weights(_copy_with(saved, tmp_path, buf.getvalue()))
    assert calls == []


def test_unknown_missing_and_misshaped_tensors_are_refused(saved, tmp_path):
    from safetensors.torch import save

    t = _tensors(saved)
    extra = dict(t, **{"backdoor.weight": torch.zeros(3)})
    with pytest.raises(WeightsError, match="does not have"):
        load_weights(_copy_with(saved, tmp_path, save(extra)))
    fewer = dict(t)
    fewer.pop("head.weight")
    with pytest.raises(WeightsError, match="missing"):
        load_weights(_copy_with(saved, tmp_path, save(fewer)))
    shaped = dict(t, **{"head.weight": torch.zeros(1, 65)})
    with pytest.raises(WeightsError, match=r"head.weight.*shape \[1, 65\].*architecture mismatch"):
        load_weights(_copy_with(saved, tmp_path, save(shaped)))


def test_non_float_dtypes_are_refused(saved, tmp_path):
    from safetensors.torch import save

    t = dict(_tensors(saved), **{"head.bias": torch.zeros(1, dtype=torch.int64)})
    with pytest.raises(WeightsError, match="dtype I64; only floating-point"):
        load_weights(_copy_with(saved, tmp_path, save(t)))


def test_architecture_mismatch_in_the_manifest_is_refused(saved, tmp_path):
    def wider(doc):
        doc["architecture"]["widths"] = [4, 8, 32]
        doc["feature_dim"] = 128

    with pytest.raises(WeightsError, match="architecture mismatch"):
        load_weights(_copy_with(saved, tmp_path, manifest_edit=wider))

    def unknown_arch(doc):
        doc["architecture"]["name"] = "vit-giant"

    with pytest.raises(WeightsError, match="architecture must be one of"):
        load_weights(_copy_with(saved, tmp_path, manifest_edit=unknown_arch))


def test_altered_bytes_oversize_and_bad_headers_are_refused(saved, tmp_path, monkeypatch):
    data = bytearray(saved[1].read_bytes())
    data[-3] ^= 0xFF                                                    # one weight altered, SHA kept
    with pytest.raises(WeightsError, match="SHA-256 does not match"):
        load_weights(_copy_with(saved, tmp_path, bytes(data), resha=False))
    huge = struct.pack("<Q", 2**62) + b"{}"
    with pytest.raises(WeightsError, match="header of .* larger than the file"):
        load_weights(_copy_with(saved, tmp_path, huge))
    off = _raw_safetensors({"head.bias": {"dtype": "F32", "shape": [1], "data_offsets": [0, 400]}}, b"\0" * 4)
    with pytest.raises(WeightsError, match="offsets that do not fit"):
        load_weights(_copy_with(saved, tmp_path, off))
    deep = _raw_safetensors({"a": {"dtype": "F32", "shape": [[[[[1]]]]], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(WeightsError, match="not valid JSON|do not fit"):
        load_weights(_copy_with(saved, tmp_path, deep))
    from radgui.dl import weights

    monkeypatch.setattr(weights, "MAX_WEIGHTS_BYTES", 1000)
    with pytest.raises(WeightsError, match="larger than the 1,000-byte limit"):
        load_weights(saved[1])


def test_bad_manifests_are_refused(saved, tmp_path):
    for edit, match in ((lambda d: d.update(kind="other"), "kind must be"),
                        (lambda d: d.update(schema_version=9), "schema_version 9"),
                        (lambda d: d.update(evil="x"), "unknown key"),
                        (lambda d: d["target"].update(kind="segmentation"), "target kind"),
                        (lambda d: d["crop"].update(voxels=99), "voxels")):
        with pytest.raises(WeightsError, match=match):
            load_weights(_copy_with(saved, tmp_path, manifest_edit=edit))
    w = _copy_with(saved, tmp_path)
    w.with_suffix(".json").unlink()
    with pytest.raises(WeightsError, match="manifest w.json not found"):
        load_weights(w)
    with pytest.raises(WeightsError, match=r"\.safetensors file"):
        load_weights(tmp_path / "model.pt")


def test_monai_seresnet50_builds_embeds_2048_and_round_trips(tmp_path):
    """The paper-size network: MONAI's own SEResNet50 (3D, one channel), 56 M parameters, a 225 MB file."""
    from radgui.dl import DLModel, build_network

    arch = ArchSpec(name="seresnet50")
    torch.manual_seed(0)
    net = build_network(arch).eval()
    assert type(net.net).__name__ == "SEResNet50" and type(net.net).__module__ == "monai.networks.nets.senet"
    model = DLModel(net, arch, CropSpec(32, 2.0, (-1000.0, 400.0)), {"kind": "binary"})
    x = np.random.default_rng(0).random((2, 16, 16, 16), dtype=np.float32)
    features = model.embed(x)
    assert features.shape == (2, 2048) and model.feature_names[-1] == "dl_2047"
    wpath, _ = save_weights(tmp_path / "big.safetensors", model)
    np.testing.assert_array_equal(load_weights(wpath, device="cpu").embed(x), features)
