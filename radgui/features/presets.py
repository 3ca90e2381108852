"""Feature presets: PyRadiomics parameter files, validated against PyRadiomics' schema.

A preset is an ordinary PyRadiomics YAML parameter file (``imageType``,
``featureClass``, ``setting``). radgui ships five of them in
``resources/presets/`` (their file stems are the preset names, documented in
that folder's README with the study each reproduces); any other PyRadiomics
YAML file can be loaded by path, and a preset can be edited as text in the GUI.

Every preset is validated with pykwalify against the schema PyRadiomics itself
uses (``radiomics/schemas/paramSchema.yaml`` and ``schemaFuncs.py``), so a
misspelt key or a value out of range is refused with the key named, before any
extraction starts.
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
    if len(_VALID) < 256:
        _VALID[key] = copy.deepcopy(valid)
    return valid


#: Validated parameter sets, by their canonical YAML (validation loads the schema: ~80 ms).
_VALID: dict[str, dict] = {}


def preset_from_text(text: str, name: str = "custom", path: Path | None = None) -> Preset:
    """Parse and validate YAML text (e.g. edited in the GUI) into a :class:`Preset`."""
    try:
        params = load_yaml(text, source=name)
    except UntrustedInputError as exc:
        raise PresetError(f"{name}: {exc.reason}") from None
    return Preset(name=name, text=text, params=validate_params(params, name), path=path)


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
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PresetError(f"{p}: cannot read the preset ({exc})") from None
        return preset_from_text(text, name=p.stem, path=p)
    path = preset_path(str(preset))
    return preset_from_text(path.read_text(encoding="utf-8"), name=path.stem, path=path)
