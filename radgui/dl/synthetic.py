"""A synthetic cohort where a texture carries the outcome (tests, benchmarks, the docs' walk-through).

Generative model, per patient (physical units, mm; intensities in HU-like units):

* a sphere of radius ``R ~ U(7, 10)`` mm, centre jittered by ``U(-1.5, 1.5)`` mm per
  axis, in a background of 0;
* inside it a plane-wave texture ``40 + 60 sin(2 pi f (u . x) + phi)`` with a
  random direction ``u`` and phase ``phi``: the **frequency f carries the
  outcome**; the mean intensity and the sphere's size do not;
* Gaussian noise (SD 15) everywhere.

Binary target: ``y`` balanced 0/1, ``f = 0.07`` (y = 0) or ``0.20`` (y = 1)
cycles/mm, jittered by ``U(-0.015, 0.015)``.
Survival target: a latent balanced group ``g`` in {0, 1} with the binary
target's two textures; event time ``T ~ Exponential(rate = 0.03 exp(1.6 g))``
months (hazard ratio 5), censoring ``C ~ U(12, 60)``; ``time = min(T, C)``,
``event = T <= C``. The true group's Harrell C is about 0.7.

The window of :data:`WINDOW` maps the intensities to [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radgui.dl.crops import CropSpec, normalise
from radgui.errors import DLInputError

#: Intensity window of the synthetic images.
WINDOW = (-100.0, 200.0)
#: The crop spec that suits the synthetic images (24 voxels of 1 mm).
CROP = CropSpec(size_mm=24.0, spacing_mm=1.0, window=WINDOW)
#: A coarser one for quick tests (16 voxels of 1.5 mm).
SMALL_CROP = CropSpec(size_mm=24.0, spacing_mm=1.5, window=WINDOW)


def _outcomes(rng, n: int, target: str):
    if target == "binary":
        y = rng.permutation(np.arange(n) % 2)
        f = np.where(y == 1, 0.20, 0.07) + rng.uniform(-0.015, 0.015, n)
        return f, {"response": y}
    if target == "survival":
        g = rng.permutation(np.arange(n) % 2)
        f = np.where(g == 1, 0.20, 0.07) + rng.uniform(-0.015, 0.015, n)
        t_event = rng.exponential(1.0 / (0.03 * np.exp(1.6 * g)))
        censor = rng.uniform(12, 60, n)
        return f, {"time": np.minimum(t_event, censor).round(2).clip(0.01), "event": (t_event <= censor).astype(int)}
    raise DLInputError(f"target must be 'binary' or 'survival', not {target!r}")


def _phantom(rng, shape, spacing, frequency, centre_offset=None):
    """(image, mask) arrays (z, y, x) on a grid whose centre is the phantom's nominal centre."""
    grids = np.meshgrid(*[(np.arange(s) - (s - 1) / 2.0) * d for s, d in zip(shape, spacing)], indexing="ij")
    shift = rng.uniform(-1.5, 1.5, 3) if centre_offset is None else centre_offset
    pos = [g - c for g, c in zip(grids, shift)]
    radius = rng.uniform(7, 10)
    inside = (pos[0] ** 2 + pos[1] ** 2 + pos[2] ** 2) <= radius ** 2
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    phase = rng.uniform(0, 2 * np.pi)
    wave = 40 + 60 * np.sin(2 * np.pi * frequency * (u[0] * pos[0] + u[1] * pos[1] + u[2] * pos[2]) + phase)
    image = np.where(inside, wave, 0.0) + rng.normal(0, 15, shape)
    return image.astype(np.float32), inside.astype(np.uint8)


def synthetic_crops(n: int = 80, target: str = "binary", seed: int = 0, spec: CropSpec = CROP):
    """Normalised crops ``(n, v, v, v)`` drawn straight on the crop grid, and the outcomes.

    Returns
    -------
    crops : numpy.ndarray float32
    outcomes : dict
        ``{"response": y}`` (binary) or ``{"time": t, "event": e}`` (survival).
    """
    if not isinstance(n, int) or not 4 <= n <= 10_000:
        raise DLInputError(f"a synthetic cohort has 4 to 10000 patients, got {n!r}")
    rng = np.random.default_rng(seed)
    freq, outcomes = _outcomes(rng, n, target)
    v, s = spec.voxels, spec.spacing_mm
    crops = np.stack([normalise(_phantom(rng, (v, v, v), (s, s, s), f)[0], spec.window) for f in freq])
    return crops, outcomes


def write_synthetic_cohort(folder, n: int = 40, target: str = "binary", seed: int = 0,
                           shape=(28, 48, 48), spacing=(1.5, 1.0, 1.0)) -> tuple[Path, Path]:
    """Write a synthetic cohort as NRRD images and masks, a manifest and an outcomes CSV.

    Images are ``shape`` voxels (z, y, x) of ``spacing`` mm (anisotropic by
    default, so the crop's resampling is exercised); the phantom sits near
    the centre. Returns ``(manifest.csv, outcomes.csv)``.
    """
    import pandas as pd
    import SimpleITK as sitk

    from radgui.files import atomic_path, write_csv
    from radgui.io import save_mask, volume_from_array

    if not isinstance(n, int) or not 4 <= n <= 10_000:
        raise DLInputError(f"a synthetic cohort has 4 to 10000 patients, got {n!r}")
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    freq, outcomes = _outcomes(rng, n, target)
    rows = []
    for i, f in enumerate(freq):
        pid = f"syn{i:04d}"
        image, mask = _phantom(rng, shape, spacing, f)
        vol = volume_from_array(image, spacing=spacing, origin=(-50.0, 10.0 * (i % 3), -20.0), name=pid)
        img_path, mask_path = folder / "images" / f"{pid}.nrrd", folder / "images" / f"{pid}_mask.nrrd"
        with atomic_path(img_path) as tmp:
            sitk.WriteImage(vol.image, str(tmp), True)
        save_mask(mask, mask_path, like=vol)
        rows.append({"patient_id": pid, "image": f"images/{pid}.nrrd", "mask": f"images/{pid}_mask.nrrd",
                     "modality": "CT"})
    manifest = write_csv(folder / "manifest.csv", pd.DataFrame(rows), index=False)
    out = pd.DataFrame({"patient_id": [r["patient_id"] for r in rows], **outcomes})
    outcomes_path = write_csv(folder / "outcomes.csv", out, index=False)
    return manifest, outcomes_path
