"""Feature presets: PyRadiomics parameter files, validated against PyRadiomics' schema.

A preset is an ordinary PyRadiomics YAML parameter file (``imageType``,
``featureClass``, ``setting``). radgui ships five of them in
``resources/presets/`` (their file stems are the preset names, documented in
that folder's README with the study each reproduces); any other PyRadiomics
YAML file can be loaded by path, and a preset can be edited as text in the GUI.

Every preset is validated with pykwalify against the schema PyRadiomics itself
uses (``radiomics/schemas/paramSchema.yaml`` and ``schemaFuncs.py``), so a
misspelt key or a value out of range is refused with the key named, before any
extraction starts. Then :func:`check_bounds` refuses presets whose cost is
absurd (too many image types, LoG sigmas or wavelet levels, a bin width or bin
count that implies an enormous number of grey levels): a preset may come from
a model bundle, i.e. from someone else.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from radgui.errors import PresetError, UntrustedInputError
from radgui.untrusted import load_yaml

#: Folder of the shipped presets.
PRESET_DIR = Path(__file__).resolve().parents[1] / "resources" / "presets"

#: Image types whose fast path radgui knows (others run on the whole image).
KNOWN_IMAGE_TYPES = ("Original", "Wavelet", "LoG", "Square", "SquareRoot", "Logarithm",
                     "Exponential", "Gradient", "LBP2D", "LBP3D")


#: Bounds :func:`check_bounds` applies to every preset radgui loads.
MAX_LOG_SIGMAS = 10
MAX_LOG_SIGMA_MM = 50.0
MAX_WAVELET_LEVEL = 3
#: Filtered images one extraction may compute (Original 1, LoG one per sigma, Wavelet 8 per level, ...).
MAX_DERIVED_IMAGES = 64
MIN_BIN_WIDTH = 0.01
MAX_BIN_COUNT = 1000
#: Largest number of grey levels a ``resegmentRange`` / ``binWidth`` pair may imply.
MAX_BINS = 5000


@dataclass(frozen=True)
class Preset:
    """A validated PyRadiomics parameter set.

    Attributes
    ----------
    name : str
        Preset name (file stem for files, or the name given for edited text).
    text : str
        The YAML text exactly as read; ``sha256`` is computed from it.
    params : dict
        The parsed and validated parameters (``imageType``, ``featureClass``,
        ``setting``, optionally ``voxelSetting``).
    path : Path or None
        The file it came from, if any.
    """

    name: str
    text: str
    params: dict[str, Any] = field(repr=False)
    path: Path | None = None

    @property
    def sha256(self) -> str:
        """SHA-256 of the YAML text (provenance)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def settings(self) -> dict[str, Any]:
        """The ``setting`` section (a copy), PyRadiomics defaults not filled in."""
        return dict(self.params.get("setting") or {})

    @property
    def image_types(self) -> dict[str, dict]:
        """Enabled image types with their custom settings (``{"Original": {}}`` when none)."""
        types = self.params.get("imageType") or {"Original": {}}
        return {k: dict(v or {}) for k, v in types.items()}

    @property
    def feature_classes(self) -> dict[str, list | None]:
        """Enabled feature classes (empty: PyRadiomics enables all)."""
        return dict(self.params.get("featureClass") or {})

    @property
    def resampled(self) -> bool:
        """True when the preset resamples the image before extraction."""
        s = self.settings
        return s.get("resampledPixelSpacing") is not None and s.get("interpolator", "sitkBSpline") is not None

    def extractor_params(self) -> dict[str, Any]:
        """A deep copy of the parameters, ready for ``RadiomicsFeatureExtractor(params)``."""
        return copy.deepcopy(self.params)

    def summary(self) -> list[str]:
        """The settings in a few human-readable lines (GUI, ``--help`` style listing)."""
        s = self.settings
        lines = []
        types = []
        for t, custom in self.image_types.items():
            if t == "LoG":
                sig = custom.get("sigma", s.get("sigma", []))
                types.append(f"LoG (sigma {', '.join(f'{x:g}' for x in sig)} mm)")
            elif t == "Wavelet":
                w = custom.get("wavelet", s.get("wavelet", "coif1"))
                lvl = custom.get("level", s.get("level", 1))
                types.append(f"Wavelet ({w}, {lvl} level{'s' if lvl != 1 else ''}, 8 decompositions per level)")
            else:
                types.append(t)
        lines.append("Images: " + "; ".join(types))
        classes = list(self.feature_classes) or ["all classes"]
        lines.append("Feature classes: " + ", ".join(classes))
        rs = s.get("resampledPixelSpacing")
        if rs is not None:
            spacing = " x ".join("kept" if float(v) == 0 else f"{float(v):g}" for v in rs)
            lines.append(f"Resampling: {spacing} mm (x, y, z), {s.get('interpolator', 'sitkBSpline')}")
        else:
            lines.append("Resampling: none (native voxel spacing)")
        if s.get("binCount") is not None:
            lines.append(f"Discretisation: {s['binCount']} fixed bins")
        else:
            lines.append(f"Discretisation: bin width {s.get('binWidth', 25):g}")
        if s.get("resegmentRange") is not None:
            rr = s["resegmentRange"]
            lines.append(f"Re-segmentation: keep values in [{', '.join(f'{v:g}' for v in rr)}] "
                         f"({s.get('resegmentMode', 'absolute')})")
        if s.get("normalize"):
            lines.append(f"Normalisation: z-score x {s.get('normalizeScale', 1):g}")
        return lines


def presets() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    """Path of a shipped preset's YAML file."""
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise PresetError(f"unknown preset {name!r}; shipped presets: {', '.join(presets())}; "
                          "or give the path of a PyRadiomics YAML file")
    return path


def validate_params(params: Any, source: str = "preset") -> dict[str, Any]:
    """Validate a PyRadiomics parameter dictionary against PyRadiomics' schema.

    Parameters
    ----------
    params : dict
        Parsed YAML (``imageType``, ``featureClass``, ``setting``, ...).
    source : str
        Name used in error messages (file name or preset name).

    Returns
    -------
    dict
        The validated parameters (empty sections removed).

    Raises
    ------
    PresetError
        Not a mapping, unknown keys, wrong types or values out of range; the
        message lists what pykwalify found, with the key paths.
    """
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise PresetError(f"{source}: a preset must be a YAML mapping with imageType/featureClass/setting, "
                          f"got {type(params).__name__}")
    key = yaml.safe_dump(params, sort_keys=True)
    cached = _VALID.get(key)
    if cached is not None:
        return copy.deepcopy(cached)
    import pykwalify.core
    from pykwalify.errors import PyKwalifyException
    from radiomics import getParameterValidationFiles

    schema_file, schema_funcs = getParameterValidationFiles()
    log = logging.getLogger("pykwalify")
    old = log.level
    log.setLevel(logging.CRITICAL)
    try:
        core = pykwalify.core.Core(source_data=copy.deepcopy(params), schema_files=[schema_file],
                                   extensions=[schema_funcs])
        core.validate(raise_exception=True)
    except PyKwalifyException as exc:
        found = getattr(exc, "msg", str(exc))
        found = " ".join(str(found).replace("Schema validation failed:", "").split())
        raise PresetError(f"{source}: not a valid PyRadiomics parameter file: {found}") from None
    except Exception as exc:  # schemaFuncs raise plain exceptions for bad interpolators/wavelets
        raise PresetError(f"{source}: not a valid PyRadiomics parameter file: {exc}") from None
    finally:
        log.setLevel(old)
    valid = {k: v for k, v in params.items() if v is not None}
    check_bounds(valid, source)
    if len(_VALID) < 256:
        _VALID[key] = copy.deepcopy(valid)
    return valid


def _number(value, what: str, source: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise PresetError(f"{source}: {what} must be a number, got {value!r}") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise PresetError(f"{source}: {what} must be a finite number, got {value!r}")
    return x


def check_bounds(params: dict, source: str = "preset") -> None:
    """Refuse a preset whose extraction cost would be absurd (one-line :class:`PresetError`).

    Limits: at most :data:`MAX_LOG_SIGMAS` LoG sigmas (each in (0,
    :data:`MAX_LOG_SIGMA_MM`] mm), wavelet ``level`` at most
    :data:`MAX_WAVELET_LEVEL`, at most :data:`MAX_DERIVED_IMAGES` filtered
    images in all, ``binWidth`` at least :data:`MIN_BIN_WIDTH`, ``binCount``
    at most :data:`MAX_BIN_COUNT`, and a ``resegmentRange`` / ``binWidth``
    ratio of at most :data:`MAX_BINS` grey levels.
    """
    if not isinstance(params, dict):
        raise PresetError(f"{source}: a preset must be a mapping, got {type(params).__name__}")
    setting = params.get("setting") or {}
    types = params.get("imageType") or {"Original": {}}
    if not isinstance(setting, dict) or not isinstance(types, dict):
        raise PresetError(f"{source}: 'setting' and 'imageType' must be mappings")
    unknown = [t for t in types if t not in KNOWN_IMAGE_TYPES]
    if unknown:
        raise PresetError(f"{source}: unknown image type(s) {unknown[:5]} (known: {', '.join(KNOWN_IMAGE_TYPES)})")
    images = 0
    for name, custom in types.items():
        custom = custom if isinstance(custom, dict) else {}
        if name == "LoG":
            sigmas = custom.get("sigma", setting.get("sigma", []))
            sigmas = sigmas if isinstance(sigmas, (list, tuple)) else [sigmas]
            if len(sigmas) > MAX_LOG_SIGMAS:
                raise PresetError(f"{source}: LoG asks for {len(sigmas)} sigmas (limit {MAX_LOG_SIGMAS})")
            for sg in sigmas:
                if not 0 < _number(sg, "a LoG sigma", source) <= MAX_LOG_SIGMA_MM:
                    raise PresetError(f"{source}: LoG sigma {sg} mm is outside (0, {MAX_LOG_SIGMA_MM:g}] mm")
            images += len(sigmas)
        elif name == "Wavelet":
            level = _number(custom.get("level", setting.get("level", 1)), "the wavelet level", source)
            if not 1 <= level <= MAX_WAVELET_LEVEL:
                raise PresetError(f"{source}: wavelet level {level:g} is outside 1..{MAX_WAVELET_LEVEL}")
            images += 8 * int(level)
        elif name == "LBP3D":
            images += int(_number(custom.get("lbp3DLevels", setting.get("lbp3DLevels", 2)), "lbp3DLevels",
                                  source)) + 1
        else:
            images += 1
    if images > MAX_DERIVED_IMAGES:
        raise PresetError(f"{source}: the image types ask for {images} filtered images (limit {MAX_DERIVED_IMAGES})")
    if setting.get("binCount") is not None:
        count = _number(setting["binCount"], "binCount", source)
        if not 1 <= count <= MAX_BIN_COUNT:
            raise PresetError(f"{source}: binCount {count:g} is outside 1..{MAX_BIN_COUNT}")
    width = setting.get("binWidth")
    if width is not None:
        width = _number(width, "binWidth", source)
        if width < MIN_BIN_WIDTH:
            raise PresetError(f"{source}: binWidth {width:g} is below {MIN_BIN_WIDTH:g} (it would make an "
                              "absurd number of grey levels)")
        rr = setting.get("resegmentRange")
        if isinstance(rr, (list, tuple)) and len(rr) == 2 and setting.get("resegmentMode", "absolute") == "absolute":
            span = abs(_number(rr[1], "resegmentRange", source) - _number(rr[0], "resegmentRange", source))
            if span / width > MAX_BINS:
                raise PresetError(f"{source}: resegmentRange {list(rr)} with binWidth {width:g} makes "
                                  f"{span / width:,.0f} grey levels (limit {MAX_BINS:,})")


#: Validated parameter sets, by their canonical YAML (validation loads the schema: ~80 ms).
_VALID: dict[str, dict] = {}


#: Parsed and validated parameters by YAML text: a cohort or a GUI session loads the same preset for
#: every extraction, and parsing it took 4 ms of brain1's 49 ms ``ct-original`` extraction.
_PARSED: dict[str, dict] = {}


def preset_from_text(text: str, name: str = "custom", path: Path | None = None) -> Preset:
    """Parse and validate YAML text (e.g. edited in the GUI) into a :class:`Preset`."""
    cached = _PARSED.get(text)
    if cached is None:
        try:
            params = load_yaml(text, source=name)
        except UntrustedInputError as exc:
            raise PresetError(f"{name}: {exc.reason}") from None
        cached = validate_params(params, name)  # raises before anything is cached
        if len(_PARSED) >= 64:
            _PARSED.clear()
        _PARSED[text] = copy.deepcopy(cached)
    return Preset(name=name, text=text, params=copy.deepcopy(cached), path=path)


def load_preset(preset: str | Path | Preset | dict) -> Preset:
    """Load a preset by name, YAML path, parameter dict, or pass a :class:`Preset` through.

    Parameters
    ----------
    preset : str, Path, Preset or dict
        A shipped preset name (``"ct-wavelet"``), the path of a PyRadiomics
        YAML file, or a parameter dictionary.

    Raises
    ------
    PresetError
        Unknown name, unreadable file, invalid YAML or parameters.
    """
    if isinstance(preset, Preset):
        return preset
    if isinstance(preset, dict):
        text = yaml.safe_dump(preset, sort_keys=False)
        return Preset(name="custom", text=text, params=validate_params(copy.deepcopy(preset), "custom"))
    p = Path(preset)
    if p.suffix.lower() in (".yaml", ".yml", ".json") or p.exists():
        if not p.is_file():
            raise PresetError(f"{p}: preset file not found")
        from radgui.untrusted import MAX_TEXT_BYTES

        try:
            if p.stat().st_size > MAX_TEXT_BYTES:
                raise PresetError(f"{p}: preset of {p.stat().st_size:,} bytes is larger than the "
                                  f"{MAX_TEXT_BYTES:,}-byte limit")
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PresetError(f"{p}: cannot read the preset ({exc})") from None
        return preset_from_text(text, name=p.stem, path=p)
    path = preset_path(str(preset))
    return preset_from_text(path.read_text(encoding="utf-8"), name=path.stem, path=path)
