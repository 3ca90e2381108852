"""Issue 20 item 3: the warm-started coordinate-descent LASSO path.

The new path (``solver="cd"``) must choose the same lambdas and select the
same features as the implementation it replaces (``solver="liblinear"``,
refitting every lambda from zero), and solve glmnet's objective: checked
against an independent solver (statsmodels) and, where python-glmnet is
installed, against glmnet's Fortran itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

from radgui.errors import ConfigError
from radgui.model import steps as st


def _problem(n, p, seed, k=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 1] += 0.6 * X[:, 0]  # some correlation among the informative features
    beta = np.r_[1.5, -1.2, 1.0, -0.8, 0.8][:k]
    y = (rng.random(n) < expit(X[:, :k] @ beta)).astype(int)
    Z = (X - X.mean(0)) / X.std(0)
    return pd.DataFrame(Z, columns=[f"f{i:03d}" for i in range(p)]), y


def _fit(X, y, solver, **kw):
    m = st.LassoLogisticCV(random_state=0, **kw)
    m._solver = solver
    return m.fit(X, y)


@pytest.mark.parametrize("seed,n,p,folds,rule", [
    (0, 100, 200, 5, "1se"), (1, 100, 200, 5, "min"), (2, 80, 400, 10, "1se"),
    (3, 120, 60, 5, "1se"), (4, 90, 150, 5, "min"),
])
def test_cd_path_selects_as_the_previous_implementation(seed, n, p, folds, rule):
    X, y = _problem(n, p, seed)
    old = _fit(X, y, "liblinear", folds=folds, rule=rule, n_lambdas=30)
    new = _fit(X, y, "cd", folds=folds, rule=rule, n_lambdas=30)
    assert np.array_equal(new.lambdas_, old.lambdas_)          # same path, same truncation
    assert new.lambda_min_ == old.lambda_min_ and new.lambda_1se_ == old.lambda_1se_
    assert new.selected_ == old.selected_
    np.testing.assert_allclose(new.cv_mean_, old.cv_mean_, atol=2e-3)  # liblinear stops at tol 1e-6
    np.testing.assert_allclose(new.coef_, old.coef_, atol=2e-3)


@pytest.mark.parametrize("frac", [0.5, 0.2, 0.05])
def test_cd_solves_glmnet_objective(frac):
    """statsmodels' SLSQP on -loglik + sum(n lambda |b_j|) is the same problem, solved independently."""
    X, y = _problem(120, 15, 7)
    Z, n = X.to_numpy(), len(y)
    lam = frac * st.lambda_path(Z, y, 2)[0]
    alpha = np.r_[0.0, np.full(Z.shape[1], n * lam)]
    ref = sm.Logit(y, sm.add_constant(Z)).fit_regularized(alpha=alpha, disp=0, acc=1e-12, maxiter=10000).params
    b0, b = st.lasso_logistic_cd(Z, y, lam, tol=1e-12, eta_tol=1e-10)
    np.testing.assert_allclose(b0, ref[0], atol=1e-4)
    np.testing.assert_allclose(b, ref[1:], atol=1e-4)
    assert set(np.flatnonzero(b)) == set(np.flatnonzero(np.abs(ref[1:]) > 1e-6))
    # a warm start from another lambda's solution reaches the same point
    c0, c = st.lasso_logistic_cd(Z, y, lam * 1.3)
    w0, w = st.lasso_logistic_cd(Z, y, lam, c0, c, tol=1e-12, eta_tol=1e-10)
    np.testing.assert_allclose(w, b, atol=1e-6)


def test_cd_path_against_glmnet_fortran():
    """python-glmnet (glmnet's own Fortran lognet) on the same lambdas: same coefficients and supports."""
    glmnet = pytest.importorskip("glmnet")
    X, y = _problem(100, 200, 11)
    Z = X.to_numpy()
    lams = st.lambda_path(Z, y, 30)
    g = glmnet.LogitNet(lambda_path=lams, n_splits=0, standardize=False, tol=1e-12, max_iter=100000).fit(Z, y)
    fits = st.LassoLogisticCV._path(Z, y, lams)
    for j, fit in enumerate(fits):
        ref = g.coef_path_[0][:, j]
        np.testing.assert_allclose(fit.coef_[0], ref, atol=2e-3)
        big = np.abs(ref) > 2e-3
        assert np.all(fit.coef_[0][big] != 0)


def test_cd_path_bad_solver_and_degenerate_input():
    X, y = _problem(40, 10, 0)
    with pytest.raises(ConfigError, match="solver must be"):
        st.LassoLogisticCV._path(X.to_numpy(), y, st.lambda_path(X.to_numpy(), y, 5), solver="fortran")
    # above lambda_max every coefficient is zero and the intercept is the logit of the event rate
    Z = X.to_numpy()
    b0, b = st.lasso_logistic_cd(Z, y, st.lambda_path(Z, y, 2)[0] * 1.01)
    assert not b.any()
    assert b0 == pytest.approx(np.log(y.mean() / (1 - y.mean())), abs=1e-6)


def test_path_falls_back_to_liblinear_without_the_private_cd(monkeypatch):
    X, y = _problem(60, 20, 5)
    Z = X.to_numpy()
    lams = st.lambda_path(Z, y, 8)
    monkeypatch.setattr(st, "_cd_available", lambda: False)
    fits = st.LassoLogisticCV._path(Z, y, lams)
    ref = st.LassoLogisticCV._path(Z, y, lams, solver="liblinear")
    assert all(np.array_equal(a.coef_, b.coef_) for a, b in zip(fits, ref))


def test_a_changed_private_cd_signature_is_detected_not_called(monkeypatch):
    """scikit-learn's _cd_fast is private: a release that changes enet_coordinate_descent_gram's arguments
    must make the probe answer False (liblinear is used), not crash every training run."""
    from sklearn.linear_model import _cd_fast

    def changed(*args, **kwargs):  # a future signature: the call radgui makes raises TypeError
        raise TypeError("enet_coordinate_descent_gram() takes exactly 10 positional arguments (9 given)")

    st._cd_available.cache_clear()
    monkeypatch.setattr(_cd_fast, "enet_coordinate_descent_gram", changed)
    try:
        assert st._cd_available() is False
    finally:
        st._cd_available.cache_clear()
    monkeypatch.undo()
    assert st._cd_available() is True  # the real one answers the probe's known solution
