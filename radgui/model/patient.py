"""Score a new patient from an image, its ROIs and clinical values.

:func:`predict` (and its generator twin :func:`iter_predict`) is what the
Predict dock and ``radgui predict`` run: it checks the clinical values first
(so a missing or out-of-range value fails in milliseconds), computes *only* the
radiomics features the model needs, then hands them to
:func:`radgui.model.predict.predict_from_features`, which applies the stored
preprocessing and returns the :class:`~radgui.model.predict.Prediction`.

Only the needed features
------------------------
A model names its radiomics predictors with PyRadiomics' feature names
(``<imageType>_<class>_<feature>``, e.g. ``wavelet-HLL_glcm_Imc1``), prefixed
``<roi>__`` when it was trained on several ROIs (``ring3mm__original_...``).
The feature preset the model was trained with (``provenance.feature_preset``:
a shipped preset's name, or the preset itself inline as ``{"name": ...,
"params": {...}}`` or ``{"name": ..., "yaml": "..."}``; never a file path, as
a bundle comes from someone else) is validated and bounded
(:func:`radgui.features.presets.check_bounds`), then restricted in memory to
the image types (and LoG sigmas), feature classes
and features those names require, so a model using 6 of 1,130 wavelet/LoG
features costs one filtering pass and 6 feature computations, not a full
extraction. The values are those of the full extraction (same PyRadiomics
code, same settings; ``tests/test_predict_engine.py`` checks it).

Which ROI and which image
-------------------------
Unprefixed features come from the ROI named in ``inputs.roi`` (schema 2; a
version-1 bundle's ``provenance.roi``), else the only ROI given, else the ROI
called ``tumour``. A ROI is a PET ROI when ``inputs.rois[<roi>].modality``
says ``PT`` (version 1: ``provenance.rois[<roi>].modality``, or a name that
starts with ``pet``: ``pet_tumour``, ``pet-core``); its features are computed on the PET
volume (``volume={"CT": ct, "PT": pet}``) with the PET preset
(``provenance.rois[<roi>].preset``, default ``pet-suv``).

Fused PET/CT ROIs
-----------------
A ROI whose ``inputs.rois[<roi>].modality`` is ``FUSED`` (the ``fused_<voi>``
columns of :func:`radgui.features.petct.extract_petct`) is computed on the
fused PET/CT image, rebuilt here with the bundle's recorded
``inputs.rois[<roi>].fusion`` parameters (:func:`radgui.io.petct.fuse_pair`:
the PET is resampled onto the CT grid when it is not on it, after the
frame-of-reference check), with preset ``provenance.rois[<roi>].preset``
(default ``petct-fused``). ``inputs.rois[<roi>].mask`` names the study ROI
that gives the mask (``fused_ring6mm`` -> ``ring6mm``); a PET ROI with a
``mask`` is computed on the PET resampled onto the CT grid, as
:mod:`radgui.features.petct` does.

Warnings (in ``Prediction.warnings``, besides the engine's out-of-range ones)
say when the image's voxel spacing lies outside the training cohort's
(``provenance.spacing_mm``: ``{"min": [z, y, x], "max": [z, y, x]}``, 10 %
tolerance) or its modality differs from ``provenance.modality``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from radgui.errors import FeatureExtractionError, PredictionInputError
from radgui.progress import Step, run, scaled

#: Separator between ROI name and feature name (same as radgui.features.ROI_SEP).
ROI_SEP = "__"
#: Preset used when a bundle names none (e.g. a published formula).
DEFAULT_PRESET = "ct-original"
DEFAULT_PET_PRESET = "pet-suv"
DEFAULT_FUSED_PRESET = "petct-fused"
#: Relative tolerance on the training spacing range before a warning.
SPACING_TOLERANCE = 0.10

_SIMPLE_TYPES = {
    "original": "Original", "square": "Square", "squareroot": "SquareRoot", "logarithm": "Logarithm",
    "exponential": "Exponential", "gradient": "Gradient",
}
_LOG_RE = re.compile(r"^log-sigma-(\d+)-(\d+)-mm-3D$")
_WAVELET_RE = re.compile(r"^wavelet\d*-[LH]+$")


# --------------------------------------------------------------------------
# What the bundle needs
# --------------------------------------------------------------------------
@dataclass
class RoiNeeds:
    """Features one ROI must provide.

    Attributes
    ----------
    roi : str
        ROI name of the model (its features' prefix).
    modality : str
        ``"CT"`` (or the study's main modality), ``"PT"`` or ``"FUSED"``.
    preset : str or Preset
        Preset the model was trained with for this ROI (a shipped name, or
        the bundle's inline preset).
    features : dict
        PyRadiomics feature name -> the bundle's predictor name.
    mask : str
        The study ROI (key of ``rois``) whose mask is used (default ``roi``).
    fusion : dict or None
        :func:`radgui.io.petct.fuse` keywords of a ``FUSED`` ROI.
    """

    roi: str
    modality: str
    preset: Any
    features: dict[str, str] = field(default_factory=dict)
    mask: str = ""
    fusion: dict | None = None

    def __post_init__(self):
        self.mask = self.mask or self.roi


def _preset_name(value) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping):
        return _preset_name(value.get("name"))
    return None


def bundle_preset(bundle) -> str | None:
    """Name of the feature preset a bundle was trained with, if it says."""
    prov = bundle.provenance or {}
    for key in ("feature_preset", "preset"):
        name = _preset_name(prov.get(key))
        if name:
            return name
    feats = prov.get("features")
    if isinstance(feats, Mapping):
        return _preset_name(feats.get("preset"))
    return None


def _preset_spec(value, where: str):
    """A bundle's preset entry as something :func:`~radgui.features.presets.load_preset` takes safely.

    A name (``"ct-wavelet"`` or ``{"name": "ct-wavelet", ...}``) stays a name,
    resolved among the shipped presets only; ``{"params": {...}}`` or
    ``{"yaml": "..."}`` is parsed, validated and bounded into a
    :class:`~radgui.features.presets.Preset`. A path is refused: a bundle must
    never make radgui read a local file it names.
    """
    from radgui.errors import PresetError
    from radgui.features.presets import load_preset, preset_from_text

    if value is None:
        return None
    name = _preset_name(value)
    if isinstance(value, Mapping) and (value.get("params") is not None or value.get("yaml") is not None):
        label = f"{where} ({name or 'inline'})"
        if value.get("yaml") is not None:
            if not isinstance(value["yaml"], str):
                raise PresetError(f"{where}.yaml must be YAML text")
            preset = preset_from_text(value["yaml"], name=label)
            if value.get("hash") and value["hash"] != preset.sha256:
                raise PresetError(f"{where}: the inline preset does not match its recorded hash")
            return type(preset)(name=name or "inline", text=preset.text, params=preset.params)
        if not isinstance(value["params"], Mapping):
            raise PresetError(f"{where}.params must be a PyRadiomics parameter mapping")
        preset = load_preset(dict(value["params"]))
        return type(preset)(name=name or "inline", text=preset.text, params=preset.params)
    if name is None:
        if isinstance(value, (str, Mapping)):
            return None
        raise PresetError(f"{where} must be a preset name or an inline preset")
    if any(c in name for c in "/\\") or name.lower().endswith((".yaml", ".yml", ".json")) or name.startswith("."):
        raise PresetError(f"{where} names the file {name!r}; a bundle must carry its preset inline "
                          "('params' or 'yaml'), radgui never reads a file a bundle names")
    return name


def bundle_feature_preset(provenance) -> dict:
    """Validate every preset a bundle's provenance names; ``{key: spec}`` for the ones present."""
    prov = provenance or {}
    out = {}
    for key in ("feature_preset", "preset", "pet_preset"):
        spec = _preset_spec(prov.get(key), f"provenance.{key}")
        if spec is not None:
            out[key] = spec
    feats = prov.get("features")
    if isinstance(feats, Mapping) and feats.get("preset") is not None and "feature_preset" not in out:
        spec = _preset_spec(feats.get("preset"), "provenance.features.preset")
        if spec is not None:
            out["feature_preset"] = spec
    rois = prov.get("rois")
    if isinstance(rois, Mapping):
        for roi, spec in rois.items():
            if isinstance(spec, Mapping) and spec.get("preset") is not None:
                s = _preset_spec(spec["preset"], f"provenance.rois.{roi}.preset")
                if s is not None:
                    out[f"rois.{roi}"] = s
    return out


def _inputs(bundle):
    """The bundle's typed :class:`~radgui.model.bundle.ModelInputs` (derived from provenance when absent)."""
    from radgui.model.bundle import ModelInputs

    inputs = getattr(bundle, "inputs", None)
    if inputs is None:
        inputs = ModelInputs.from_provenance(getattr(bundle, "provenance", None) or {},
                                             list(getattr(bundle, "radiomics_features", ()) or ()))
    return inputs


def is_pet_roi(bundle, roi: str) -> bool:
    """True when the model computes ``roi``'s features on the PET image.

    The bundle's ``inputs.rois[<roi>].modality`` decides (schema 2; a version-1
    bundle's ``provenance.rois`` modality or ``pet`` name prefix is migrated
    into it); a ROI the model does not list is PET when named ``pet...``
    (``pet_tumour``, ``pet-core``).
    """
    return _inputs(bundle).modality(roi) == "PT"


_is_pet = is_pet_roi  # the old private name


def split_images(current, images) -> tuple[Any, Any]:
    """``(ct, pet)`` of a study from the image shown and all images open.

    When the image shown is a PET (modality ``PT``), it is the PET and the
    last non-PET image is the CT; otherwise the image shown is the CT and the
    last PET image open is the PET. Either may be None.
    """
    images = [v for v in images if v is not None]
    if current is not None and current.modality == "PT":
        others = [v for v in images if v.modality != "PT"]
        return (others[-1] if others else None), current
    pets = [v for v in images if v.modality == "PT"]
    return current, (pets[-1] if pets else None)


def study_inputs(bundle, ct, pet, rois: Mapping[str, Any], *, chosen_roi: str | None = None):
    """``(volumes, rois)`` for :func:`iter_predict`, the one rule of the Predict dock and ``radgui predict``.

    Parameters
    ----------
    bundle : ModelBundle
    ct, pet : Volume or None
        The study's CT (or MR) image and its PET image in SUV.
    rois : mapping of str to ``(image, mask)`` or mask
        Each ROI's mask with the image it was drawn on (a bare mask or an
        image of None: the CT). A ROI drawn on ``pet`` is passed as a PET ROI
        ``(pet, mask)``; use :func:`is_pet_roi` to pick the grid of a mask
        read from a file.
    chosen_roi : str, optional
        The ROI the user picked for the model's unprefixed (single-ROI)
        features; it is passed under the ROI name the model expects
        (``provenance.roi``, else ``tumour``).

    Raises
    ------
    PredictionInputError
        Neither image is given.
    """
    if ct is None and pet is None:
        raise PredictionInputError("open an image first (File > Open, or drag an image onto the window)")
    out = {}
    for name, value in rois.items():
        image, mask = value if isinstance(value, tuple) and len(value) == 2 else (None, value)
        out[name] = (pet, mask) if pet is not None and image is pet else mask
    if chosen_roi in out and any(ROI_SEP not in f for f in bundle.radiomics_features):
        out[_inputs(bundle).roi or "tumour"] = out[chosen_roi]
    if ct is None:
        return {"PT": pet}, out
    return ({"CT": ct, "PT": pet} if pet is not None else ct), out


def parse_feature_name(name: str) -> tuple[str, str, str]:
    """Split a PyRadiomics feature name into ``(image_type, class, feature)``.

    Raises
    ------
    PredictionInputError
        When the name is not ``<imageType>_<class>_<feature>``.
    """
    parts = name.split("_", 2)
    if len(parts) != 3 or not all(parts):
        raise PredictionInputError(f"radiomics predictor '{name}' is not a PyRadiomics feature name "
                                   "(<imageType>_<class>_<feature>); the feature engine cannot compute it")
    return parts[0], parts[1], parts[2]


def _image_type(token: str, feature: str) -> tuple[str, float | None]:
    if token in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[token], None
    if _WAVELET_RE.match(token):
        return "Wavelet", None
    m = _LOG_RE.match(token)
    if m:
        return "LoG", float(f"{m.group(1)}.{m.group(2)}")
    if token == "lbp-2D":
        return "LBP2D", None
    if token.startswith("lbp-3D"):
        return "LBP3D", None
    raise PredictionInputError(f"radiomics predictor '{feature}': unknown PyRadiomics image type '{token}'")


def needed_rois(bundle, roi_names) -> list[RoiNeeds]:
    """Which ROI must provide which features for ``bundle``.

    Parameters
    ----------
    bundle : ModelBundle
    roi_names : iterable of str
        ROIs available in the study (used to resolve unprefixed features).

    Raises
    ------
    PredictionInputError
        An ROI the model needs is absent (the message names it and lists the
        ROIs present).
    """
    roi_names = [str(r) for r in roi_names]
    features = bundle.radiomics_features
    prov = bundle.provenance or {}
    specs = bundle_feature_preset(prov)
    main_preset = specs.get("feature_preset") or specs.get("preset") or DEFAULT_PRESET
    out: dict[str, RoiNeeds] = {}
    present = ", ".join(roi_names) if roi_names else "none"
    for f in features:
        if ROI_SEP in f:
            roi, feat = f.split(ROI_SEP, 1)
        else:
            feat = f
            wanted = _inputs(bundle).roi
            if wanted:
                roi = wanted
            elif len(roi_names) == 1:
                roi = roi_names[0]
            elif "tumour" in roi_names:
                roi = "tumour"
            elif not roi_names:
                raise PredictionInputError(
                    f"model '{bundle.name}' needs a tumour ROI but the study has none; draw or load one first")
            else:
                raise PredictionInputError(
                    f"model '{bundle.name}' needs one tumour ROI; the study has several ({present}) "
                    "and none is called 'tumour': pick one")
        parse_feature_name(feat)
        if roi not in out:
            role = _inputs(bundle).role(roi)
            if role.modality == "FUSED":
                preset = specs.get(f"rois.{roi}") or DEFAULT_FUSED_PRESET
            elif role.modality == "PT":
                preset = specs.get(f"rois.{roi}") or specs.get("pet_preset") or DEFAULT_PET_PRESET
            else:
                preset = specs.get(f"rois.{roi}") or main_preset
            out[roi] = RoiNeeds(roi=roi, modality=role.modality, preset=preset, mask=role.mask or roi,
                                fusion=dict(role.fusion) if role.fusion is not None else None)
        out[roi].features[feat] = f
    for need in out.values():
        if need.mask not in roi_names:
            kind = {"PT": "PET ROI", "FUSED": "ROI (fused PET/CT image)"}.get(need.modality, "ROI")
            via = f" through its mask '{need.mask}'" if need.mask != need.roi else ""
            raise PredictionInputError(
                f"model '{bundle.name}' needs the {kind} '{need.roi}'{via} ({len(need.features)} feature(s), "
                f"e.g. {next(iter(need.features))}) but the study has no ROI '{need.mask}' "
                f"(ROIs present: {present})")
    return list(out.values())


def check_feature_demand(names) -> None:
    """Refuse radiomics predictor names that would need an absurd number of filtered images.

    The image types (LoG sigmas, wavelet decompositions) a model needs come
    from its feature names; per ROI they are bounded like a preset
    (:func:`radgui.features.presets.check_bounds`). Names that are not
    PyRadiomics names are left to prediction time.
    """
    from radgui.features.presets import check_bounds

    per_roi: dict[str, dict[str, dict]] = {}
    for f in names:
        roi, feat = f.split(ROI_SEP, 1) if ROI_SEP in f else ("", f)
        try:
            token, _, _ = parse_feature_name(feat)
            itype, sigma = _image_type(token, feat)
        except PredictionInputError:
            continue
        types = per_roi.setdefault(roi, {})
        types.setdefault(itype, {"sigma": []} if itype == "LoG" else {})
        if sigma is not None and sigma not in types["LoG"]["sigma"]:
            types["LoG"]["sigma"].append(sigma)
    for roi, types in per_roi.items():
        check_bounds({"imageType": types}, f"the model's radiomics features{' for ROI ' + roi if roi else ''}")


def restrict_preset(preset, features) -> dict:
    """PyRadiomics parameters of ``preset`` restricted to ``features``.

    Parameters
    ----------
    preset : str, Path, Preset or dict
        The full preset (name, YAML path, :class:`~radgui.features.Preset`).
    features : iterable of str
        PyRadiomics feature names (no ROI prefix).

    Returns
    -------
    dict
        Parameters with only the image types (LoG: only the sigmas), feature
        classes and features named; settings unchanged, so every value equals
        the full extraction's.
    """
    from radgui.features.presets import load_preset

    full = load_preset(preset)
    params = copy.deepcopy(full.params)
    base_types = full.image_types
    types: dict[str, dict] = {}
    sigmas: list[float] = []
    classes: dict[str, list[str]] = {}
    for name in features:
        token, cls, feat = parse_feature_name(name)
        itype, sigma = _image_type(token, name)
        if cls == "shape" or cls == "shape2D":
            itype = "Original" if itype == "Original" else itype
        types.setdefault(itype, dict(base_types.get(itype, {})))
        if sigma is not None and sigma not in sigmas:
            sigmas.append(sigma)
        classes.setdefault(cls, [])
        if feat not in classes[cls]:
            classes[cls].append(feat)
    if "LoG" in types:
        types["LoG"]["sigma"] = sorted(sigmas)
    # Shape features are computed once from the mask; PyRadiomics needs an image type enabled.
    if not types:
        types["Original"] = {}
    params["imageType"] = types
    params["featureClass"] = classes
    from radgui.features.presets import check_bounds

    check_bounds(params, f"features of the model (preset {full.name})")
    return params


# --------------------------------------------------------------------------
# Warnings about the image
# --------------------------------------------------------------------------
def image_warnings(bundle, volume, roi_modality: str = "CT") -> list[str]:
    """Warnings when ``volume``'s spacing or modality are unlike the training cohort's."""
    from radgui.io.volume import Volume

    prov = bundle.provenance or {}
    out: list[str] = []
    if not isinstance(volume, Volume):
        return out
    spec = prov.get("pet") if roi_modality == "PT" and isinstance(prov.get("pet"), Mapping) else prov
    modality = spec.get("modality")
    if isinstance(modality, str) and modality and volume.modality not in ("OT", modality):
        out.append(f"image modality is {volume.modality} but the model was trained on {modality} images")
    spacing = spec.get("spacing_mm")
    sp = volume.spacing
    lo = hi = None
    if isinstance(spacing, Mapping) and "min" in spacing and "max" in spacing:
        lo, hi = list(spacing["min"]), list(spacing["max"])
    elif isinstance(spacing, (list, tuple)) and len(spacing) == 3:
        lo, hi = list(spacing), list(spacing)
    if lo is not None and len(lo) == 3 and len(hi) == 3:
        tol = SPACING_TOLERANCE if lo != hi else 0.25
        bad = [f"{ax} {s:.3g} mm" for ax, s, a, b in zip("zyx", sp, lo, hi)
               if s < float(a) * (1 - tol) or s > float(b) * (1 + tol)]
        if bad:
            rng = ", ".join(f"{ax} {float(a):.3g}-{float(b):.3g}" for ax, a, b in zip("zyx", lo, hi))
            out.append(f"voxel spacing ({', '.join(bad)}) is unlike the training cohort's ({rng} mm); "
                       "texture features depend on spacing, so the prediction may not transfer")
    return out


# --------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------
def _volumes(volume) -> dict[str, Any]:
    """Normalise ``volume`` into {"CT": main, "PT": pet?}."""
    from radgui.io.volume import Volume

    if isinstance(volume, Mapping):
        vols = {str(k).upper().replace("PET", "PT"): v for k, v in volume.items() if v is not None}
        if not vols:
            raise PredictionInputError("no image given")
        others = [v for k, v in vols.items() if k != "PT"]
        out = {"PT": vols["PT"]} if "PT" in vols else {}
        if others:
            out["CT"] = vols.get("CT", others[0])
        return out
    if isinstance(volume, Volume) and volume.modality == "PT":
        return {"PT": volume}
    return {"CT": volume}


def _rois_for(rois: Mapping[str, Any], roi: str, volume):
    """Mask of ``roi``, accepting ``(volume, mask)`` pairs."""
    mask = rois[roi]
    if isinstance(mask, tuple) and len(mask) == 2:
        return mask[0], mask[1]
    return volume, mask


def iter_predict(bundle, volume, rois: Mapping[str, Any], clinical: Mapping[str, object] | None = None, *,
                 level: float = 0.95) -> Generator[Step, None, Any]:
    """Score one patient from images and ROIs, yielding progress.

    Parameters
    ----------
    bundle : ModelBundle or str or Path
        The model (a path is loaded with :meth:`ModelBundle.load`).
    volume : Volume, SimpleITK.Image, or dict
        The study's image, or ``{"CT": ct_volume, "PT": pet_volume}`` when the
        model needs PET ROIs.
    rois : dict of str to mask
        ROI name to mask (SimpleITK label image or boolean (z, y, x) array on
        its image's grid). PET ROIs are on the PET grid.
    clinical : dict of str to float or str
        Clinical values by predictor name (see ``bundle.clinical_predictors``).
    level : float
        Confidence level of the probability interval.

    Yields
    ------
    Step
        Progress: clinical check, feature extraction, scoring.

    Returns
    -------
    radgui.model.predict.Prediction
        Probability with CI, linear predictor, Radscore, nomogram points and
        total, risk group, reference percentile, warnings (image warnings
        first). The radiomics values the model used, by predictor name, are
        in the attribute ``prediction.features`` set here.

    Raises
    ------
    ClinicalValueError
        Missing, non-numeric, unknown-level or out-of-range clinical value.
    PredictionInputError
        An ROI the model needs is absent, or a PET ROI is needed and the
        study has no PET image.
    EmptyMaskError, FeatureExtractionError, GeometryMismatchError
        From the feature engine (empty ROI, mask on another grid, ...).
    """
    from radgui.model.bundle import ModelBundle
    from radgui.model.predict import check_clinical, predict_from_features

    if not isinstance(bundle, ModelBundle):
        bundle = ModelBundle.load(bundle)
    clinical = dict(clinical or {})
    yield Step(0, 100, "checking clinical values")
    check_clinical(bundle, clinical)  # fail fast, before any feature work

    rois = dict(rois or {})
    needs = needed_rois(bundle, list(rois))
    vols = _volumes(volume)
    warnings: list[str] = []
    for need in needs:
        if need.modality == "FUSED" and not ("PT" in vols and "CT" in vols):
            raise PredictionInputError(
                f"model '{bundle.name}' needs the fused PET/CT image for ROI '{need.roi}'; load both the CT "
                "and the PET (in SUV)")
        if need.modality == "PT" and "PT" not in vols:
            have = ", ".join(sorted(getattr(v, "modality", k) for k, v in vols.items()))
            raise PredictionInputError(
                f"model '{bundle.name}' needs the PET ROI '{need.roi}' but the study has only {have} "
                "images; load the PET series (in SUV) and its ROI")
        if need.modality == "PT" and need.mask != need.roi and "CT" not in vols:
            raise PredictionInputError(
                f"model '{bundle.name}' computes the PET ROI '{need.roi}' on the CT grid (mask "
                f"'{need.mask}'); load the CT too")
        if need.modality == "CT" and "CT" not in vols:
            raise PredictionInputError(f"model '{bundle.name}' needs a CT image for ROI '{need.roi}', "
                                       "but the study has only PET")
    for mod in ("CT", "PT"):
        if mod in vols and any(n.modality == mod or n.modality == "FUSED" for n in needs):
            warnings += image_warnings(bundle, vols[mod], mod)
    derived: dict[Any, Any] = {}  # PET on the CT grid and fused images, made once each

    features: dict[str, float] = {}
    n_groups = max(len(needs), 1)
    for k, need in enumerate(needs):
        params = restrict_preset(need.preset, list(need.features))
        if need.modality == "FUSED" or (need.modality == "PT" and need.mask != need.roi):
            vol, mask = _on_ct_grid(need, vols, rois, derived, params)
        else:
            main = vols["PT" if need.modality == "PT" else "CT"]
            vol, mask = _rois_for(rois, need.mask, main)
        from radgui.features.extract import iter_extract

        df = yield from scaled(iter_extract(vol, {need.roi: mask}, params), 5 + 85 * k / n_groups, 85 / n_groups,
                               100, f"{need.roi}: ")
        row = df.loc[need.roi]
        for feat, pred_name in need.features.items():
            if feat not in row.index:
                raise FeatureExtractionError(
                    f"ROI {need.roi!r}: PyRadiomics did not return feature '{feat}' with preset "
                    f"{getattr(need.preset, 'name', need.preset)}")
            features[pred_name] = float(row[feat])
    yield Step(92, 100, "scoring")
    pred = predict_from_features(bundle, features, clinical, level=level)
    pred.warnings = warnings + list(pred.warnings)
    pred.features = features  # the radiomics values the model used, by predictor name
    yield Step(100, 100, f"probability {pred.probability:.3f}" if math.isfinite(pred.probability) else "done")
    return pred


def _on_ct_grid(need: RoiNeeds, vols, rois, cache, params=None):
    """``(image, mask)`` of a FUSED ROI, or of a PET ROI taken on the CT grid (its ``mask`` names a CT ROI).

    With a preset of the original image only (:func:`radgui.features.petct.is_local`), the fused image is
    made around the mask only (:func:`radgui.io.petct.fuse_region`, the same values) and the mask cropped
    to it.
    """
    import json

    import numpy as np
    import SimpleITK as sitk

    from radgui.features.petct import is_local
    from radgui.io.petct import fuse_pair, fuse_region, pet_on_ct
    from radgui.io.volume import GEOMETRY_TOL_MM, grid_mismatch_mm
    from radgui.roi._common import bbox

    ct, pet = vols["CT"], vols["PT"]
    if "pet_on_ct" not in cache:
        same = grid_mismatch_mm(ct.image, pet.image) <= GEOMETRY_TOL_MM
        cache["pet_on_ct"] = pet if same else pet_on_ct(pet, ct)
    _, mask = _rois_for(rois, need.mask, ct)
    if need.modality != "FUSED":
        return cache["pet_on_ct"], mask
    arr = sitk.GetArrayFromImage(mask) if isinstance(mask, sitk.Image) else np.asarray(mask)
    if params is not None and is_local(params) and arr.shape == ct.shape and arr.any():
        lo, hi = bbox(arr > 0)
        fused = fuse_region(ct, cache["pet_on_ct"], lo.tolist(), hi.tolist(), **need.fusion)
        box = tuple(slice(a, b) for a, b in zip(*fused.meta["fusion"]["region_index_zyx"]))
        return fused, np.ascontiguousarray(arr[box])
    key = json.dumps(need.fusion, sort_keys=True)
    if key not in cache:
        cache[key] = fuse_pair(ct, cache["pet_on_ct"], **need.fusion)
    return cache[key], mask


def predict(bundle, volume, rois: Mapping[str, Any], clinical: Mapping[str, object] | None = None, *,
            level: float = 0.95):
    """Blocking twin of :func:`iter_predict` (same parameters and result)."""
    return run(iter_predict(bundle, volume, rois, clinical, level=level))
