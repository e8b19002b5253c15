"""Closed forms of the linear model, the bound and two synapses (MODEL.md §A7-§A9)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from helpers import assert_grad_close, assert_mc_mean, fd_atol, numerical_grad
from minisyn.theory import (
    c_bi,
    c_vi,
    equal_cost_sigmas,
    expected_cost,
    expected_cost_grad,
    hessian_diag,
    optimal_sigma,
    posterior_sigma,
    predicted_slopes,
    two_synapse_expected_cost,
)

seeds = st.integers(0, 2**31)
sizes = st.tuples(st.integers(1, 12), st.integers(1, 6))          # (T, D)
cs = st.floats(1e-3, 10.0)
rhos = st.floats(0.1, 4.0)
log_uniform = st.floats(-3.0, 3.0).map(lambda e: 10.0**e)


def linear_problem(seed, T, D):
    """Random X with heterogeneous input scales, y, mu and sigma."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, D)) * 10.0 ** rng.uniform(-1, 1, size=D)
    return X, rng.normal(size=T), rng.normal(size=D), 10.0 ** rng.uniform(-2, 0, size=D)


# -- §A7 ------------------------------------------------------------------------------
@given(seed=seeds, shape=sizes)
def test_hessian_diag_is_the_diagonal_of_x_transpose_x(seed, shape):
    X = linear_problem(seed, *shape)[0]
    np.testing.assert_allclose(hessian_diag(X), np.diag(X.T @ X), rtol=1e-13)


@given(seed=seeds, shape=sizes)
def test_expected_cost_grad_matches_finite_differences(seed, shape):
    X, y, mu, sigma = linear_problem(seed, *shape)
    g_mu, g_sigma = expected_cost_grad(X, y, mu, sigma)
    scale = expected_cost(X, y, mu, sigma)
    assert_grad_close(g_mu, numerical_grad(lambda: expected_cost(X, y, mu, sigma), mu),
                      rtol=1e-6, atol=fd_atol(scale), name="dC/dmu")
    assert_grad_close(g_sigma, numerical_grad(lambda: expected_cost(X, y, mu, sigma), sigma),
                      rtol=1e-6, atol=fd_atol(scale), name="dC/dsigma")


@given(seed=seeds, shape=sizes)
def test_hessian_diag_is_the_curvature_of_expected_cost_in_mu(seed, shape):
    X, y, mu, sigma = linear_problem(seed, *shape)
    D = mu.size
    hess = np.stack([numerical_grad(lambda: expected_cost_grad(X, y, mu, sigma)[0][i], mu) for i in range(D)])
    assert_grad_close(hessian_diag(X), np.diag(hess), rtol=1e-6,
                      atol=fd_atol(np.abs(X.T @ X).sum()), name="Hessian diagonal")


@given(seed=seeds, shape=sizes)
def test_expected_cost_matches_monte_carlo_over_weights(seed, shape):
    X, y, mu, sigma = linear_problem(seed, *shape)
    w = mu + sigma * np.random.default_rng(seed + 1).normal(size=(20_000, mu.size))
    per_sample = 0.5 * ((y - w @ X.T) ** 2).sum(axis=1)      # (1/2) sum_t (y_t - x_t.w)^2
    assert_mc_mean(per_sample, expected_cost(X, y, mu, sigma), name="expected cost")


@given(seed=seeds, shape=sizes, c=cs, rho=rhos)
def test_optimal_sigma_equals_numerical_minimum_of_cost_plus_reliability_cost(seed, shape, c, rho):
    X, y, mu, sigma0 = linear_problem(seed, *shape)
    target = optimal_sigma(X, c, rho)
    for i in range(mu.size):
        def objective(log_s, i=i):
            sigma = sigma0.copy()
            sigma[i] = np.exp(log_s)
            return expected_cost(X, y, mu, sigma) + c * np.sum(sigma ** -rho)

        guess = np.log(posterior_sigma(X)[i])
        res = minimize_scalar(objective, bracket=(guess - 1.0, guess + 1.0), tol=1e-12)
        assert res.success
        assert np.exp(res.x) == pytest.approx(target[i], rel=1e-4)


@given(seed=seeds, shape=sizes, c=cs, rho=rhos)
def test_optimal_sigma_has_the_predicted_log_log_slopes(seed, shape, c, rho):
    X = linear_problem(seed, *shape)[0]
    slope_post, slope_h = predicted_slopes(rho)
    ratio = optimal_sigma(X, c, rho) / optimal_sigma(2.0 * X, c, rho)     # Hcal scaled by 4
    assert np.log(ratio) / np.log(4.0) == pytest.approx(-slope_h, rel=1e-10)
    assert slope_post == pytest.approx(-2.0 * slope_h, rel=1e-15)


def test_predicted_slopes_for_the_four_mechanisms():
    slopes = [predicted_slopes(r)[0] for r in (1 / 2, 2 / 3, 4 / 3, 2)]
    assert slopes == pytest.approx([0.8, 0.75, 0.6, 0.5], rel=1e-14)


# -- §A8 ------------------------------------------------------------------------------
@given(sigma=log_uniform, s=log_uniform, rho=st.floats(1e-6, 10.0))
def test_entropic_cost_is_below_the_biological_cost_for_every_sigma_s_rho(sigma, s, rho):
    gap = c_bi(sigma, s, rho) - c_vi(sigma)
    assert gap >= -1e-12 * (1.0 + abs(np.log(s)) + abs(np.log(sigma)))


@given(s=log_uniform, rho=st.floats(1e-6, 10.0))
def test_bound_is_tight_at_sigma_equal_to_s(s, rho):
    assert c_bi(s, s, rho) == pytest.approx(c_vi(s), rel=1e-13, abs=1e-13)


@given(sigma=log_uniform, s=log_uniform)
def test_biological_cost_tends_to_entropic_cost_as_rho_tends_to_zero(sigma, s):
    L = np.log(s / sigma)
    if abs(L) < 1e-3:
        L, s = 1.0, sigma * np.e      # the gap vanishes at sigma = s: make it visible
    rhos_down = 10.0 ** -np.arange(7.0)                                   # 1, 0.1, ..., 1e-6
    gaps = np.array([c_bi(sigma, s, r) - c_vi(sigma) for r in rhos_down])
    assert np.all(np.diff(gaps) < 0), gaps
    assert gaps[-1] <= 1e-6 * L**2      # gap = rho L^2 / 2 + O(rho^2)


# -- §A9 ------------------------------------------------------------------------------
def test_two_synapse_expected_cost_matches_monte_carlo():
    h, sigma, offset = np.array([10.0, 0.3]), np.array([0.2, 1.5]), np.array([0.1, -0.4])
    w_minus_wstar = offset + sigma * np.random.default_rng(0).normal(size=(50_000, 2))
    assert_mc_mean(0.5 * (h * w_minus_wstar**2).sum(axis=1), two_synapse_expected_cost(h, sigma, offset))


@given(h1=log_uniform, ratio=st.floats(1.05, 1e3), c=cs, rho=rhos, swap=st.booleans())
def test_heterogeneous_sigma_beats_shared_sigma_at_equal_reliability_cost(h1, ratio, c, rho, swap):
    h = np.array([h1, h1 * ratio])[::-1 if swap else 1]
    cmp = equal_cost_sigmas(h, c, rho)
    assert c * np.sum(cmp.sigma_hom ** -rho * np.ones(2)) == pytest.approx(cmp.reliability_cost, rel=1e-12)
    assert c * np.sum(cmp.sigma_het ** -rho) == pytest.approx(cmp.reliability_cost, rel=1e-12)
    assert cmp.expected_cost_het < cmp.expected_cost_hom
    assert cmp.sigma_het[np.argmax(h)] < cmp.sigma_hom < cmp.sigma_het[np.argmin(h)]


@given(h=log_uniform, c=cs, rho=rhos)
def test_equal_importance_gives_equal_sigmas_and_costs(h, c, rho):
    cmp = equal_cost_sigmas([h, h], c, rho)
    np.testing.assert_allclose(cmp.sigma_het, cmp.sigma_hom, rtol=1e-12)
    assert cmp.expected_cost_het == pytest.approx(cmp.expected_cost_hom, rel=1e-12)
