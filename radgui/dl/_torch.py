"""Lazy imports of the ``dl`` extra (torch, MONAI, safetensors) and the device choice."""

from __future__ import annotations

import contextlib
import importlib

from radgui.errors import DLInputError, MissingExtraError

INSTALL_HINT = "install radgui[dl]: pip install torch==2.13.0 then pip install -e '.[dl]' (torch, MONAI, safetensors)"


def require_torch(*modules: str):
    """Import torch (and ``modules``, e.g. ``"monai"``, ``"safetensors.torch"``); the first is returned.

    Raises
    ------
    MissingExtraError
        One of them is not installed; the message says how to install the extra.
    """
    names = ("torch", *modules)
    loaded = []
    for name in names:
        try:
            loaded.append(importlib.import_module(name))
        except ImportError as exc:
            root = name.split(".")[0]
            raise MissingExtraError(f"deep-learning features need {root}, which is not installed "
                                    f"({type(exc).__name__}); {INSTALL_HINT}") from None
    return loaded[0]


def choose_device(device: str = "auto") -> str:
    """``"cuda"`` when ``device`` is ``"auto"`` and a CUDA GPU is usable, else ``"cpu"``; or the one asked for.

    Raises
    ------
    DLInputError
        ``device`` is not ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, or CUDA is asked for and absent.
    """
    torch = require_torch()
    device = str(device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise DLInputError(f"device {device!r} asked for but no CUDA GPU is usable here; use --device auto or cpu")
        return device
    raise DLInputError(f"device must be auto, cpu, cuda or cuda:N, not {device!r}")


@contextlib.contextmanager
def deterministic(seed: int, device: str):
    """Seed torch and, on CPU, switch on ``torch.use_deterministic_algorithms`` for the block (restored after).

    On CUDA, cuDNN is put in deterministic mode too (bit-identity across GPUs
    is not promised by PyTorch; the CPU path is the reproducible one).
    """
    torch = require_torch()
    torch.manual_seed(int(seed))
    before = torch.are_deterministic_algorithms_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    if device == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
