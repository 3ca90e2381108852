"""Training the 3D SE-ResNet on crops: BCE or Cox partial likelihood, augmentations, early stopping.

Reproducibility: one ``seed`` fixes the validation split (numpy), the initial
weights and dropout (``torch.manual_seed``) and the augmentations (a separate
``torch.Generator``); on CPU ``torch.use_deterministic_algorithms(True)`` is on
for the run, so two runs with the same seed, data and thread count give
bit-identical weights. The device is chosen automatically (CUDA when present).

Survival: the loss is the Cox negative log partial likelihood with Breslow's
handling of ties, averaged over the events of the batch (:func:`cox_nll`);
risk sets are those of the mini-batch, so use batches of at least ~32 (the
default for a survival target is the whole training set up to 64 patients).
"""

from __future__ import annotations

import copy
import math
import time as _time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field

import numpy as np

from radgui.dl._torch import choose_device, deterministic, require_torch
from radgui.dl.crops import CropSpec
from radgui.dl.net import ArchSpec, build_network
from radgui.dl.weights import DLModel
from radgui.errors import DLInputError
from radgui.progress import Step, run

MIN_PATIENTS = 10


@dataclass(frozen=True)
class TrainConfig:
    """Training parameters (all stored in the weights manifest).

    Parameters
    ----------
    max_epochs : int
        Upper bound on passes over the training set.
    patience : int
        Early stopping: epochs without a better validation loss before stopping;
        the weights of the best epoch are kept.
    batch_size : int or None
        Mini-batch size; None: 16 for a binary target, the training set (at
        most 64) for a survival target.
    lr, weight_decay : float
        Adam's learning rate and L2 penalty.
    val_fraction : float
        Share of patients held out for early stopping (stratified by class or
        by event; seeded).
    seed : int
    flips : bool
        Random flips along each axis (p = 0.5 each).
    intensity_shift, intensity_scale : float
        Random ``x * (1 + U(-scale, scale)) + U(-shift, shift)`` per crop (in
        normalised units).
    device : str
        ``auto``, ``cpu``, ``cuda``.
    threads : int or None
        CPU threads torch uses during the run (restored after); None keeps
        torch's setting. Bit-identical reruns need the same thread count; on a
        busy 2-core machine 1 thread is also the fastest (measured: 0.12 s vs
        0.3-0.6 s an epoch of 48 crops of 16^3 voxels).
    """

    max_epochs: int = 80
    patience: int = 25
    batch_size: int | None = None
    lr: float = 3e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    seed: int = 0
    flips: bool = True
    intensity_shift: float = 0.05
    intensity_scale: float = 0.1
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self):
        def bad(name, what):
            raise DLInputError(f"training {name} must be {what}, got {getattr(self, name)!r}")

        for name, lo, hi in (("max_epochs", 1, 10_000), ("patience", 1, 10_000), ("seed", 0, 2**32 - 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                bad(name, f"an integer from {lo} to {hi}")
        if self.threads is not None and (not isinstance(self.threads, int) or not 1 <= self.threads <= 1024):
            bad("threads", "an integer from 1 to 1024 or None")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or not 2 <= self.batch_size <= 4096):
            bad("batch_size", "an integer from 2 to 4096 (BatchNorm needs 2) or None")
        for name, lo, hi in (("lr", 0, 1), ("weight_decay", 0, 1), ("val_fraction", 0, 0.5),
                             ("intensity_shift", 0, 1), ("intensity_scale", 0, 1)):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not lo <= v <= hi:
                bad(name, f"a number in [{lo}, {hi}]")
        if self.lr == 0 or self.val_fraction == 0:
            bad("lr" if self.lr == 0 else "val_fraction", "larger than 0")


@dataclass
class TrainResult:
    """A trained model, its training history and the split that chose its epoch."""

    model: DLModel
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    train_index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    val_index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    seconds: float = 0.0


def cox_nll(risk, time, event):
    """Cox negative log partial likelihood (Breslow ties), mean over events (torch, differentiable).

    ``-(1/d) sum_{i: event} [r_i - log sum_{j: t_j >= t_i} exp(r_j)]`` with ``d``
    the number of events; tied times share one risk set (Breslow). Zero (with
    a gradient of zero) when the batch has no event.

    Parameters
    ----------
    risk : torch.Tensor (n,)
        Log relative risks (the network's output).
    time : torch.Tensor (n,)
    event : torch.Tensor (n,) of 0/1 or bool
    """
    torch = require_torch()
    event = event.to(torch.bool)
    order = torch.argsort(-time, stable=True)       # longest first: each risk set is a prefix
    r, t, e = risk[order], time[order], event[order]
    log_cum = torch.logcumsumexp(r, dim=0)
    neg_t = (-t).contiguous()
    last = torch.searchsorted(neg_t, neg_t, right=True) - 1  # ties: the whole tied group is at risk
    d = e.sum()
    if int(d) == 0:
        return (risk * 0).sum()
    return -((r - log_cum[last])[e]).sum() / d


def _split(strata: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    val = []
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        idx = idx[rng.permutation(len(idx))]
        k = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        val.extend(idx[:k])
    val = np.sort(np.asarray(val, int))
    train = np.setdiff1d(np.arange(len(strata)), val)
    return train, val


def _targets(target: str, y, n: int):
    if target == "binary":
        y = np.asarray(y, dtype=float).ravel()
        if y.shape != (n,) or not np.isin(y, (0, 1)).all():
            raise DLInputError(f"a binary target needs {n} values of 0 or 1 (one per crop)")
        counts = np.bincount(y.astype(int), minlength=2)
        if counts.min() < 3:
            raise DLInputError(f"a binary target needs at least 3 patients of each class, got {counts.tolist()}")
        return {"y": y}, y.astype(int)
    if target == "survival":
        try:
            t, e = y
        except (TypeError, ValueError):
            raise DLInputError("a survival target is a pair (time, event)") from None
        t, e = np.asarray(t, float).ravel(), np.asarray(e, float).ravel()
        if t.shape != (n,) or e.shape != (n,):
            raise DLInputError(f"a survival target needs {n} times and {n} events (one per crop)")
        if not np.isfinite(t).all() or (t <= 0).any():
            raise DLInputError("survival times must be finite and positive")
        if not np.isin(e, (0, 1)).all() or e.sum() < 4:
            raise DLInputError(f"events must be 0 or 1 with at least 4 events, got {int(np.nansum(e))}")
        return {"time": t, "event": e}, e.astype(int)
    raise DLInputError(f"target must be 'binary' or 'survival', not {target!r}")


def _augment(torch, x, gen, cfg: TrainConfig):
    b = x.shape[0]
    if cfg.flips:
        for axis in (2, 3, 4):
            flip = torch.rand(b, generator=gen) < 0.5
            if bool(flip.any()):
                x = torch.where(flip.view(b, 1, 1, 1, 1).to(x.device), x.flip(axis), x)
    if cfg.intensity_scale or cfg.intensity_shift:
        scale = 1 + cfg.intensity_scale * (2 * torch.rand(b, generator=gen) - 1)
        shift = cfg.intensity_shift * (2 * torch.rand(b, generator=gen) - 1)
        x = x * scale.view(b, 1, 1, 1, 1).to(x.device) + shift.view(b, 1, 1, 1, 1).to(x.device)
    return x


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    out = [order[i:i + size] for i in range(0, len(order), size)]
    if len(out) > 1 and len(out[-1]) < 2:  # BatchNorm cannot train on one sample
        out[-2] = np.concatenate([out[-2], out.pop()])
    return out


def _metric(target, out, data, idx) -> float:
    from radgui.stats.survival import concordance_index

    try:
        if target == "binary":
            from sklearn.metrics import roc_auc_score

            return float(roc_auc_score(data["y"][idx], out))
        return float(concordance_index(data["time"][idx], data["event"][idx], out))
    except Exception:  # noqa: BLE001 - a degenerate validation split: no metric, the loss still decides
        return float("nan")


def iter_train(crops, y, target: str = "binary", *, arch: ArchSpec = ArchSpec(), crop: CropSpec = CropSpec(),
               config: TrainConfig = TrainConfig(), target_info: dict | None = None
               ) -> Generator[Step, None, TrainResult]:
    """Train the network on normalised crops; yields one :class:`~radgui.progress.Step` per epoch.

    Parameters
    ----------
    crops : numpy.ndarray (n, v, v, v)
        Normalised crops (:func:`radgui.dl.crop_roi`), v = ``crop.voxels``.
    y : array (n,) of 0/1, or (time, event)
        The target: a binary outcome, or survival times and event indicators.
    target : {"binary", "survival"}
    arch, crop, config
        Architecture, the crop spec the crops were made with (stored with the
        weights), training parameters.
    target_info : dict, optional
        Column names etc. stored in the manifest's ``target``.

    Returns
    -------
    TrainResult
        ``result.model`` holds the best epoch's weights (in eval mode).
    """
    torch = require_torch("monai")
    crops = np.asarray(crops, dtype=np.float32)
    v = crop.voxels
    if crops.ndim != 4 or crops.shape[1:] != (v, v, v):
        raise DLInputError(f"crops must be an array (patients, {v}, {v}, {v}), got {crops.shape}")
    n = len(crops)
    if n < MIN_PATIENTS:
        raise DLInputError(f"training needs at least {MIN_PATIENTS} patients, got {n}")
    if not np.isfinite(crops).all():
        raise DLInputError("crops hold non-finite values")
    data, strata = _targets(target, y, n)
    train_idx, val_idx = _split(strata, config.val_fraction, config.seed)
    if target == "survival" and data["event"][train_idx].sum() < 2:
        raise DLInputError("the training split has fewer than 2 events")
    device = choose_device(config.device)
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        result = yield from _fit(torch, crops, data, target, train_idx, val_idx, device, arch, crop, config,
                                 target_info)
    finally:
        torch.set_num_threads(threads_before)
    return result


def _fit(torch, crops, data, target, train_idx, val_idx, device, arch, crop, config, target_info):
    n = len(crops)
    bs = config.batch_size or (16 if target == "binary" else min(64, len(train_idx)))
    start = _time.perf_counter()
    history: list[dict] = []
    with deterministic(config.seed, device):
        network = build_network(arch).to(device)
        opt = torch.optim.Adam(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        gen = torch.Generator().manual_seed(config.seed + 1)
        X = torch.from_numpy(crops[:, None]).to(device)
        T = {k: torch.from_numpy(np.asarray(a, np.float32)).to(device) for k, a in data.items()}

        def loss_of(out, idx):
            if target == "binary":
                return torch.nn.functional.binary_cross_entropy_with_logits(out, T["y"][idx])
            return cox_nll(out, T["time"][idx], T["event"][idx])

        best, best_loss, best_epoch, stale = None, math.inf, 0, 0
        val_t = torch.from_numpy(val_idx).to(device)
        for epoch in range(1, config.max_epochs + 1):
            network.train()
            order = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()]
            losses = []
            for b in _batches(order, bs):
                bt = torch.from_numpy(b).to(device)
                x = _augment(torch, X[bt], gen, config)
                loss = loss_of(network(x), bt)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
            network.eval()
            with torch.no_grad():
                out = network(X[val_t])
                val_loss = float(loss_of(out, val_t))
            metric = _metric(target, out.detach().cpu().numpy(), data, val_idx)
            history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                            "val_metric": metric})
            if val_loss < best_loss - 1e-6:
                best_loss, best_epoch, stale = val_loss, epoch, 0
                best = copy.deepcopy(network.state_dict())
            else:
                stale += 1
            name = "AUC" if target == "binary" else "C"
            yield Step(epoch, config.max_epochs, f"epoch {epoch}: train loss {np.mean(losses):.3f}, "
                                                 f"val loss {val_loss:.3f}, val {name} {metric:.2f}")
            if stale >= config.patience:
                break
        if best is not None:  # else the validation loss was never finite: keep the last epoch
            network.load_state_dict(best)
        network.eval()
    seconds = _time.perf_counter() - start
    training = {"seed": config.seed, "config": asdict(config), "device": device, "n_patients": n,
                "n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "batch_size": bs,
                "epochs_run": len(history), "best_epoch": best_epoch, "best_val_loss": best_loss,
                "val_metric_name": "AUC" if target == "binary" else "Harrell C",
                "best_val_metric": history[max(best_epoch, 1) - 1]["val_metric"], "seconds": round(seconds, 2),
                "history": [{k: (round(v, 5) if isinstance(v, float) and math.isfinite(v) else v)
                             for k, v in h.items()} for h in history]}
    for h in training["history"]:
        if isinstance(h["val_metric"], float) and not math.isfinite(h["val_metric"]):
            h["val_metric"] = None
    if training["best_val_metric"] is not None and not math.isfinite(training["best_val_metric"]):
        training["best_val_metric"] = None
    tinfo = {"kind": target, **(target_info or {})}
    model = DLModel(network, arch, crop, tinfo, {"training": training}, device)
    return TrainResult(model, history, best_epoch, train_idx, val_idx, seconds)


def train(crops, y, target: str = "binary", **kwargs) -> TrainResult:
    """Blocking twin of :func:`iter_train`."""
    return run(iter_train(crops, y, target, **kwargs))
