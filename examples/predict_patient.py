"""Score one patient with a model bundle: probability with CI, nomogram points, risk group.

Uses the demo model and demo CT shipped inside radgui. The demo model is
SYNTHETIC (trained on simulated lesion phantoms): it shows the workflow and has
no clinical meaning. Research use only, not for clinical decisions.

``predict`` checks the clinical values first, computes only the radiomics
features the model needs (with the feature preset it was trained with), then
applies the model's stored preprocessing and coefficients.

Run::

    .venv/bin/python examples/predict_patient.py [OUTDIR]

Writes ``prediction.json`` into OUTDIR (default: a new temporary folder).
"""

import json
import sys
import tempfile
from pathlib import Path

import radgui
from radgui.io import load_mask, load_volume
from radgui.model import ModelBundle, predict

outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="radgui-example-"))
outdir.mkdir(parents=True, exist_ok=True)

bundle = ModelBundle.load(radgui.RESOURCES / "models" / "demo.radgui-model")
print(f"model     {bundle.name}")
print(f"needs     radiomics {', '.join(bundle.radiomics_features)}")
for p in bundle.clinical_predictors:  # what the clinical form asks for
    allowed = f"one of {p.categories}" if p.categories else f"{p.min:g} to {p.max:g} {p.unit}"
    print(f"          clinical {p.name} ({p.label}): {allowed}")

ct = load_volume(radgui.RESOURCES / "demo" / "lung1_ct.nrrd")
tumour = load_mask(radgui.RESOURCES / "demo" / "lung1_tumour.nrrd", like=ct, label=1)
clinical = {"ecog": "1", "nlr": 4.2}  # categorical values as strings, continuous as numbers

pred = predict(bundle, ct, {"tumour": tumour}, clinical)

print(f"probability {pred.probability:.3f}  95% CI [{pred.ci_low:.3f}, {pred.ci_high:.3f}]")
print(f"radscore    {pred.radscore:.3f}  (linear predictor {pred.linear_predictor:.3f})")
print("points      " + ", ".join(f"{term} {pts:.0f}" for term, pts in pred.points.items())
      + f"  -> total {pred.total_points:.0f}")
print(f"risk group  {pred.risk_group}  (percentile {pred.percentile:.0f} of the reference cohort)")
print("features    " + ", ".join(f"{name} {value:.4g}" for name, value in pred.features.items()))
for w in pred.warnings:
    print(f"warning     {w}")

# to_dict() holds the result; the feature values are an extra attribute set by predict().
(outdir / "prediction.json").write_text(json.dumps({**pred.to_dict(), "features": pred.features}, indent=2))
print(f"wrote       {outdir / 'prediction.json'}")
