"""Costs on synaptic parameters (MODEL.md §A2, §A4, §A8, §B3): gradients,
the s-form, hyperparameter checks and the reported quantities."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import assert_grad_close, f64, fd_atol, numerical_grad
from minisyn.costs import EntropicCost, L1Cost, L2Cost, PowerLawCost, reported_reliability_cost, sigma_bar

BE = f64()
RHOS = [0.5, 2 / 3, 4 / 3, 2.0]
syn_shape = st.tuples(st.integers(1, 4), st.integers(1, 4))


def positive(shape, lo=0.05, hi=3.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi))


def away_from_zero(shape, lo=0.05, hi=3.0):
    return st.tuples(positive(shape, lo, hi), hnp.arrays(np.bool_, shape)).map(
        lambda ms: np.where(ms[1], ms[0], -ms[0]))


def check_cost_grad(cost, theta):
    value, grad = cost.value_and_grad(theta, BE)
    np.testing.assert_allclose(value, cost.value(theta, BE), rtol=1e-14)
    np.testing.assert_allclose(grad, cost.grad(theta, BE), rtol=1e-14)
    assert value.shape == theta.shape[:-2]
    numeric = numerical_grad(lambda: float(cost.value(theta, BE).sum()), theta)
    assert_grad_close(grad, numeric, rtol=1e-6, atol=fd_atol(value), name=type(cost).__name__)


@given(syn_shape.flatmap(positive), st.floats(0.0, 5.0), st.sampled_from(RHOS + [0.1, 3.0]))
def test_power_law_cost_gradient_matches_finite_differences(sigma, c, rho):
    check_cost_grad(PowerLawCost(c, rho), sigma)


@given(syn_shape.flatmap(lambda s: positive((3,) + s)),
       st.lists(st.floats(0.0, 5.0), min_size=3, max_size=3),
       st.lists(st.sampled_from(RHOS), min_size=3, max_size=3))
def test_power_law_cost_with_per_member_c_and_rho_acts_memberwise_on_an_ensemble(sigma, cs, rhos):
    cost = PowerLawCost(cs, rhos)
    check_cost_grad(cost, sigma)
    for k in range(3):
        lone = PowerLawCost(cs[k], rhos[k])
        np.testing.assert_allclose(cost.value(sigma, BE)[k], lone.value(sigma[k], BE), rtol=1e-13)
        np.testing.assert_allclose(cost.grad(sigma, BE)[k], lone.grad(sigma[k], BE), rtol=1e-13)


@given(syn_shape.flatmap(away_from_zero), st.one_of(st.just(0.0), st.floats(1e-6, 3.0)))  # no subnormal lam
def test_l1_cost_gradient_matches_finite_differences_away_from_zero(mu, lam):
    check_cost_grad(L1Cost(lam), mu)


@given(syn_shape.flatmap(lambda s: hnp.arrays(np.float64, s, elements=st.floats(-3, 3))), st.floats(0.0, 3.0))
def test_l2_cost_gradient_matches_finite_differences(mu, lam):
    check_cost_grad(L2Cost(lam), mu)


@given(syn_shape.flatmap(positive), st.floats(0.0, 3.0))
def test_entropic_cost_gradient_matches_finite_differences(sigma, weight):
    check_cost_grad(EntropicCost(weight), sigma)


@pytest.mark.parametrize("make", [L1Cost, L2Cost, EntropicCost], ids=["L1", "L2", "entropic"])
def test_per_member_weight_gives_one_value_per_member_equal_to_a_lone_cost(make):
    theta = np.random.default_rng(0).uniform(0.1, 2.0, (3, 2, 4))
    cost = make([0.5, 1.0, 2.0])
    value = cost.value(theta, BE)
    assert value.shape == (3,)
    for k, w in enumerate([0.5, 1.0, 2.0]):
        assert value[k] == pytest.approx(float(make(w).value(theta[k], BE)), rel=1e-13)
    check_cost_grad(cost, theta)


def test_hand_values_of_the_costs():
    theta = np.array([[1.0, -2.0], [0.5, 4.0]])
    assert float(L1Cost(0.5).value(theta, BE)) == pytest.approx(0.5 * 7.5)
    assert float(L2Cost(0.5).value(theta, BE)) == pytest.approx(0.25 * (1 + 4 + 0.25 + 16))
    sigma = np.abs(theta)
    assert float(PowerLawCost(3.0, 2.0).value(sigma, BE)) == pytest.approx(3.0 * (1 + 0.25 + 4 + 1 / 16))
    assert float(EntropicCost(2.0).value(sigma, BE)) == pytest.approx(-2.0 * math.log(1 * 2 * 0.5 * 4))


@given(st.floats(1e-3, 10.0), st.sampled_from(RHOS) | st.floats(0.05, 4.0),
       syn_shape.flatmap(positive))
def test_s_form_equals_c_form_with_c_equal_s_to_the_rho_over_rho(s, rho, sigma):
    """§A4: (1/rho)(s/sigma)^rho = c sigma^-rho with c = s^rho / rho."""
    from_s = PowerLawCost.from_s(s, rho)
    c_form = PowerLawCost(s**rho / rho, rho)
    np.testing.assert_allclose(from_s.value(sigma, BE), c_form.value(sigma, BE), rtol=1e-12)
    np.testing.assert_allclose(from_s.grad(sigma, BE), c_form.grad(sigma, BE), rtol=1e-12)
    np.testing.assert_allclose(from_s.value(sigma, BE), ((s / sigma) ** rho / rho).sum(), rtol=1e-12)


@given(st.sampled_from(RHOS), st.floats(1e-3, 1e3), st.floats(1e-2, 1e2), st.floats(1.1, 100.0))
def test_power_law_cost_has_log_log_slope_minus_rho(rho, c, sigma, factor):
    """§A2: an exact power law, d log C / d log sigma = -rho."""
    cost = PowerLawCost(c, rho)
    lo = float(cost.value(np.full((1, 1), sigma), BE))
    hi = float(cost.value(np.full((1, 1), sigma * factor), BE))
    assert (math.log(hi) - math.log(lo)) / math.log(factor) == pytest.approx(-rho, rel=1e-9)


@given(st.floats(1e-3, 1e3), st.floats(1e-2, 1e2), st.floats(0.05, 4.0))
def test_s_form_cost_bounds_the_entropic_cost_with_equality_at_sigma_equal_s(sigma, s, rho):
    """§A8: -log sigma <= (1/rho)(s/sigma)^rho - 1/rho - log s, equal at sigma = s."""
    grid = np.full((1, 1), sigma)
    bound = float(PowerLawCost.from_s(s, rho).value(grid, BE)) - 1 / rho - math.log(s)
    entropic = float(EntropicCost().value(grid, BE))
    assert bound >= entropic - 1e-9 * (1 + abs(entropic))
    at_s = float(PowerLawCost.from_s(s, rho).value(np.full((1, 1), s), BE)) - 1 / rho - math.log(s)
    assert at_s == pytest.approx(-math.log(s), abs=1e-9)


@pytest.mark.parametrize("make, kwargs", [
    (PowerLawCost, {"c": 1.0, "rho": 0.0}),
    (PowerLawCost, {"c": 1.0, "rho": -0.5}),
    (PowerLawCost, {"c": -1.0, "rho": 0.5}),
    (PowerLawCost, {"c": float("nan"), "rho": 0.5}),
    (PowerLawCost, {"c": 1.0, "rho": float("nan")}),
    (PowerLawCost, {"c": float("inf"), "rho": 0.5}),
    (PowerLawCost, {"c": [1.0, -1.0], "rho": 0.5}),
    (PowerLawCost, {"c": 1.0, "rho": [0.5, 0.0]}),
    (PowerLawCost.from_s, {"s": 0.0, "rho": 0.5}),
    (PowerLawCost.from_s, {"s": 1.0, "rho": -1.0}),
    (PowerLawCost.from_s, {"s": float("nan"), "rho": 1.0}),
    (L1Cost, {"lam": -1e-3}),
    (L1Cost, {"lam": float("nan")}),
    (L2Cost, {"lam": -1.0}),
    (EntropicCost, {"weight": -1.0}),
    (EntropicCost, {"weight": float("nan")}),
], ids=lambda v: repr(v) if isinstance(v, dict) else getattr(v, "__qualname__", str(v)))
def test_invalid_hyperparameters_raise_value_error(make, kwargs):
    with pytest.raises(ValueError, match="must be finite"):
        make(**kwargs)


def test_zero_weights_are_allowed_and_give_zero_cost():
    sigma = np.full((2, 2), 0.3)
    assert float(PowerLawCost(0.0, 0.5).value(sigma, BE)) == 0.0
    assert float(L1Cost(0.0).value(sigma, BE)) == 0.0


def test_sigma_bar_is_root_mean_square_over_all_synapses_of_all_layers():
    """§A4: sigma_bar = sqrt(mean_i sigma_i^2) over every synapse."""
    sigmas = [np.ones((2, 2)), np.full((1, 2), 2.0)]
    assert float(sigma_bar(sigmas, BE)) == pytest.approx(math.sqrt((4 * 1 + 2 * 4) / 6))


def test_sigma_bar_gives_one_value_per_ensemble_member():
    sigmas = [np.stack([np.ones((2, 3)), np.full((2, 3), 3.0)])]
    np.testing.assert_allclose(sigma_bar(sigmas, BE), [1.0, 3.0])


def test_reported_reliability_cost_uses_s_equal_one():
    """§A4: sum_i (1/rho) sigma_i^-rho."""
    sigmas = [np.ones((2, 2)), np.full((1, 2), 2.0)]
    assert float(reported_reliability_cost(sigmas, 2.0, BE)) == pytest.approx(4 * 0.5 + 2 * 0.5 / 4)
    assert float(reported_reliability_cost(sigmas, 0.5, BE)) == pytest.approx(4 * 2 + 2 * 2 / math.sqrt(2))


@given(syn_shape.flatmap(positive), st.one_of(st.just(0.0), st.floats(1e-6, 5.0)),
       st.sampled_from(RHOS + [1.0, 0.3]), st.floats(1e-6, 10.0))
def test_power_law_power_and_scaled_gradient_into_a_buffer(sigma, c, rho, scale):
    """The root-based powers (rho = 1/2, 2/3, 4/3, 2, 1) and the general
    exp-log one equal sigma**-rho; ``scale`` multiplies the gradient, which
    lands in ``out``."""
    cost = PowerLawCost(c, rho)
    np.testing.assert_allclose(cost.value(sigma, BE), c * (sigma ** -rho).sum(), rtol=1e-12)
    out = np.full_like(sigma, np.nan)
    value, grad = cost.value_and_grad(sigma, BE, scale=scale, out=out)
    assert grad is out
    np.testing.assert_allclose(value, cost.value(sigma, BE), rtol=1e-14)
    np.testing.assert_allclose(grad, scale * -rho * c * sigma ** (-rho - 1), rtol=1e-12)


@given(syn_shape.flatmap(lambda s: positive((2,) + s)), st.sampled_from(RHOS))
def test_power_law_with_one_rho_for_every_member_uses_the_same_power(sigma, rho):
    """rho given per member but equal for all: the root-based path, same numbers as the scalar rho."""
    np.testing.assert_allclose(PowerLawCost([0.3, 2.0], [rho, rho]).value(sigma, BE),
                               [PowerLawCost(c, rho).value(sigma[k], BE) for k, c in enumerate([0.3, 2.0])],
                               rtol=1e-14)


@given(syn_shape.flatmap(away_from_zero), st.one_of(st.just(0.0), st.floats(1e-6, 3.0)), st.floats(1e-6, 10.0))
def test_l1_value_and_scaled_gradient_into_a_buffer(mu, lam, scale):
    out = np.full_like(mu, np.nan)
    value, grad = L1Cost(lam).value_and_grad(mu, BE, scale=scale, out=out)
    assert grad is out
    np.testing.assert_allclose(value, lam * np.abs(mu).sum(), rtol=1e-13)
    np.testing.assert_allclose(grad, scale * lam * np.sign(mu), rtol=1e-14)


def test_power_law_rho_set_later_is_used_and_checked():
    sigma = np.array([[0.5, 2.0]])
    cost = PowerLawCost(1.0, 0.5)
    cost.rho = 2.0
    np.testing.assert_allclose(cost.value(sigma, BE), (sigma ** -2.0).sum(), rtol=1e-14)
    cost.rho = [0.5, 2.0]                     # per member, then the general power
    np.testing.assert_allclose(cost.value(np.stack([sigma, sigma]), BE),
                               [(sigma ** -0.5).sum(), (sigma ** -2.0).sum()], rtol=1e-13)
    with pytest.raises(ValueError, match="rho must be finite and > 0"):
        cost.rho = 0.0
