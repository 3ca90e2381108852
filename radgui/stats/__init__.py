"""Validated statistics for radiomics models (pure numerics, no Qt).

Every function returns a small frozen dataclass (or a DataFrame where said)
and states its convention in its docstring; each is tested against published
values or reference implementations (R pROC, survival, ResourceSelection,
psych; Stata; lifelines, statsmodels, scikit-learn, pingouin). See
``docs/stats.md``.

>>> from radgui.stats import roc_auc
>>> r = roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
>>> r.auc
0.75
"""

from .bootstrap import BootstrapCI, bootstrap_ci, bootstrap_cis, iter_bootstrap_ci
from .paired_bootstrap import PairedBootstrap, PairedDifference, paired_bootstrap, paired_c_index
from .calibration import Calibration, HosmerLemeshow, calibration, hosmer_lemeshow
from .decision import decision_curve
from .icc import ICC, ICC_FORMS, icc
from .reclassification import Reclassification, idi, nri
from .roc import (
    BinaryMetrics,
    DelongTest,
    PrAuc,
    RocAuc,
    YoudenCutoff,
    binary_metrics,
    delong_test,
    pr_auc,
    roc_auc,
    roc_curve,
    youden_cutoff,
)
from .outcome import (
    GroupComparison,
    KMSummary,
    PairedChange,
    compare_by_outcome,
    cox_table,
    km_summary,
    landmark_rates,
    paired_change,
    time_dependent_auc,
    time_dependent_roc,
)
from .survival import (
    CoxResult,
    CoxTerm,
    KaplanMeier,
    Logrank,
    concordance_index,
    cox,
    kaplan_meier,
    logrank,
)

__all__ = [
    "roc_auc",
    "delong_test",
    "youden_cutoff",
    "binary_metrics",
    "roc_curve",
    "pr_auc",
    "hosmer_lemeshow",
    "calibration",
    "decision_curve",
    "nri",
    "idi",
    "kaplan_meier",
    "logrank",
    "cox",
    "concordance_index",
    "icc",
    "ICC_FORMS",
    "bootstrap_ci",
    "bootstrap_cis",
    "iter_bootstrap_ci",
    "RocAuc",
    "DelongTest",
    "YoudenCutoff",
    "PrAuc",
    "BinaryMetrics",
    "HosmerLemeshow",
    "Calibration",
    "Reclassification",
    "KaplanMeier",
    "Logrank",
    "CoxResult",
    "CoxTerm",
    "ICC",
    "BootstrapCI",
    "cox_table",
    "km_summary",
    "landmark_rates",
    "time_dependent_auc",
    "time_dependent_roc",
    "compare_by_outcome",
    "paired_change",
    "KMSummary",
    "GroupComparison",
    "PairedChange",
    "paired_bootstrap",
    "paired_c_index",
    "PairedBootstrap",
    "PairedDifference",
]
