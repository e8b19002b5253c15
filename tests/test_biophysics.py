"""The quantal model and the four reliability costs (MODEL.md §A1, §A2)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import assert_mc_mean, assert_mc_variance
from minisyn.biophysics import (
    MECHANISMS,
    calcium_concentration,
    compensatory_q,
    quantal_moments,
    release_probability,
    reliability_cost,
)

# coefficients of variation sigma/mu kept in [0.05, 5] and n in [1, 100] so that
# 1 - p >= 2.5e-3 for the calcium mechanism: p and 1 - p are then both computed
# to about 1e-13 relative, far inside the 1e-9 asked of the power laws
cvs = st.floats(0.05, 5.0)
means = st.floats(0.1, 10.0)
fixed_n = st.floats(1.0, 100.0)
fixed_p = st.floats(0.05, 0.95)


def _fixed(name, n, p):
    return n if MECHANISMS[name].varies == "p" else p


def test_mechanisms_are_the_four_of_the_table_with_their_rho():
    assert {k: m.rho for k, m in MECHANISMS.items()} == pytest.approx(
        {"calcium": 1 / 2, "membrane": 2 / 3, "actin": 4 / 3, "trafficking": 2.0}, rel=1e-15)
    assert [m.varies for m in MECHANISMS.values()] == ["p", "n", "n", "n"]


@pytest.mark.parametrize("name", list(MECHANISMS))
@given(cv1=cvs, cv2=cvs, mu=means, n=fixed_n, p=fixed_p)
def test_cost_is_an_exact_power_law_of_sigma_with_exponent_minus_rho(name, cv1, cv2, mu, n, p):
    sigma, k = cv1 * mu, cv2 / cv1
    fixed = _fixed(name, n, p)
    ratio = reliability_cost(name, k * sigma, mu, fixed) / reliability_cost(name, sigma, mu, fixed)
    assert ratio == pytest.approx(k ** -MECHANISMS[name].rho, rel=1e-9)


@pytest.mark.parametrize("name", list(MECHANISMS))
def test_log_log_slope_of_cost_against_sigma_is_minus_rho(name):
    sigma = np.logspace(-1, 0.5, 40)
    slope = np.polyfit(np.log(sigma), np.log(reliability_cost(name, sigma, 2.0)), 1)[0]
    assert slope == pytest.approx(-MECHANISMS[name].rho, rel=1e-9)


@pytest.mark.parametrize("name", list(MECHANISMS))
@given(cv=cvs, mu=means, n=fixed_n, p=fixed_p)
def test_parameters_hold_the_mean_fixed_and_reach_the_target_sigma(name, cv, mu, n, p):
    mech = MECHANISMS[name]
    fixed = _fixed(name, n, p)
    n_, p_, q_ = mech.parameters(cv * mu, mu, fixed)
    got_mu, got_sigma = quantal_moments(n_, p_, q_)
    assert got_mu == pytest.approx(mu, rel=1e-12)
    assert got_sigma == pytest.approx(cv * mu, rel=1e-10)
    assert (n_ if mech.varies == "p" else p_) == fixed   # the other parameter is untouched
    assert n_ > 0 and 0 < p_ < 1 and q_ > 0


@given(mu=means, n=fixed_n, p=fixed_p)
def test_compensatory_q_keeps_the_mean(mu, n, p):
    assert quantal_moments(n, p, compensatory_q(mu, n, p))[0] == pytest.approx(mu, rel=1e-13)


@given(ca=st.floats(0.05, 20.0), K=st.floats(0.1, 10.0))
def test_calcium_concentration_inverts_the_hill_equation_with_coefficient_4(ca, K):
    p = release_probability(ca, K)
    assert p / (1 - p) == pytest.approx(K * ca**4, rel=1e-9)
    assert calcium_concentration(p, K) == pytest.approx(ca, rel=1e-9)


def test_energy_functions_are_the_ones_of_the_table():
    n, p, q = 8.0, 0.25, 27.0
    assert MECHANISMS["calcium"].energy(n, p, q) == pytest.approx((1 / 3) ** 0.25, rel=1e-14)
    assert MECHANISMS["membrane"].energy(n, p, q) == pytest.approx(8 * 9, rel=1e-14)
    assert MECHANISMS["actin"].energy(n, p, q) == pytest.approx(8 * 3, rel=1e-14)
    assert MECHANISMS["trafficking"].energy(n, p, q) == pytest.approx(2.0, rel=1e-14)


@given(n=st.integers(1, 30), p=st.floats(0.02, 0.98), q=st.floats(0.1, 5.0), seed=st.integers(0, 2**31))
def test_moments_match_monte_carlo_binomial_release(n, p, q, seed):
    psp = np.random.default_rng(seed).binomial(n, p, size=20_000) * q   # k ~ Binomial(n, p), PSP k q
    mu, sigma = quantal_moments(n, p, q)
    assert_mc_mean(psp, mu, name="PSP mean")
    assert_mc_variance(psp, mu, sigma**2, name="PSP variance")
