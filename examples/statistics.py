"""The statistics a radiomics paper reports, on a seeded synthetic cohort.

* discrimination: AUC with its DeLong 95% CI, and a paired DeLong test of a
  Radscore against a clinical score;
* calibration: Hosmer-Lemeshow test of the predicted probabilities;
* survival: Kaplan-Meier median by risk group and the log-rank test;
* reproducibility: ICC(2,1) of a feature measured by two readers;
* a figure (ROC curves, Kaplan-Meier curves with numbers at risk) drawn with
  radgui's matplotlib displays, saved as PNG, without pyplot.

Run::

    .venv/bin/python examples/statistics.py [OUTDIR]

Writes ``statistics.png`` into OUTDIR (default: a new temporary folder).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from radgui.plots import KaplanMeierDisplay, RocDisplay
from radgui.stats import delong_test, hosmer_lemeshow, icc, kaplan_meier, logrank, roc_auc

outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="radgui-example-"))
outdir.mkdir(parents=True, exist_ok=True)

# A cohort of 200 patients: the true risk depends on a latent tumour trait; the Radscore sees it well,
# the clinical score poorly. Progression-free survival is shorter for a higher true risk.
rng = np.random.default_rng(2024)
n = 200
trait = rng.normal(size=n)
radscore = trait + rng.normal(scale=0.6, size=n)
clinical = 0.5 * trait + rng.normal(scale=1.0, size=n)
eta = -0.3 + 1.2 * trait
prob = 1 / (1 + np.exp(-eta))                      # a calibrated model's predicted probability
y = rng.binomial(1, prob)                          # 1 = progression at 12 months
pfs_months = rng.exponential(scale=18 * np.exp(-0.8 * trait))
censor_months = rng.uniform(12, 48, size=n)
time_months = np.minimum(pfs_months, censor_months)
event = (pfs_months <= censor_months).astype(int)
risk_group = np.where(radscore >= np.median(radscore), "high", "low")

# Discrimination.
auc_rad, auc_cli = roc_auc(y, radscore), roc_auc(y, clinical)
test = delong_test(y, radscore, clinical)
print(f"AUC       Radscore {auc_rad.auc:.3f} [{auc_rad.ci_low:.3f}, {auc_rad.ci_high:.3f}]  "
      f"clinical {auc_cli.auc:.3f} [{auc_cli.ci_low:.3f}, {auc_cli.ci_high:.3f}]")
print(f"DeLong    difference {test.auc_a - test.auc_b:+.3f} [{test.diff_ci_low:+.3f}, {test.diff_ci_high:+.3f}],"
      f" z {test.z:.2f}, p {test.p_value:.2g}")

# Calibration.
hl = hosmer_lemeshow(y, prob, groups=10)
print(f"H-L       chi2 {hl.statistic:.2f} on {hl.df} df, p {hl.p_value:.3f}")

# Survival.
for g in ("low", "high"):
    km = kaplan_meier(time_months[risk_group == g], event[risk_group == g])
    print(f"K-M       {g:4s} risk: n {km.n}, events {km.n_events}, median PFS {km.median:.1f} months "
          f"[{km.median_ci_low:.1f}, {km.median_ci_high:.1f}], 12-month PFS {km.survival_at(12):.2f}")
lr = logrank(time_months, event, risk_group)
print(f"log-rank  chi2 {lr.statistic:.2f} on {lr.df} df, p {lr.p_value:.2g}")

# Reproducibility: one feature measured on 30 lesions by two readers (targets x raters).
true_value = rng.normal(100, 20, size=30)
ratings = np.column_stack([true_value + rng.normal(0, 5, 30), true_value + 3 + rng.normal(0, 5, 30)])
r = icc(ratings, "ICC(2,1)")
print(f"ICC(2,1)  {r.icc:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}], passes 0.75: {r.passes(0.75)}")

# The figure: displays draw into the Axes they are given (no pyplot, works in scripts, reports and the GUI).
fig = Figure(figsize=(11, 5), layout="constrained")
ax_roc, ax_km = fig.subplots(1, 2)
RocDisplay.from_predictions(y, radscore, name="Radscore", ax=ax_roc, show_cutoff=True)
RocDisplay.from_predictions(y, clinical, name="Clinical", ax=ax_roc)
KaplanMeierDisplay.from_survival(time_months, event, risk_group, time_label="Months", ax=ax_km)
fig.savefig(outdir / "statistics.png", dpi=100)
print(f"wrote     {outdir / 'statistics.png'}")
