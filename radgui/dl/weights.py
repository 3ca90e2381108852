"""Weights as data: a safetensors file and a JSON manifest beside it; loading refuses anything else.

``NAME.safetensors`` holds the network's floating-point tensors (BatchNorm's
integer ``num_batches_tracked`` counters are training bookkeeping and are not
stored). ``NAME.json`` is the manifest: architecture parameters, crop spec and
normalisation, target, software versions, training provenance and the
SHA-256 of the safetensors file. Both are written through :mod:`radgui.files`
(atomic), the manifest last, so a torn or mixed pair fails the hash check.

A weights file is hostile input. :func:`load_weights` refuses, with one line
naming the file:

* a pickle or ``torch.save`` archive (``torch.load`` is never called);
* a file larger than :data:`MAX_WEIGHTS_BYTES`, a header larger than
  :data:`MAX_HEADER_BYTES`, offsets outside the file or not matching a
  tensor's shape;
* a dtype other than F16, BF16, F32, F64;
* tensor names or shapes other than those of the network the manifest's
  architecture builds (unknown, missing, mis-shaped), and an architecture
  radgui does not know;
* a SHA-256 that does not match the manifest, a manifest with unknown keys or
  another schema version.

The header is checked by radgui (bounded JSON) before ``safetensors`` parses
anything.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radgui.dl._torch import require_torch
from radgui.dl.crops import CropSpec
from radgui.dl.net import ArchSpec, build_network
from radgui.errors import DLInputError, RadguiError, WeightsError

SCHEMA_VERSION = 1
KIND = "radgui-dl-weights"
#: Largest weights file radgui reads (MONAI's 3D SEResNet50, 56 M parameters in float32, is 225 MB).
MAX_WEIGHTS_BYTES = 512 * 1024 * 1024
#: Largest safetensors JSON header radgui reads.
MAX_HEADER_BYTES = 4 * 1024 * 1024
#: Largest manifest radgui reads.
MAX_MANIFEST_BYTES = 1024 * 1024
#: safetensors dtypes accepted, with their sizes in bytes.
FLOAT_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
FEATURE_PREFIX = "dl_"
TARGETS = ("binary", "survival")
_MANIFEST_KEYS = {"schema_version", "kind", "architecture", "crop", "normalisation", "target", "feature_prefix",
                  "feature_dim", "weights_file", "sha256", "versions", "training"}
_SKIPPED = "num_batches_tracked"


def _sidecar(path: Path) -> tuple[Path, Path]:
    """(weights, manifest) paths of ``NAME.safetensors`` or ``NAME.json``."""
    path = Path(path)
    if path.suffix == ".json":
        return path.with_suffix(".safetensors"), path
    if path.suffix != ".safetensors":
        raise WeightsError("weights must be a .safetensors file (with its .json manifest beside it)", path)
    return path, path.with_suffix(".json")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("radgui", "torch", "monai", "safetensors", "numpy", "SimpleITK"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def _state(network) -> dict:
    return {k: v.detach().to("cpu").contiguous() for k, v in network.state_dict().items()
            if not k.endswith(_SKIPPED)}


@dataclass
class DLModel:
    """A loaded (or freshly trained) network with what it needs to turn ROIs into features.

    Attributes
    ----------
    network : torch.nn.Module
        In eval mode on ``device``.
    arch : ArchSpec
    crop : CropSpec
    target : dict
        ``{"kind": "binary" | "survival", ...}`` (column names it was trained on).
    manifest : dict
        The manifest as written (versions, training provenance).
    device : str
    """

    network: Any
    arch: ArchSpec
    crop: CropSpec
    target: dict
    manifest: dict = field(default_factory=dict)
    device: str = "cpu"

    @property
    def feature_names(self) -> list[str]:
        """``dl_0 .. dl_{n-1}``: the penultimate layer's columns."""
        return [f"{FEATURE_PREFIX}{i}" for i in range(self.arch.feature_dim)]

    def _batches(self, crops, fn, batch_size: int = 32) -> np.ndarray:
        torch = require_torch()
        crops = np.asarray(crops, dtype=np.float32)
        n = self.crop.voxels
        if crops.ndim != 4 or crops.shape[1:] != (n, n, n):
            raise DLInputError(f"crops must be an array (rows, {n}, {n}, {n}) for this model, got {crops.shape}")
        if not np.isfinite(crops).all():
            raise DLInputError("crops hold non-finite values")
        self.network.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(crops), batch_size):
                x = torch.from_numpy(crops[i:i + batch_size][:, None]).to(self.device)
                out.append(fn(x).detach().to("cpu").double().numpy())
        return np.concatenate(out) if out else np.zeros((0,), float)

    def embed(self, crops, batch_size: int = 32) -> np.ndarray:
        """Penultimate features ``(rows, feature_dim)`` of normalised crops ``(rows, n, n, n)``."""
        out = self._batches(crops, self.network.embed, batch_size)
        return out.reshape(len(out), self.arch.feature_dim) if len(out) else np.zeros((0, self.arch.feature_dim))

    def predict(self, crops, batch_size: int = 32) -> np.ndarray:
        """The network's output per crop: a logit (binary) or a log relative risk (survival)."""
        return self._batches(crops, self.network, batch_size)


def save_weights(path, model: DLModel) -> tuple[Path, Path]:
    """Write ``model`` as ``NAME.safetensors`` + ``NAME.json`` (atomic; manifest last); returns both paths."""
    require_torch("safetensors.torch")
    from safetensors.torch import save

    from radgui.files import write_bytes, write_json

    wpath, mpath = _sidecar(path)
    data = save(_state(model.network), metadata={"format": KIND, "schema_version": str(SCHEMA_VERSION)})
    write_bytes(wpath, data)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "architecture": model.arch.to_dict(),
        "crop": model.crop.to_dict(),
        "normalisation": ({"kind": "window", "low": model.crop.window[0], "high": model.crop.window[1],
                           "maps_to": [0.0, 1.0]} if model.crop.window is not None
                          else {"kind": "zscore", "over": "crop"}),
        "target": dict(model.target),
        "feature_prefix": FEATURE_PREFIX,
        "feature_dim": model.arch.feature_dim,
        "weights_file": wpath.name,
        "sha256": hashlib.sha256(data).hexdigest(),  # of the bytes just written, not a second read
        "versions": _versions(),
        "training": dict(model.manifest.get("training", {})),
    }
    write_json(mpath, manifest, indent=2, sort_keys=True)
    model.manifest = manifest
    return wpath, mpath


def _read_manifest(mpath: Path) -> dict:
    from radgui.untrusted import load_json

    if not mpath.is_file():
        raise WeightsError(f"manifest {mpath.name} not found beside the weights", mpath.parent / mpath.name)
    size = mpath.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise WeightsError(f"manifest of {size:,} bytes is larger than the {MAX_MANIFEST_BYTES:,}-byte limit", mpath)
    doc = load_json(mpath.read_bytes(), source=mpath, max_bytes=MAX_MANIFEST_BYTES)
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise WeightsError(f"not a radgui deep-learning weights manifest (kind must be {KIND!r})", mpath)
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise WeightsError(f"manifest schema_version {doc.get('schema_version')!r} is not supported "
                           f"(this radgui reads {SCHEMA_VERSION})", mpath)
    unknown = set(doc) - _MANIFEST_KEYS
    if unknown:
        raise WeightsError(f"manifest has unknown key(s) {', '.join(sorted(unknown))}", mpath)
    missing = {"architecture", "crop", "target", "sha256"} - set(doc)
    if missing:
        raise WeightsError(f"manifest lacks {', '.join(sorted(missing))}", mpath)
    if not isinstance(doc["target"], dict) or doc["target"].get("kind") not in TARGETS:
        raise WeightsError(f"manifest target kind must be one of {', '.join(TARGETS)}", mpath)
    return doc


def _check_header(wpath: Path, data: bytes) -> dict:
    """The safetensors header, checked: bounded, float dtypes, offsets within the file and matching shapes."""
    from radgui.untrusted import load_json

    if data[:1] == b"\x80" or data[:4] == b"PK\x03\x04":
        raise WeightsError("is a pickle or torch.save archive; radgui loads weights only as safetensors (pure data)",
                           wpath)
    if len(data) < 8:
        raise WeightsError("is too short to be a safetensors file", wpath)
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or n + 8 > len(data):
        raise WeightsError(f"safetensors header of {n:,} bytes is larger than the file or the "
                           f"{MAX_HEADER_BYTES:,}-byte limit", wpath)
    try:
        header = load_json(data[8:8 + n], source=wpath, max_bytes=MAX_HEADER_BYTES, max_depth=4)
    except RadguiError as exc:
        raise WeightsError(f"safetensors header is not valid JSON ({exc.reason})", wpath) from None
    if not isinstance(header, dict):
        raise WeightsError("safetensors header is not a mapping of tensors", wpath)
    body = len(data) - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise WeightsError(f"tensor {name[:60]!r} has a malformed header entry", wpath)
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in FLOAT_DTYPES:
            raise WeightsError(f"tensor {name[:60]!r} is of dtype {str(dtype)[:10]}; only floating-point weights "
                               f"({', '.join(FLOAT_DTYPES)}) are accepted", wpath)
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(isinstance(s, int) and 0 <= s < 2**31 for s in shape)
                or not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and 0 <= o <= body for o in offsets)
                or offsets[1] - offsets[0] != math.prod(shape) * FLOAT_DTYPES[dtype]):
            raise WeightsError(f"tensor {name[:60]!r} has a shape or offsets that do not fit the file", wpath)
    return header


def load_weights(path, device: str = "auto") -> DLModel:
    """Load ``NAME.safetensors`` with its ``NAME.json`` manifest into a :class:`DLModel` (eval mode).

    Parameters
    ----------
    path : str or Path
        The ``.safetensors`` file or its ``.json`` manifest.
    device : str
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    WeightsError
        Any of the refusals listed in the module docstring.
    MissingExtraError
        torch, MONAI or safetensors are not installed.
    """
    torch = require_torch("monai", "safetensors.torch")
    from safetensors.torch import load

    from radgui.dl._torch import choose_device

    wpath, mpath = _sidecar(path)
    if not wpath.is_file():
        raise WeightsError("weights file not found", wpath)
    size = wpath.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"weights file of {size:,} bytes is larger than the {MAX_WEIGHTS_BYTES:,}-byte limit",
                           wpath)
    doc = _read_manifest(mpath)
    data = wpath.read_bytes()
    header = _check_header(wpath, data)
    if hashlib.sha256(data).hexdigest() != doc["sha256"]:  # the bytes parsed below, not a second read
        raise WeightsError(f"SHA-256 does not match its manifest {mpath.name} (a different or altered file)", wpath)
    try:
        arch = ArchSpec.from_dict(doc["architecture"])
        crop = CropSpec.from_dict(doc["crop"])
    except DLInputError as exc:
        raise WeightsError(f"manifest: {exc}", mpath) from None
    if doc.get("feature_dim", arch.feature_dim) != arch.feature_dim:
        raise WeightsError(f"manifest feature_dim {doc.get('feature_dim')!r} does not match the architecture's "
                           f"{arch.feature_dim}", mpath)
    network = build_network(arch)
    expected = {k: tuple(v.shape) for k, v in network.state_dict().items() if not k.endswith(_SKIPPED)}
    found = {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    unknown, missing = sorted(set(found) - set(expected)), sorted(set(expected) - set(found))
    if unknown:
        raise WeightsError(f"{len(unknown)} tensor name(s) the {arch.name} architecture does not have "
                           f"(first: {unknown[0][:60]!r})", wpath)
    if missing:
        raise WeightsError(f"{len(missing)} tensor(s) of the {arch.name} architecture missing "
                           f"(first: {missing[0][:60]!r})", wpath)
    wrong = [k for k in expected if expected[k] != found[k]]
    if wrong:
        k = wrong[0]
        raise WeightsError(f"tensor {k!r} has shape {list(found[k])}, the manifest's architecture needs "
                           f"{list(expected[k])} (architecture mismatch)", wpath)
    try:
        tensors = load(data)
    except Exception as exc:  # noqa: BLE001 - safetensors' own parse errors, as one line
        raise WeightsError(f"not a readable safetensors file ({type(exc).__name__})", wpath) from None
    tensors = {k: v.to(torch.float32) for k, v in tensors.items()}
    if not all(bool(torch.isfinite(v).all()) for v in tensors.values()):
        raise WeightsError("weights hold non-finite values", wpath)
    result = network.load_state_dict(tensors, strict=False)
    if result.unexpected_keys or any(not k.endswith(_SKIPPED) for k in result.missing_keys):
        raise WeightsError("tensors do not match the network", wpath)  # pragma: no cover - checked above
    dev = choose_device(device)
    network.to(dev).eval()
    return DLModel(network, arch, crop, dict(doc["target"]), doc, dev)
