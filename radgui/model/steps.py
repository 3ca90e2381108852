"""Feature preprocessing and selection steps as scikit-learn transformers.

Every step is fitted on training data only and lives inside a
:class:`sklearn.pipeline.Pipeline`, so cross-validation refits it on each
training fold and nothing leaks from the test fold. Steps take and return
:class:`pandas.DataFrame` (columns = feature names), so the selected feature
names survive to the model bundle.

The center (batch) and ComBat covariates travel as *index levels* of the
feature frame (``batch`` and ``cov:<name>``), because scikit-learn splits rows
but passes only ``X`` and ``y`` to ``fit``/``transform``; the index is split
with the rows and cannot leak.

The default order (issue 7) is: ICC filter, near-zero variance, z-score, ComBat,
correlation filter, univariate filter, mRMR, Relief, PCA, LASSO, stability
selection, RFE (``radgui.model.learners.STEP_ORDER``); ``steps.order`` in the
config replaces it (``radgui.model.learners.check_step_order``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from radgui.errors import ClinicalValueError, ConfigError

BATCH_LEVEL = "batch"
COV_PREFIX = "cov:"
GROUP_LEVEL = "group"


def groups_of(X) -> np.ndarray | None:
    """The patient of each row (index level ``group``), or None when rows are not grouped."""
    names = getattr(getattr(X, "index", None), "names", None) or []
    if GROUP_LEVEL not in names:
        return None
    return np.asarray(X.index.get_level_values(GROUP_LEVEL)).astype(str)


class GroupedStratifiedKFold:
    """Stratified k-fold that keeps the rows of one patient in one fold.

    The patient of each row is read from the ``group`` index level of ``X``
    (set from ``group:`` in the training config), so that the splitter works
    inside scikit-learn objects that never see a ``groups`` argument
    (``RandomizedSearchCV``, ``StackingClassifier``, ``CalibratedClassifierCV``,
    the LASSO's lambda CV). Without that level, or with one row per patient,
    it is exactly :class:`~sklearn.model_selection.StratifiedKFold` (same
    folds for the same seed); with it, it is
    :class:`~sklearn.model_selection.StratifiedGroupKFold`.
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def _splitter(self, X, groups):
        from sklearn.model_selection import StratifiedGroupKFold

        g = groups if groups is not None else groups_of(X)
        if g is None or len(np.unique(g)) == len(g):
            return StratifiedKFold(self.n_splits, shuffle=self.shuffle,
                                   random_state=self.random_state if self.shuffle else None), None
        return StratifiedGroupKFold(self.n_splits, shuffle=self.shuffle,
                                    random_state=self.random_state if self.shuffle else None), np.asarray(g)

    def split(self, X, y=None, groups=None):
        cv, g = self._splitter(X, groups)
        yield from cv.split(np.zeros((len(y) if y is not None else len(X), 1)), y, g)

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def __repr__(self):
        return (f"GroupedStratifiedKFold(n_splits={self.n_splits}, shuffle={self.shuffle}, "
                f"random_state={self.random_state})")


def _frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    X = np.asarray(X, dtype=float)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])


def _binary(y) -> np.ndarray:
    y = np.asarray(y)
    classes = np.unique(y)
    if len(classes) != 2:
        raise ConfigError(f"the outcome must have exactly two classes, found {len(classes)}")
    return (y == classes[1]).astype(int)


class _Selector(TransformerMixin, BaseEstimator):
    """Base: ``fit`` sets ``selected_`` (column names); ``transform`` keeps them."""

    def transform(self, X):
        check_is_fitted(self, "selected_")
        X = _frame(X)
        missing = [c for c in self.selected_ if c not in X.columns]
        if missing:
            raise ConfigError(f"feature column(s) {missing[:5]} seen in training are missing")
        return X.loc[:, list(self.selected_)]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "selected_")
        return np.asarray(self.selected_, dtype=object)

    def _keep_at_least_one(self, X, order):
        """Never return zero columns: keep the best-ranked one instead."""
        if not self.selected_:
            self.selected_ = [X.columns[int(order[0])]]


# --------------------------------------------------------------------------
class ICCFilter(_Selector):
    """Keep features whose inter-/intra-observer ICC is at least ``threshold``.

    Parameters
    ----------
    icc : mapping feature -> ICC
        From ``radgui icc`` (e.g. ICC(2,1) or ICC(3,1)). Features without an
        ICC are dropped (their reproducibility is unknown).
    threshold : float
        Default 0.75 ("good" reliability, Koo & Li 2016).
    """

    def __init__(self, icc: Mapping[str, float] | None = None, threshold: float = 0.75):
        self.icc = icc
        self.threshold = threshold

    def fit(self, X, y=None):
        X = _frame(X)
        icc = dict(self.icc or {})
        self.selected_ = [c for c in X.columns if icc.get(c, -np.inf) >= self.threshold]
        if not self.selected_:
            raise ConfigError(f"ICC filter: no feature has ICC >= {self.threshold} "
                              f"(the ICC table names {len(icc)} features; do its names match the feature table?)")
        return self


class NearZeroVariance(_Selector):
    """Drop near-zero-variance features (caret's ``nearZeroVar`` rule).

    A feature is dropped when it is constant, or when the ratio of its most to
    second most frequent value exceeds ``freq_cut`` *and* its distinct values
    are fewer than ``unique_cut`` percent of the samples.
    """

    def __init__(self, freq_cut: float = 95 / 5, unique_cut: float = 10.0):
        self.freq_cut = freq_cut
        self.unique_cut = unique_cut

    def fit(self, X, y=None):
        X = _frame(X)
        keep = []
        n = len(X)
        for c in X.columns:
            counts = X[c].value_counts(dropna=True).to_numpy()
            if len(counts) <= 1:
                continue
            ratio = counts[0] / counts[1]
            pct_unique = 100.0 * len(counts) / n
            if ratio > self.freq_cut and pct_unique < self.unique_cut:
                continue
            keep.append(c)
        if not keep:
            raise ConfigError("near-zero-variance filter: every feature is (near) constant")
        self.selected_ = keep
        return self


class ZScore(TransformerMixin, BaseEstimator):
    """Standardise each feature with the training mean and population SD (ddof=0).

    This is glmnet's ``standardize=TRUE`` convention. Constant features get
    SD 1 (they are removed by the near-zero-variance filter anyway).
    """

    def fit(self, X, y=None):
        X = _frame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.mean_ = X.mean(axis=0).to_numpy(dtype=float)
        sd = X.std(axis=0, ddof=0).to_numpy(dtype=float)
        sd[~(sd > 0)] = 1.0
        self.scale_ = sd
        return self

    def transform(self, X):
        check_is_fitted(self, "mean_")
        X = _frame(X)[list(self.feature_names_in_)]
        return (X - self.mean_) / self.scale_

    def get_feature_names_out(self, input_features=None):
        return self.feature_names_in_

    def to_dict(self, features: Sequence[str]) -> dict:
        idx = [list(self.feature_names_in_).index(f) for f in features]
        return {"features": list(features), "mean": [float(self.mean_[i]) for i in idx],
                "sd": [float(self.scale_[i]) for i in idx]}


# --------------------------------------------------------------------------
class ComBat(TransformerMixin, BaseEstimator):
    """ComBat harmonisation of features across centers (batches).

    The batch of each row is read from the index level ``batch`` of ``X``;
    covariates whose effect is preserved from index levels ``cov:<name>``
    (numeric). Estimates are stored (:meth:`to_dict`) so a new patient from a
    known center is harmonised the same way.

    Model (Johnson 2007, Fortin 2018): ``x_ij = a + C_j b + g_batch + d_batch e``.
    Location/scale batch effects are estimated on standardised data and shrunk
    by empirical Bayes: parametric priors (normal for ``g``, inverse gamma for
    ``d``) or non-parametric (``parametric=False``, a likelihood-weighted
    average over the other features).

    Parameters
    ----------
    parametric : bool
    mean_only : bool
        Adjust locations only (``d = 1``).
    eps : float
        Convergence threshold of the parametric iteration (neuroCombat: 1e-4).
    zscore_after : bool
        Set by the pipeline builder when a user step order runs the z-score
        *after* ComBat. The transform is unchanged; :meth:`to_dict` then
        stores the estimates re-expressed on the z-score scale, so that a
        bundle applied in radgui predict's fixed order (z-score, then ComBat)
        gives the same values: ComBat is equivariant under a per-feature
        affine map, ``zscore(combat(x)) == combat_z(zscore(x))`` with
        ``grand_mean`` and ``beta`` shifted and scaled, ``var_pooled`` scaled
        by ``1/sd**2`` and ``gamma*``/``delta*`` unchanged.

    References
    ----------
    Johnson WE, Li C, Rabinovic A. Adjusting batch effects in microarray
    expression data using empirical Bayes methods. Biostatistics 2007;8:118-27.
    Fortin JP et al. Harmonization of cortical thickness measurements across
    scanners and sites. NeuroImage 2018;167:104-20 (neuroCombat).
    """

    def __init__(self, parametric: bool = True, mean_only: bool = False, eps: float = 1e-4,
                 zscore_after: bool = False):
        self.parametric = parametric
        self.mean_only = mean_only
        self.eps = eps
        self.zscore_after = zscore_after

    @staticmethod
    def _batches_covs(X: pd.DataFrame):
        names = list(X.index.names)
        if BATCH_LEVEL not in names:
            raise ConfigError("ComBat needs the center of every patient (set 'center:' in the config)")
        batch = np.asarray(X.index.get_level_values(BATCH_LEVEL)).astype(str)
        cov_names = [n for n in names if isinstance(n, str) and n.startswith(COV_PREFIX)]
        covs = np.column_stack([np.asarray(X.index.get_level_values(n), dtype=float) for n in cov_names]) \
            if cov_names else np.zeros((len(X), 0))
        return batch, [n[len(COV_PREFIX):] for n in cov_names], covs

    def fit(self, X, y=None):
        X = _frame(X)
        batch, cov_names, covs = self._batches_covs(X)
        data = X.to_numpy(dtype=float)
        levels = sorted(set(batch))
        if len(levels) < 2:
            raise ConfigError(f"ComBat needs at least two centers, found {levels}")
        onehot = np.column_stack([(batch == b).astype(float) for b in levels])
        n_k = onehot.sum(axis=0)
        if np.any(n_k < 2):
            small = [b for b, k in zip(levels, n_k) if k < 2]
            raise ConfigError(f"ComBat: center(s) {small} have fewer than 2 patients in a training set")
        design = np.column_stack([onehot, covs])
        b_hat = np.linalg.lstsq(design, data, rcond=None)[0]
        grand_mean = (n_k / n_k.sum()) @ b_hat[: len(levels)]
        resid = data - design @ b_hat
        var_pooled = np.mean(resid**2, axis=0)
        var_pooled[~(var_pooled > 0)] = 1e-12
        beta = b_hat[len(levels):]
        stand_mean = grand_mean + covs @ beta
        s = (data - stand_mean) / np.sqrt(var_pooled)
        gamma_hat = np.vstack([s[batch == b].mean(axis=0) for b in levels])
        delta_hat = np.vstack([s[batch == b].var(axis=0, ddof=1) for b in levels])
        if self.mean_only:
            delta_hat[:] = 1.0
        gamma_star = np.empty_like(gamma_hat)
        delta_star = np.empty_like(delta_hat)
        for i, b in enumerate(levels):
            sb = s[batch == b]
            if self.parametric:
                gamma_star[i], delta_star[i] = _combat_parametric(sb, gamma_hat[i], delta_hat[i],
                                                                  self.mean_only, self.eps)
            else:
                gamma_star[i], delta_star[i] = _combat_nonparametric(sb, gamma_hat[i], delta_hat[i],
                                                                     self.mean_only)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.levels_ = levels
        self.covariates_ = cov_names
        self.grand_mean_, self.var_pooled_, self.beta_ = grand_mean, var_pooled, beta
        self.gamma_hat_, self.delta_hat_ = gamma_hat, delta_hat
        self.gamma_star_, self.delta_star_ = gamma_star, delta_star
        if self.zscore_after:  # the mean and SD the following ZScore step computes on this step's output
            out = self.transform(X)
            self.after_mean_ = out.mean(axis=0).to_numpy(dtype=float)
            sd = out.std(axis=0, ddof=0).to_numpy(dtype=float)
            sd[~(sd > 0)] = 1.0
            self.after_scale_ = sd
        return self

    def transform(self, X):
        check_is_fitted(self, "gamma_star_")
        X = _frame(X)[list(self.feature_names_in_)]
        batch, cov_names, covs = self._batches_covs(X)
        if cov_names != self.covariates_:
            raise ConfigError(f"ComBat was fitted with covariates {self.covariates_}, got {cov_names}")
        unknown = sorted(set(batch) - set(self.levels_))
        if unknown:
            raise ClinicalValueError(f"center(s) {unknown} were not in the training data; ComBat cannot "
                                     f"harmonise them (known centers: {self.levels_})")
        idx = np.array([self.levels_.index(b) for b in batch])
        adj = combat_adjust(X.to_numpy(dtype=float), covs, self.grand_mean_, self.beta_, self.var_pooled_,
                            self.gamma_star_[idx], self.delta_star_[idx])
        return pd.DataFrame(adj, index=X.index, columns=X.columns)

    def get_feature_names_out(self, input_features=None):
        return self.feature_names_in_

    def to_dict(self, features: Sequence[str], batch_name: str) -> dict:
        """Estimates for ``features`` in the bundle's ``preprocessing.combat`` form."""
        idx = [list(self.feature_names_in_).index(f) for f in features]
        m, s = np.zeros(len(self.feature_names_in_)), np.ones(len(self.feature_names_in_))
        if self.zscore_after:  # estimates on the z-score scale (see the class docstring)
            m, s = self.after_mean_, self.after_scale_
        return {
            "batch": batch_name, "features": list(features), "parametric": bool(self.parametric),
            "covariates": list(self.covariates_),
            "grand_mean": [float((self.grand_mean_[i] - m[i]) / s[i]) for i in idx],
            "var_pooled": [float(self.var_pooled_[i] / s[i] ** 2) for i in idx],
            "covariate_beta": [[float(row[i] / s[i]) for i in idx] for row in self.beta_],
            "batches": {b: {"gamma": [float(self.gamma_star_[k, i]) for i in idx],
                            "delta": [float(self.delta_star_[k, i]) for i in idx]}
                        for k, b in enumerate(self.levels_)},
        }


def _combat_parametric(s, g_hat, d_hat, mean_only, eps, max_iter=1000):
    n = s.shape[0]
    g_bar = g_hat.mean()
    t2 = g_hat.var(ddof=1)
    if mean_only:  # sva/neuroCombat: postmean(g_hat, g_bar, n=1, d=1, t2)
        return (t2 * g_hat + g_bar) / (t2 + 1.0), np.ones_like(d_hat)
    m, v = d_hat.mean(), d_hat.var(ddof=1)
    a = (2 * v + m**2) / v
    b = (m * v + m**3) / v
    g_old, d_old = g_hat.copy(), d_hat.copy()
    for _ in range(max_iter):
        g_new = (t2 * n * g_hat + d_old * g_bar) / (t2 * n + d_old)
        sum2 = ((s - g_new) ** 2).sum(axis=0)
        d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
        change = max(np.max(np.abs(g_new - g_old) / np.abs(g_old).clip(1e-12)),
                     np.max(np.abs(d_new - d_old) / np.abs(d_old).clip(1e-12)))
        g_old, d_old = g_new, d_new
        if change < eps:
            break
    return g_old, d_old


def _combat_nonparametric(s, g_hat, d_hat, mean_only):
    n, p = s.shape
    g_star, d_star = np.empty(p), np.empty(p)
    for j in range(p):
        others = np.arange(p) != j
        g, d = g_hat[others], d_hat[others]
        # log-likelihood of feature j's data under each other feature's (g, d)
        resid2 = ((s[:, [j]] - g[None, :]) ** 2).sum(axis=0)
        loglh = -0.5 * n * np.log(2 * np.pi * d) - resid2 / (2 * d)
        w = np.exp(loglh - loglh.max())
        g_star[j] = np.sum(g * w) / np.sum(w)
        d_star[j] = 1.0 if mean_only else np.sum(d * w) / np.sum(w)
    return g_star, d_star


def combat_apply_one(combat: Mapping, values: Mapping[str, float],
                     clinical: Mapping[str, object]) -> dict[str, float]:
    """Harmonise one patient's features with stored ComBat estimates.

    ``clinical`` must hold the center (``combat["batch"]``) and numeric
    covariates. Raises :class:`ClinicalValueError` for an unknown center.
    """
    center = clinical.get(combat["batch"])
    key = None if center is None else str(center)
    if key not in combat["batches"]:
        raise ClinicalValueError(f"center '{combat['batch']}' = {center!r} is not one of the training centers "
                                 f"{sorted(combat['batches'])}; ComBat cannot harmonise it")
    est = combat["batches"][key]
    features = list(combat["features"])
    covs = np.array([[float(clinical[c]) for c in combat["covariates"]]])
    beta = np.asarray(combat["covariate_beta"], dtype=float).reshape(covs.shape[1], len(features))
    adj = combat_adjust(np.array([[float(values[f]) for f in features]]), covs,
                        np.asarray(combat["grand_mean"], dtype=float), beta,
                        np.asarray(combat["var_pooled"], dtype=float),
                        np.asarray(est["gamma"], dtype=float)[None], np.asarray(est["delta"], dtype=float)[None])
    return dict(zip(features, adj[0].tolist()))


def combat_adjust(data, covs, grand_mean, beta, var_pooled, gamma, delta) -> np.ndarray:
    """ComBat's adjustment of rows with given estimates (Johnson et al. 2007; the one implementation).

    ``data`` (n, p) features, ``covs`` (n, q) covariates, ``grand_mean`` and
    ``var_pooled`` (p,), ``beta`` (q, p), ``gamma`` and ``delta`` (n, p): the
    batch estimates of each row's batch. Each feature is standardised by the
    covariate-adjusted mean and pooled SD, its batch location and scale
    removed, and put back on the original scale. :meth:`ComBat.transform` (a
    cohort) and :func:`combat_apply_one` (one patient from a bundle) both call it.
    """
    stand_mean = grand_mean + covs @ beta
    sd = np.sqrt(var_pooled)
    return ((data - stand_mean) / sd - gamma) / np.sqrt(delta) * sd + stand_mean


# --------------------------------------------------------------------------
def _association(X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """|AUC - 0.5| of each feature (Mann-Whitney effect size), rank-based."""
    ranks = X.rank(axis=0).to_numpy()
    n1 = y.sum()
    n0 = len(y) - n1
    u = ranks[y == 1].sum(axis=0) - n1 * (n1 + 1) / 2
    return np.abs(u / (n0 * n1) - 0.5)


class CorrelationFilter(_Selector):
    """Drop one of every pair of features with ``|r| > threshold``.

    Of a correlated pair the feature more associated with the outcome
    (larger ``|AUC - 0.5|``) is kept: features are visited from most to least
    associated and kept when not too correlated with any kept one.

    Parameters
    ----------
    threshold : float
    method : {"pearson", "spearman"}
    """

    def __init__(self, threshold: float = 0.9, method: str = "pearson"):
        self.threshold = threshold
        self.method = method

    def fit(self, X, y):
        X = _frame(X)
        y = _binary(y)
        data = X.rank(axis=0).to_numpy() if self.method == "spearman" else X.to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.abs(np.corrcoef(data, rowvar=False))
        r = np.nan_to_num(np.atleast_2d(r))
        order = np.argsort(-_association(X, y), kind="stable")
        kept: list[int] = []
        for j in order:
            if all(r[j, k] <= self.threshold for k in kept):
                kept.append(int(j))
        self.selected_ = [X.columns[j] for j in sorted(kept)]
        return self


class UnivariateFilter(_Selector):
    """Keep features associated with the outcome in a univariate test.

    Parameters
    ----------
    test : {"ttest", "mannwhitney", "anova", "kruskal"}
        Welch t-test, Mann-Whitney U, one-way ANOVA or Kruskal-Wallis
        (the last two also handle more than two classes).
    alpha : float
        Keep features with ``p < alpha``.
    min_features : int
        If fewer pass, keep this many with the smallest p.
    """

    def __init__(self, test: str = "mannwhitney", alpha: float = 0.05, min_features: int = 1):
        self.test = test
        self.alpha = alpha
        self.min_features = min_features

    def fit(self, X, y):
        X = _frame(X)
        y = np.asarray(y)
        groups = [X.to_numpy(dtype=float)[y == c] for c in np.unique(y)]
        if self.test == "ttest":
            p = stats.ttest_ind(groups[0], groups[1], axis=0, equal_var=False).pvalue
        elif self.test == "mannwhitney":
            p = stats.mannwhitneyu(groups[0], groups[1], axis=0).pvalue
        elif self.test == "anova":
            p = stats.f_oneway(*groups, axis=0).pvalue
        elif self.test == "kruskal":
            p = np.array([stats.kruskal(*[g[:, j] for g in groups]).pvalue
                          if np.ptp(X.iloc[:, j].to_numpy()) > 0 else 1.0 for j in range(X.shape[1])])
        else:
            raise ConfigError(f"univariate filter: unknown test {self.test!r} "
                              "(use ttest, mannwhitney, anova or kruskal)")
        p = np.nan_to_num(np.asarray(p, dtype=float), nan=1.0)
        self.pvalues_ = p
        keep = np.flatnonzero(p < self.alpha)
        if len(keep) < self.min_features:
            keep = np.argsort(p, kind="stable")[: self.min_features]
        self.selected_ = [X.columns[j] for j in sorted(keep)]
        return self


class MRMR(_Selector):
    """Minimum-redundancy maximum-relevance selection (Peng 2005, MID scheme).

    Features are discretised into ``bins`` equal-frequency bins; relevance is
    the mutual information with the outcome and redundancy the mean mutual
    information with the features already selected; at each step the feature
    maximising ``relevance - redundancy`` (MID) or ``relevance / redundancy``
    (MIQ) is added.

    References
    ----------
    Peng H, Long F, Ding C. Feature selection based on mutual information:
    criteria of max-dependency, max-relevance, and min-redundancy. IEEE TPAMI
    2005;27:1226-38.
    """

    def __init__(self, k: int = 20, scheme: str = "MID", bins: int = 5):
        self.k = k
        self.scheme = scheme
        self.bins = bins

    def fit(self, X, y):
        X = _frame(X)
        y = np.asarray(y)
        codes = _discretise(X.to_numpy(dtype=float), self.bins)       # n x p
        y_codes = np.unique(y, return_inverse=True)[1]
        relevance = _mutual_info(y_codes, codes)
        k = min(self.k, X.shape[1])
        selected = [int(np.argmax(relevance))]
        redundancy = np.zeros(X.shape[1])
        while len(selected) < k:
            redundancy += _mutual_info(codes[:, selected[-1]], codes)
            mean_red = redundancy / len(selected)
            score = relevance / np.maximum(mean_red, 1e-12) if self.scheme == "MIQ" else relevance - mean_red
            score[selected] = -np.inf
            selected.append(int(np.argmax(score)))
        self.relevance_ = relevance
        self.order_ = [X.columns[j] for j in selected]
        self.selected_ = [X.columns[j] for j in sorted(selected)]
        return self


def _discretise(data: np.ndarray, bins: int) -> np.ndarray:
    ranks = stats.rankdata(data, axis=0, method="average")
    return np.minimum((ranks - 1) * bins // data.shape[0], bins - 1).astype(int)


def _mutual_info(a: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Mutual information (nats) of discrete vector ``a`` with each column of ``B``."""
    n = len(a)
    ka, kb = a.max() + 1, B.max() + 1
    A1 = np.eye(ka)[a]                                # n x ka
    B1 = np.eye(kb)[B]                                # n x p x kb
    joint = np.einsum("na,npb->pab", A1, B1) / n      # p x ka x kb
    pa = joint.sum(axis=2, keepdims=True)
    pb = joint.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = joint * np.log(joint / (pa * pb))
    return np.nansum(terms, axis=(1, 2))


# --------------------------------------------------------------------------
def lasso_logistic(X: np.ndarray, y: np.ndarray, lam: float, *, exact: bool = False,
                   tol: float = 1e-6) -> LogisticRegression:
    """L1 logistic regression at a fixed glmnet ``lambda``.

    glmnet (``family="binomial"``, ``alpha=1``) minimises
    ``-loglik/n + lambda * ||b||_1`` with an unpenalised intercept;
    scikit-learn minimises ``||b||_1 + C * sum(logloss)``, so
    ``C = 1 / (n * lambda)`` gives the same solution. ``X`` must already be
    standardised (population SD, as glmnet's ``standardize=TRUE``).

    The fit uses liblinear's newGLMNET coordinate descent (fast); liblinear
    penalises the intercept, so its column is scaled by 1000 (penalty on the
    intercept ``lambda * |b0| / 1000``, negligible). With ``exact=True`` the
    solution is then polished by ``saga``, whose intercept is unpenalised,
    which reproduces glmnet's objective to solver tolerance.
    """
    n = X.shape[0]
    C = 1.0 / (n * lam)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        # liblinear and saga visit samples in a random order: fix it, so a fit is reproducible
        model = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=C, intercept_scaling=1000.0,
                                   tol=tol, max_iter=1000, random_state=0).fit(X, y)
        if exact:
            polished = LogisticRegression(l1_ratio=1.0, solver="saga", C=C, tol=tol * 0.01,
                                          max_iter=20000, warm_start=True, random_state=0)
            polished.coef_, polished.intercept_ = model.coef_.copy(), model.intercept_.copy()
            model = polished.fit(X, y)
    return model


class _ScreenedFit:
    """A LASSO fit on a feature subset, seen as a fit on all ``p`` features.

    ``model`` is a fitted scikit-learn model (``coef_``, ``intercept_``) or an
    ``(intercept, coefficients)`` pair from :func:`lasso_logistic_cd`.
    """

    def __init__(self, p, idx, model, y):
        self.coef_ = np.zeros((1, p))
        if model is None:  # no feature passed the screen: intercept-only model
            rate = float(np.clip(np.mean(y), 1e-12, 1 - 1e-12))
            self.intercept_ = np.array([np.log(rate / (1 - rate))])
        elif isinstance(model, tuple):
            self.coef_[0, idx] = model[1]
            self.intercept_ = np.array([float(model[0])])
        else:
            self.coef_[0, idx] = model.coef_[0]
            self.intercept_ = model.intercept_.copy()

    def predict_proba(self, X):
        z = self.intercept_[0] + np.asarray(X, dtype=float) @ self.coef_[0]
        with np.errstate(over="ignore"):  # exp(-z) = inf for z << 0 gives the right p = 0: not worth a warning
            p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1 - p, p])


def _mean_logloss(y, eta):
    """``-loglik / n`` of a logistic model with linear predictor ``eta`` (overflow-safe)."""
    return float(np.mean(np.logaddexp(0.0, eta) - y * eta))


@functools.cache
def _cd_available() -> bool:
    """Whether scikit-learn's compiled Gram coordinate descent (a private module) is there and still takes
    the arguments radgui passes: probed once on a 2 x 2 problem whose solution is known (b = [0.5, 0]), so
    a moved module or a changed signature falls back to the liblinear reference instead of failing."""
    try:
        from sklearn.linear_model import _cd_fast

        b = np.zeros(2)
        Q, q = np.eye(2), np.array([1.0, 0.2])
        _cd_fast.enet_coordinate_descent_gram(b, 0.5, 0.0, Q, q, np.array([1.0, 0.2]), 100, 1e-12, _CD_RNG)
    except Exception:  # noqa: BLE001 - any failure of a private API means: do not use it
        return False
    return bool(np.allclose(b, [0.5, 0.0]))


_CD_RNG = np.random.RandomState(0)  # scikit-learn's CD draws a seed from it; cyclic order, so unused


def lasso_logistic_cd(X: np.ndarray, y: np.ndarray, lam: float, intercept: float | None = None,
                      coef: np.ndarray | None = None, *, tol: float = 1e-7,
                      eta_tol: float = 1e-5, max_newton: int = 100) -> tuple[float, np.ndarray]:
    """glmnet's L1 logistic fit at one ``lambda``, warm-started: ``(intercept, coefficients)``.

    Minimises the same objective as :func:`lasso_logistic`
    (``-loglik/n + lambda * ||b||_1``, intercept unpenalised, ``X``
    standardised) the way glmnet's ``lognet`` does (Friedman, Hastie &
    Tibshirani 2010, section 3): an outer Newton (IRLS) loop around a
    weighted least-squares LASSO solved by cyclic coordinate descent. The
    inner solver is scikit-learn's compiled coordinate descent on the Gram
    matrix of the screened features
    (``sklearn.linear_model._cd_fast.enet_coordinate_descent_gram``, stopped
    at a relative duality gap ``tol``); the outer loop stops when the last
    change of the linear predictor, or the next one that Newton's quadratic
    convergence predicts from the last two, is below ``eta_tol``; the intercept is profiled out by weighted
    centring, weights are floored at 1e-5 as in glmnet, and a Newton step
    that would raise the penalised objective is halved (glmnet has no such
    guard; it only matters near separation). Warm starts (``intercept``,
    ``coef``) from the previous ``lambda`` make a path cheap.

    References
    ----------
    Friedman J, Hastie T, Tibshirani R. Regularization paths for generalized
    linear models via coordinate descent. J Stat Softw 2010;33(1):1-22.
    """
    from sklearn.linear_model import _cd_fast

    n, k = X.shape
    y = np.asarray(y, dtype=float)
    b = np.zeros(k) if coef is None else np.array(coef, dtype=float)
    if intercept is None:
        rate = float(np.clip(y.mean(), 1e-12, 1 - 1e-12))
        intercept = np.log(rate / (1 - rate))
    b0 = float(intercept)
    eta = b0 + X @ b
    f = _mean_logloss(y, eta) + lam * np.abs(b).sum()
    prev_change, prev_step = np.inf, 0.0
    for _ in range(max_newton):
        prob = expit(eta)
        w = np.maximum(prob * (1 - prob), 1e-5)
        z = eta + (y - prob) / w                       # working response
        xm = (w @ X) / w.sum()
        zm = float(w @ z) / w.sum()
        s = np.sqrt(w)
        bn = b.copy()
        # min 1/2 ||t - A b||^2 + n lambda ||b||_1 with A = s (X - xm), t = s (z - zm): glmnet's
        # weighted least-squares step times n, solved on its Gram matrix (k x k, k = screened features)
        A = (X - xm) * s[:, None]
        t = (z - zm) * s
        with warnings.catch_warnings():  # a non-converged inner solve is still a descent step
            warnings.simplefilter("ignore", ConvergenceWarning)
            _cd_fast.enet_coordinate_descent_gram(bn, n * lam, 0.0, A.T @ A, A.T @ t, t, 10_000, tol, _CD_RNG)
        db0, db = zm - xm @ bn - b0, bn - b
        step = 1.0
        while True:
            bt0, bt = b0 + step * db0, b + step * db
            etat = bt0 + X @ bt
            ft = _mean_logloss(y, etat) + lam * np.abs(bt).sum()
            if ft <= f + 1e-15 or step < 1e-4:
                break
            step *= 0.5
        change = float(np.max(np.abs(etat - eta)))
        b0, b, eta, f_prev, f = bt0, bt, etat, f, ft
        # Newton converges quadratically: two full steps d1 > d2 predict the next as d2^3 / d1^2;
        # stop when that (or the last step itself) is below eta_tol in the linear predictor
        full = step == 1.0 and prev_step == 1.0 and prev_change > change
        if change < eta_tol or (full and change**3 / prev_change**2 < eta_tol) \
                or abs(f_prev - f) <= 1e-13 * max(1.0, abs(f)):
            break
        prev_change, prev_step = change, step
    return b0, b


def _deviance(y, p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -2 * np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def lambda_path(X: np.ndarray, y: np.ndarray, n_lambdas: int = 100, min_ratio: float | None = None) -> np.ndarray:
    """glmnet's default lambda sequence for L1 logistic on standardised ``X``.

    ``lambda_max = max_j |x_j' (y - mean(y))| / n`` (the smallest lambda with
    all coefficients zero); the path is log-spaced down to
    ``min_ratio * lambda_max`` (0.01 when n < p, else 1e-4).
    """
    n, p = X.shape
    lam_max = np.max(np.abs(X.T @ (y - y.mean()))) / n
    if min_ratio is None:
        min_ratio = 0.01 if n < p else 1e-4
    return np.exp(np.linspace(np.log(lam_max), np.log(lam_max * min_ratio), n_lambdas))


class LassoLogisticCV(_Selector, ClassifierMixin):
    """LASSO logistic regression with k-fold CV over glmnet's lambda path.

    Works both as a selection step (``transform`` keeps features with a
    non-zero coefficient) and as the final classifier (its decision function
    is the Radscore: ``intercept_ + X @ coef_``).

    Lambda is chosen by mean binomial deviance over stratified folds:
    ``lambda.min`` minimises it, ``lambda.1se`` is the largest lambda whose
    deviance lies within one standard error of the minimum (glmnet's
    ``cv.glmnet`` rules).

    Parameters
    ----------
    folds : int
    rule : {"1se", "min"}
    n_lambdas : int
    min_ratio : float, optional
    random_state : int, optional
    """

    #: path solver (see :meth:`_path`); a class attribute, not a parameter: both give the same fit
    _solver = "cd"

    def __init__(self, folds: int = 10, rule: str = "1se", n_lambdas: int = 50,
                 min_ratio: float | None = None, exact: bool = False, random_state: int | None = None):
        self.folds = folds
        self.rule = rule
        self.n_lambdas = n_lambdas
        self.min_ratio = min_ratio
        self.exact = exact
        self.random_state = random_state

    @staticmethod
    def _path(data, yb, lams, stop_ratio=0.99, solver="cd"):
        """Fits along the path; stops (as glmnet) once 99 % of the null deviance is explained.

        Uses glmnet's sequential strong rule (Tibshirani et al. 2012): at
        ``lambda_k`` only features with ``|x_j'(y - p_prev)|/n >= 2 lambda_k -
        lambda_{k-1}`` (plus those already active) enter the solver; every
        excluded feature is then checked against the KKT condition
        ``|x_j'(y - p)|/n <= lambda_k`` and violators are added and the fit
        repeated, so the solution equals the unscreened one.

        ``solver="cd"`` (default) fits each ``lambda`` with
        :func:`lasso_logistic_cd`, warm-started from the previous one, as
        glmnet does; ``solver="liblinear"`` refits from zero with
        :func:`lasso_logistic` (the implementation before issue 20, kept as
        the reference the tests compare against).
        """
        if solver not in ("cd", "liblinear"):
            raise ConfigError(f"LASSO: solver must be 'cd' or 'liblinear', got {solver!r}")
        if solver == "cd" and not _cd_available():  # a scikit-learn without the private compiled CD
            solver = "liblinear"
        n, p = data.shape
        null = _deviance(yb, np.full(n, yb.mean()))
        fits = []
        prob = np.full(n, yb.mean())
        active = np.zeros(p, dtype=bool)
        prev = lams[0]
        b0, coef = None, np.zeros(p)
        grad = np.abs(data.T @ (yb - prob)) / n
        for lam in lams:
            keep = active | (grad >= 2 * lam - prev)
            while True:
                idx = np.flatnonzero(keep)
                if not idx.size:
                    model = None
                elif solver == "cd":
                    model = lasso_logistic_cd(data[:, idx], yb, lam, b0, coef[idx])
                else:
                    model = lasso_logistic(data[:, idx], yb, lam)
                fit = _ScreenedFit(p, idx, model, yb)
                prob = expit(fit.intercept_[0] + data[:, idx] @ fit.coef_[0, idx])
                grad = np.abs(data.T @ (yb - prob)) / n      # the KKT check here; the strong rule next
                viol = ~keep & (grad > lam * (1 + 1e-6))
                if not viol.any():
                    break
                keep |= viol
            fits.append(fit)
            coef, b0 = fit.coef_[0], float(fit.intercept_[0])
            active = coef != 0
            prev = lam
            if 1 - _deviance(yb, prob) / null > stop_ratio:
                break
        return fits

    def fit(self, X, y):
        from threadpoolctl import threadpool_limits

        # the path multiplies small matrices thousands of times: one BLAS thread is fastest, and keeps
        # a fit from competing with the other folds' processes for cores
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y)

    def _fit(self, X, y):
        X = _frame(X)
        if self.rule not in ("1se", "min"):
            raise ConfigError(f"LASSO: rule must be '1se' or 'min', got {self.rule!r}")
        self.classes_ = np.unique(np.asarray(y))
        yb = _binary(y)
        data = X.to_numpy(dtype=float)
        folds = min(self.folds, int(np.bincount(yb).min()))
        if folds < 2:
            raise ConfigError("LASSO: each class needs at least 2 patients for cross-validation")
        lams = lambda_path(data, yb, self.n_lambdas, self.min_ratio)
        # coefficient path on all training data (for the report); its length truncates the sequence
        full = self._path(data, yb, lams, solver=self._solver)
        lams = lams[: len(full)]
        self.coef_path_ = np.array([m.coef_[0] for m in full])
        cv = GroupedStratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        dev = np.zeros((folds, len(lams)))
        for f, (tr, te) in enumerate(cv.split(X, yb)):
            fits = self._path(data[tr], yb[tr], lams, solver=self._solver)
            for j in range(len(lams)):
                m = fits[min(j, len(fits) - 1)]  # a saturated fold keeps its last fit
                dev[f, j] = _deviance(yb[te], m.predict_proba(data[te])[:, 1])
        cvm = dev.mean(axis=0)
        cvsd = dev.std(axis=0, ddof=1) / np.sqrt(folds)
        i_min = int(np.argmin(cvm))
        i_1se = int(np.flatnonzero(cvm <= cvm[i_min] + cvsd[i_min])[0])
        self.lambdas_, self.cv_mean_, self.cv_se_ = lams, cvm, cvsd
        self.lambda_min_, self.lambda_1se_ = float(lams[i_min]), float(lams[i_1se])
        self.lambda_ = self.lambda_1se_ if self.rule == "1se" else self.lambda_min_
        i = i_1se if self.rule == "1se" else i_min
        final = lasso_logistic(data, yb, self.lambda_, exact=True) if self.exact else full[i]
        self.coef_ = final.coef_[0].copy()
        self.intercept_ = float(final.intercept_[0])
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        nz = np.flatnonzero(self.coef_ != 0)
        self.selected_ = [X.columns[j] for j in nz]
        if not self.selected_:
            # glmnet would give an intercept-only model; keep the strongest feature
            self.selected_ = [X.columns[int(np.argmax(np.abs(self.coef_path_[-1])))]]
        return self

    def decision_function(self, X):
        check_is_fitted(self, "coef_")
        X = _frame(X)[list(self.feature_names_in_)]
        return self.intercept_ + X.to_numpy(dtype=float) @ self.coef_

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def radscore_formula(self) -> dict:
        """``{"intercept": a, "coefficients": {feature: b}}`` over non-zero coefficients."""
        return {"intercept": self.intercept_,
                "coefficients": {str(f): float(c) for f, c in zip(self.feature_names_in_, self.coef_) if c != 0}}


RESAMPLES = ("subsample", "bootstrap")


class StabilitySelection(_Selector):
    """Bootstrap LASSO stability selection: keep the ``top_k`` most often selected.

    Lambda is chosen once by :class:`LassoLogisticCV` on the training data;
    the LASSO is then refitted on ``n_bootstrap`` resamples and each
    feature's selection frequency recorded (``frequency_``, drawn by
    :class:`radgui.plots.study_figures.SelectionFrequencyDisplay`). Features
    with frequency >= ``threshold`` are kept, at most ``top_k`` of them, and
    at least one.

    ``resample="subsample"`` (default) draws half the patients without
    replacement (Meinshausen & Buhlmann); ``resample="bootstrap"`` draws
    ``n`` patients *with* replacement (the seeds' "bootstrap LASSO"). A
    resample with a single outcome class is redrawn. ``sample_fraction``
    defaults to 0.5 (subsample) or 1.0 (bootstrap).

    References
    ----------
    Meinshausen N, Buhlmann P. Stability selection. J R Stat Soc B
    2010;72:417-73.
    """

    def __init__(self, n_bootstrap: int = 50, top_k: int = 10, threshold: float = 0.0,
                 sample_fraction: float | None = None, folds: int = 5, resample: str = "subsample",
                 random_state: int | None = None):
        self.n_bootstrap = n_bootstrap
        self.top_k = top_k
        self.threshold = threshold
        self.sample_fraction = sample_fraction
        self.folds = folds
        self.resample = resample
        self.random_state = random_state

    def fit(self, X, y):
        X = _frame(X)
        yb = _binary(y)
        cv = LassoLogisticCV(folds=self.folds, rule="min", n_lambdas=30,
                             random_state=self.random_state).fit(X, yb)
        data = X.to_numpy(dtype=float)
        rng = np.random.default_rng(self.random_state)
        counts = np.zeros(X.shape[1])
        groups = groups_of(X)
        ug, ginv = np.unique(groups, return_inverse=True) if groups is not None else (None, None)
        if self.resample not in RESAMPLES:
            raise ConfigError(f"stability: resample must be one of {', '.join(RESAMPLES)}, got {self.resample!r}")
        boot = self.resample == "bootstrap"
        frac = self.sample_fraction if self.sample_fraction is not None else (1.0 if boot else 0.5)
        m = max(4, int(round(frac * len(yb))))
        mg = None if ug is None else max(2, int(round(frac * len(ug))))
        done = 0
        while done < self.n_bootstrap:
            if ug is None:
                idx = rng.choice(len(yb), m, replace=boot)
            elif boot:  # patients drawn with replacement, each draw bringing all its rows
                idx = np.concatenate([np.flatnonzero(ginv == g) for g in rng.choice(len(ug), mg, replace=True)])
            else:  # half of the patients, with all their rows
                idx = np.flatnonzero(np.isin(ginv, rng.choice(len(ug), mg, replace=False)))
            if yb[idx].min() == yb[idx].max():
                continue
            coef = lasso_logistic(data[idx], yb[idx], cv.lambda_).coef_[0]
            counts += coef != 0
            done += 1
        freq = counts / self.n_bootstrap
        self.frequency_ = pd.Series(freq, index=X.columns)
        order = np.argsort(-freq, kind="stable")
        keep = [j for j in order[: self.top_k] if freq[j] >= self.threshold and freq[j] > 0]
        self.selected_ = [X.columns[j] for j in sorted(keep)]
        self._keep_at_least_one(X, order)
        return self


RFE_ESTIMATORS = ("logistic", "svm", "rf")


def rfe_estimator(name: str, random_state=None):
    """The unfitted ranking estimator of :class:`RFESelector` (``logistic``, linear ``svm`` or ``rf``)."""
    if name == "logistic":
        return LogisticRegression(C=1.0, max_iter=1000)
    if name == "svm":  # a linear kernel: RFE ranks by |coef_| (Guyon 2002, SVM-RFE)
        from sklearn.svm import SVC

        return SVC(kernel="linear", C=1.0, random_state=random_state)
    if name == "rf":  # ranks by impurity importance (feature_importances_)
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=200, random_state=random_state, n_jobs=1)
    raise ConfigError(f"rfe: estimator must be one of {', '.join(RFE_ESTIMATORS)}, got {name!r}")


class RFESelector(_Selector):
    """Recursive feature elimination (scikit-learn RFE) ranked by a chosen estimator.

    Parameters
    ----------
    n_features : int
        Features to keep; when no more than that many enter, all are kept.
    step : int or float
        Features removed per round (scikit-learn's ``step``).
    estimator : {"logistic", "svm", "rf"}
        L2 logistic regression (default), linear-kernel SVM (SVM-RFE, Guyon
        et al. 2002) or a random forest (impurity importance).
    random_state : int, optional

    References
    ----------
    Guyon I, Weston J, Barnhill S, Vapnik V. Gene selection for cancer
    classification using support vector machines. Mach Learn 2002;46:389-422.
    """

    def __init__(self, n_features: int = 5, step: int | float = 1, estimator: str = "logistic",
                 random_state: int | None = None):
        self.n_features = n_features
        self.step = step
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.feature_selection import RFE

        X = _frame(X)
        est = rfe_estimator(self.estimator, self.random_state)
        if X.shape[1] <= self.n_features:
            self.selected_ = list(X.columns)
            return self
        rfe = RFE(est, n_features_to_select=self.n_features, step=self.step).fit(X.to_numpy(dtype=float), y)
        self.ranking_ = pd.Series(rfe.ranking_, index=X.columns)
        self.selected_ = [c for c, s in zip(X.columns, rfe.support_) if s]
        return self


# --------------------------------------------------------------------------
RELIEF_METHODS = ("relieff", "multisurf")


class ReliefSelector(_Selector):
    """Relief-family feature weighting (scikit-rebate), keeping the ``k`` best.

    Each feature's weight rewards differing from the nearest neighbours of
    the other class and penalises differing from those of the same class
    (Manhattan distance on features scaled to their range). ``relieff`` uses
    ``n_neighbors`` neighbours per class (Kononenko 1994); ``multisurf``
    chooses the neighbourhood of each instance from the distance
    distribution (no neighbour count; Urbanowicz 2018). Weights come from
    :mod:`skrebate` itself (``ReliefF``, ``MultiSURF``), stored as
    ``scores_`` (a Series by feature); the fitted skrebate object is not kept.

    Parameters
    ----------
    method : {"relieff", "multisurf"}
    k : int
        Features kept (highest weight first; ties by column order). Larger
        than the number of features entering the step is an error.
    n_neighbors : int
        ReliefF's neighbours (ignored by MultiSURF).

    References
    ----------
    Kononenko I. Estimating attributes: analysis and extensions of RELIEF.
    ECML 1994:171-82. Urbanowicz RJ, Olson RS, Schmitt P, Meeker M, Moore JH.
    Benchmarking Relief-based feature selection methods for bioinformatics
    data mining. J Biomed Inform 2018;85:168-88.
    """

    def __init__(self, method: str = "relieff", k: int = 10, n_neighbors: int = 10):
        self.method = method
        self.k = k
        self.n_neighbors = n_neighbors

    def fit(self, X, y):
        X = _frame(X)
        if self.method not in RELIEF_METHODS:
            raise ConfigError(f"relief: method must be one of {', '.join(RELIEF_METHODS)}, got {self.method!r}")
        if self.k > X.shape[1]:
            raise ConfigError(f"relief: k={self.k} is larger than the {X.shape[1]} features entering the step "
                              "(lower steps.relief.k or loosen the steps before it)")
        yb = _binary(y)
        scores = relief_scores(X.to_numpy(dtype=float), yb, self.method, self.n_neighbors)
        self.scores_ = pd.Series(scores, index=X.columns)
        order = np.argsort(-scores, kind="stable")
        self.order_ = [X.columns[j] for j in order[: self.k]]
        self.selected_ = [X.columns[j] for j in sorted(order[: self.k])]
        return self


def relief_scores(data: np.ndarray, y: np.ndarray, method: str = "relieff", n_neighbors: int = 10) -> np.ndarray:
    """Relief feature weights from scikit-rebate (single process)."""
    import skrebate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "relieff":
            nn = max(1, min(int(n_neighbors), int(np.bincount(y).min()) - 1))
            model = skrebate.ReliefF(n_neighbors=nn, n_jobs=1)
        else:
            model = skrebate.MultiSURF(n_jobs=1)
        model.fit(np.asarray(data, dtype=float), np.asarray(y))
    return np.asarray(model.feature_importances_, dtype=float)


class PCAStep(TransformerMixin, BaseEstimator):
    """Principal components of the (standardised) features; the components become the features.

    Fitted on the training rows only (inside every fold), so it leaks
    nothing. Output columns are ``PC1..PCm``; the row index (patient group,
    center, covariates) is kept.

    Parameters
    ----------
    n_components : int or float
        An integer from 1 to ``min(n_rows, n_features)``, or a fraction in
        (0, 1): the fewest components explaining that share of the variance.

    Notes
    -----
    Because PCA is linear, a linear model on the components is a linear model
    on the input features: :meth:`fold_linear` rewrites its intercept and
    coefficients in terms of the inputs (for a Radscore formula over the
    original features).
    """

    def __init__(self, n_components: int | float = 0.95):
        self.n_components = n_components

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA

        X = _frame(X)
        n, p = X.shape
        nc = self.n_components
        if isinstance(nc, bool) or not isinstance(nc, (int, float, np.integer, np.floating)):
            raise ConfigError(f"pca: n_components must be an integer or a fraction in (0, 1), got {nc!r}")
        if float(nc).is_integer() and nc >= 1:
            nc = int(nc)
            if nc > min(n, p):
                raise ConfigError(f"pca: n_components={nc} is more than min(rows, features) = {min(n, p)} "
                                  f"({n} rows, {p} features enter the step)")
        elif not 0 < nc < 1:
            raise ConfigError(f"pca: n_components must be an integer >= 1 or a fraction in (0, 1), got {nc!r}")
        self.pca_ = PCA(n_components=nc, svd_solver="full").fit(X.to_numpy(dtype=float))
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.components_ = self.pca_.components_
        self.mean_ = self.pca_.mean_
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        self.names_ = np.asarray([f"PC{i + 1}" for i in range(self.components_.shape[0])], dtype=object)
        return self

    def transform(self, X):
        check_is_fitted(self, "components_")
        X = _frame(X)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ConfigError(f"feature column(s) {missing[:5]} seen in training are missing")
        data = X[list(self.feature_names_in_)].to_numpy(dtype=float)
        return pd.DataFrame((data - self.mean_) @ self.components_.T, index=X.index, columns=list(self.names_))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "components_")
        return self.names_

    def fold_linear(self, intercept: float, coefficients: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        """``a + sum_k b_k PC_k`` as ``a' + sum_j c_j x_j`` over the input features."""
        check_is_fitted(self, "components_")
        names = list(self.names_)
        b = np.zeros(len(names))
        for k, v in coefficients.items():
            b[names.index(k)] = float(v)
        c = self.components_.T @ b
        a = float(intercept) - float(self.mean_ @ c)
        return a, {str(f): float(v) for f, v in zip(self.feature_names_in_, c)}


#: skops types of new step classes that a bundle may hold. The bundle stores only the final learner
#: (``radgui.model.learners.deployable``): selection steps (Relief, PCA, RFE, stability) never reach it,
#: and a grid search is replaced by its refitted best model, so nothing needs adding yet.
NEW_TRUSTED_TYPES: tuple[str, ...] = ()


def clone_step(step):
    """Unfitted copy of a step (scikit-learn ``clone``)."""
    return clone(step)
