"""The 3D SE-ResNet: MONAI's ``SEResNet50``, or a small variant built from MONAI's own blocks.

``se-resnet-small`` (the default, sized for CPUs and cohorts of ~100):

* stem: ``monai.networks.blocks.Convolution`` 3x3x3 stride 2, 1 -> ``stem`` channels,
  batch norm, ReLU;
* one ``monai.networks.blocks.SEResNetBottleneck`` per entry of ``widths``
  (planes w, output 4w channels, stride 2, squeeze-and-excitation with
  reduction ``reduction``; a 1x1x1 strided projection on the shortcut), i.e.
  MONAI's ``SENet`` with one block per stage and narrower stages;
* global average pool -> the **penultimate features** (4 x ``widths[-1]``
  values; 64 by default) -> dropout -> one linear output (a logit for a binary
  target, a log-risk for a Cox target).

``seresnet50`` is ``monai.networks.nets.SEResNet50(spatial_dims=3,
in_channels=1, num_classes=1)`` as MONAI defines it (2048 features; for a GPU).

Reference: Hu J, Shen L, Sun G. Squeeze-and-Excitation Networks. CVPR 2018.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from radgui.dl._torch import require_torch
from radgui.errors import DLInputError

ARCHITECTURES = ("se-resnet-small", "seresnet50")


@dataclass(frozen=True)
class ArchSpec:
    """Architecture parameters (stored in the weights manifest; loading rebuilds the network from them).

    Parameters
    ----------
    name : {"se-resnet-small", "seresnet50"}
    widths : tuple of int
        Planes of each stage of ``se-resnet-small`` (output channels 4x).
    stem : int
        Channels of the stem convolution (``se-resnet-small``).
    reduction : int
        Squeeze-and-excitation reduction ratio.
    dropout : float
        Dropout before the output layer, in [0, 1).
    """

    name: str = "se-resnet-small"
    widths: tuple[int, ...] = (4, 8, 16)
    stem: int = 8
    reduction: int = 4
    dropout: float = 0.2
    layers: tuple[int, ...] = field(default=(3, 4, 6, 3))

    def __post_init__(self):
        if self.name not in ARCHITECTURES:
            raise DLInputError(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {self.name!r}")
        for key, values, top in (("widths", self.widths, 256), ("layers", self.layers, 64)):
            vals = tuple(values) if isinstance(values, (list, tuple)) else ()
            if not 1 <= len(vals) <= 6 or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= top
                                                  for v in vals):
                raise DLInputError(f"architecture {key} must be 1 to 6 integers from 1 to {top}, got {values!r}")
            object.__setattr__(self, key, vals)
        for key, top in (("stem", 256), ("reduction", 64)):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= top:
                raise DLInputError(f"architecture {key} must be an integer from 1 to {top}, got {v!r}")
        if self.name == "se-resnet-small" and min(self.widths) * 4 < self.reduction:
            raise DLInputError(f"reduction {self.reduction} is larger than the narrowest stage's "
                               f"{min(self.widths) * 4} channels")
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool) or not 0 <= self.dropout < 1:
            raise DLInputError(f"dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def feature_dim(self) -> int:
        """Number of penultimate features (columns ``dl_0..dl_{n-1}``)."""
        return 4 * self.widths[-1] if self.name == "se-resnet-small" else 2048

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "dropout": float(self.dropout), "reduction": self.reduction}
        if self.name == "se-resnet-small":
            d.update(widths=list(self.widths), stem=self.stem)
        else:
            d.update(layers=list(self.layers))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchSpec:
        allowed = {"name", "dropout", "reduction", "widths", "stem", "layers"}
        if not isinstance(d, dict) or set(d) - allowed or "name" not in d:
            raise DLInputError(f"architecture must be a mapping of {', '.join(sorted(allowed))}, got {d!r}"[:200])
        kw = dict(d)
        for key in ("widths", "layers"):
            if key in kw and isinstance(kw[key], list):
                kw[key] = tuple(kw[key])
        return cls(**kw)


@functools.lru_cache(maxsize=1)
def _classes():
    torch = require_torch("monai")
    from monai.networks.blocks import Convolution
    from monai.networks.blocks.squeeze_and_excitation import SEResNetBottleneck
    from monai.networks.layers.factories import Norm
    from monai.networks.nets import SEResNet50

    nn = torch.nn

    class SmallSEResNet(nn.Module):
        """``se-resnet-small`` (see the module docstring)."""

        def __init__(self, widths, stem, reduction, dropout):
            super().__init__()
            self.stem = Convolution(3, 1, stem, strides=2, kernel_size=3, act=("relu", {"inplace": True}),
                                    norm=Norm.BATCH, bias=False)
            blocks, inplanes = [], stem
            for w in widths:
                down = Convolution(3, inplanes, 4 * w, strides=2, kernel_size=1, act=None, norm=Norm.BATCH,
                                   bias=False)
                blocks.append(SEResNetBottleneck(3, inplanes, w, groups=1, reduction=reduction, stride=2,
                                                 downsample=down))
                inplanes = 4 * w
            self.blocks = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool3d(1)
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(inplanes, 1)

        def embed(self, x):
            """Penultimate features (batch, 4 * widths[-1]) of a batch (batch, 1, z, y, x)."""
            return torch.flatten(self.pool(self.blocks(self.stem(x))), 1)

        def forward(self, x):
            return self.head(self.dropout(self.embed(x))).squeeze(1)

    class MonaiSEResNet50(nn.Module):
        """``monai.networks.nets.SEResNet50`` (3D, one input channel, one output)."""

        def __init__(self, layers, reduction, dropout):
            super().__init__()
            self.net = SEResNet50(layers=tuple(layers), reduction=reduction, dropout_prob=dropout or None,
                                  spatial_dims=3, in_channels=1, num_classes=1)

        def embed(self, x):
            return torch.flatten(self.net.adaptive_avg_pool(self.net.features(x)), 1)

        def forward(self, x):
            return self.net.logits(self.net.features(x)).squeeze(1)

    return SmallSEResNet, MonaiSEResNet50


def build_network(arch: ArchSpec = ArchSpec()):
    """A freshly initialised network for ``arch`` (torch ``nn.Module`` with ``embed(x)`` and ``forward(x)``).

    Call ``torch.manual_seed`` first for reproducible initial weights.
    """
    small, big = _classes()
    if arch.name == "se-resnet-small":
        return small(arch.widths, arch.stem, arch.reduction, float(arch.dropout))
    return big(arch.layers, arch.reduction, float(arch.dropout))
