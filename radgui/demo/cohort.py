"""A synthetic lung-lesion cohort from a documented generative model.

Each patient has a small CT-like volume holding one lesion phantom, a tumour
mask (the "radiologist's contour"), three clinical variables and an outcome.
Nothing here comes from real patients; the cohort exists so that the demo model
can be built honestly, end to end, by the real feature engine and training
steps (``packaging/build_demo_model.py``).

Generative model
----------------
For patient *i* (all draws from ``numpy.random.default_rng(seed)``, in this
order, so the table does not depend on how many phantoms are rendered):

* lesion radius ``r ~ U(5, 15)`` mm, heterogeneity ``h ~ U(0, 1)``;
* ``age ~ N(64, 9)`` years, clipped to [30, 90];
* ``ECOG ~ Categorical(0: 0.45, 1: 0.40, 2: 0.15)``;
* ``NLR ~ LogNormal(log 3, 0.5)``, clipped to [0.5, 20];
* voxel spacing: in-plane ``U(0.55, 0.85)`` mm, slice thickness 3 or 5 mm;
* true linear predictor ``eta = -0.2 + 1.0 z_r + 0.9 z_h + 0.03 (age - 64)
  + 0.5 [ECOG=1] + 1.1 [ECOG=2] + 0.7 log(NLR / 3)`` with
  ``z_r = (r - 10) / 2.89`` and ``z_h = (h - 0.5) / 0.289`` (both ~unit SD);
* progression-free survival ``T = 14 (-log U / exp(eta))^(1/1.3)`` months
  (Weibull, shape 1.3, proportional hazards in ``eta``; baseline median 10.6
  months), ``U ~ U(0, 1)``;
* censoring ``C ~ U(12, 36)`` months (administrative and drop-out, never
  before 12 months), ``time = min(T, C)``, ``event = T <= C``;
* binary outcome ``progression_12m = T <= 12`` (observed for everyone because
  ``C >= 12``).

The lesion is visible to radiomics only through its image: its size (shape
features) and its texture. The phantom of patient *i* is rendered from
``(r, h, spacing)`` with its own seed: an ellipsoid (axis ratios ``U(0.8,
1.2)``) with lobulated margins (a smooth random field on the boundary, more
lobulated when ``h`` is large), soft-tissue attenuation 35 HU with smooth
heterogeneous texture of SD ``15 + 70 h`` HU (correlation length ~1.5 mm)
and, when ``h > 0.6``, a hypo-attenuating necrotic core; lung background at
-850 HU; partial-volume blur at the margin; white CT noise of SD 12 HU. The
mask is the blurred lesion thresholded at one half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Phantom size in voxels, (z, y, x): about 40^3 voxels.
PHANTOM_SHAPE = (16, 64, 64)

_BETA = {"intercept": -0.4, "z_r": 0.8, "z_h": 0.7, "age": 0.05, "ecog1": 0.9, "ecog2": 1.8, "log_nlr": 1.2}


def true_linear_predictor(radius_mm, heterogeneity, age, ecog, nlr) -> np.ndarray:
    """The generative model's linear predictor ``eta`` (see the module docstring)."""
    r = np.asarray(radius_mm, float)
    h = np.asarray(heterogeneity, float)
    ecog = np.asarray(ecog).astype(str)
    return (_BETA["intercept"] + _BETA["z_r"] * (r - 10) / 2.89 + _BETA["z_h"] * (h - 0.5) / 0.289
            + _BETA["age"] * (np.asarray(age, float) - 64) + _BETA["ecog1"] * (ecog == "1")
            + _BETA["ecog2"] * (ecog == "2") + _BETA["log_nlr"] * np.log(np.asarray(nlr, float) / 3))


def cohort_table(n: int = 150, seed: int = 20240607) -> pd.DataFrame:
    """Clinical variables, latent lesion parameters, spacing and outcomes of ``n`` patients.

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``patient_id, age, ecog (str), nlr, radius_mm,
        heterogeneity, spacing_z_mm, spacing_xy_mm, phantom_seed, eta,
        pfs_months (time), event, progression_12m``.
    """
    rng = np.random.default_rng(seed)
    radius = rng.uniform(5, 15, n)
    het = rng.uniform(0, 1, n)
    age = np.clip(rng.normal(64, 9, n), 30, 90).round(0)
    ecog = rng.choice(np.array(["0", "1", "2"]), size=n, p=[0.45, 0.40, 0.15])
    nlr = np.clip(rng.lognormal(math.log(3), 0.5, n), 0.5, 20).round(2)
    sp_xy = rng.uniform(0.55, 0.85, n).round(4)
    sp_z = rng.choice(np.array([3.0, 5.0]), size=n)
    phantom_seed = rng.integers(0, 2**31 - 1, n)
    eta = true_linear_predictor(radius, het, age, ecog, nlr)
    u = rng.uniform(0, 1, n)
    t_true = 14.0 * (-np.log(u) / np.exp(eta)) ** (1 / 1.3)
    cens = rng.uniform(12, 36, n)
    time = np.minimum(t_true, cens)
    return pd.DataFrame({
        "patient_id": [f"demo{i + 1:03d}" for i in range(n)],
        "age": age, "ecog": ecog, "nlr": nlr,
        "radius_mm": radius, "heterogeneity": het,
        "spacing_z_mm": sp_z, "spacing_xy_mm": sp_xy, "phantom_seed": phantom_seed,
        "eta": eta, "pfs_months": time.round(3), "event": (t_true <= cens).astype(int),
        "progression_12m": (t_true <= 12).astype(int),
    })


@dataclass
class Phantom:
    """One rendered lesion phantom: ``image`` (HU, int16) and ``mask`` (uint8), (z, y, x), and spacing (z, y, x) mm."""

    image: np.ndarray
    mask: np.ndarray
    spacing: tuple[float, float, float]

    def to_sitk(self):
        """``(image, mask)`` as SimpleITK images (origin 0, identity direction)."""
        import SimpleITK as sitk

        img = sitk.GetImageFromArray(self.image)
        img.SetSpacing(tuple(reversed(self.spacing)))
        msk = sitk.GetImageFromArray(self.mask)
        msk.CopyInformation(img)
        return img, msk

    def to_volume(self, name: str = "phantom"):
        """The phantom as a :class:`~radgui.io.Volume` (CT) and its mask."""
        from radgui.io.volume import Volume

        img, msk = self.to_sitk()
        return Volume(img, "CT", {"name": name, "source": "radgui.demo.cohort (synthetic)"}), msk


def _smooth_noise(rng, shape, sigma_vox) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), sigma_vox, mode="wrap")
    return f / (f.std() + 1e-12)


def render_phantom(radius_mm: float, heterogeneity: float, spacing_zyx: tuple[float, float, float],
                   seed: int, shape: tuple[int, int, int] = PHANTOM_SHAPE) -> Phantom:
    """Render one lesion phantom (see the module docstring for the model).

    Parameters
    ----------
    radius_mm : float
        Mean lesion radius in mm.
    heterogeneity : float
        In [0, 1]: texture amplitude, margin lobulation and necrosis.
    spacing_zyx : tuple of float
        Voxel spacing in mm, (z, y, x).
    seed : int
        Seed of this phantom's random texture and shape.
    shape : tuple of int
        Volume size in voxels, (z, y, x).
    """
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(int(seed))
    sp = np.asarray(spacing_zyx, float)
    h = float(heterogeneity)
    centre = (np.asarray(shape) - 1) / 2.0 + rng.uniform(-0.5, 0.5, 3)
    zz, yy, xx = np.meshgrid(*[(np.arange(n) - c) * s for n, c, s in zip(shape, centre, sp)], indexing="ij")
    axes = radius_mm * rng.uniform(0.8, 1.2, 3)
    # keep the lesion inside the field of view (with a 2-voxel margin)
    fov = (np.asarray(shape) / 2.0 - 2.0) * sp
    axes = np.minimum(axes, fov)
    d = np.sqrt((zz / axes[0]) ** 2 + (yy / axes[1]) ** 2 + (xx / axes[2]) ** 2)
    lob = _smooth_noise(rng, shape, 4.0 / sp)  # smooth field over a few mm
    d_eff = d * (1.0 + (0.05 + 0.15 * h) * lob)
    inside = (d_eff < 1.0).astype(float)
    w = gaussian_filter(inside, 0.7 / sp)  # partial volume at the margin (0.7 mm)
    texture = _smooth_noise(rng, shape, 1.5 / sp)
    lesion = 35.0 + (15.0 + 70.0 * h) * texture
    if h > 0.6:
        core = np.clip(1.0 - d / 0.55, 0, 1)
        lesion = lesion - 60.0 * (h - 0.6) / 0.4 * core
    background = -850.0 + 40.0 * _smooth_noise(rng, shape, 3.0 / sp)
    image = background * (1 - w) + lesion * w + 12.0 * rng.standard_normal(shape)
    mask = (w >= 0.5).astype(np.uint8)
    return Phantom(np.clip(np.round(image), -1024, 3071).astype(np.int16), mask, tuple(float(s) for s in sp))


def phantom_for(row) -> Phantom:
    """Render the phantom of one row of :func:`cohort_table`."""
    return render_phantom(float(row["radius_mm"]), float(row["heterogeneity"]),
                          (float(row["spacing_z_mm"]), float(row["spacing_xy_mm"]), float(row["spacing_xy_mm"])),
                          int(row["phantom_seed"]))
