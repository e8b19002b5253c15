"""The four mechanisms of MODEL.md §A2 as costs of a quantal synapse's (n, p, q): their values
against minisyn.biophysics, their gradients against float64 finite differences (alone and through
the layer's chain rule into q and the logit), and the law cost ∝ sigma^-rho at fixed mean."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import assert_grad_close, f64, fd_atol, numerical_grad
from minisyn import biophysics
from minisyn.backend import Backend
from minisyn.costs import QUANTAL_COSTS, L1Cost, L2Cost, PowerLawCost, quantal_cost
from minisyn.layers import QuantalLinear

MECHANISMS = tuple(QUANTAL_COSTS)
ENERGY = {"calcium": biophysics.calcium_cost, "membrane": biophysics.membrane_cost,
          "actin": biophysics.actin_cost, "trafficking": biophysics.trafficking_cost}


def probabilities(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(0.02, 0.98))


def sizes(shape):
    mag = hnp.arrays(np.float64, shape, elements=st.floats(0.05, 3.0))
    return st.tuples(mag, hnp.arrays(np.bool_, shape)).map(lambda ms: np.where(ms[1], ms[0], -ms[0]))


@pytest.mark.parametrize("mechanism", MECHANISMS)
@given(n=st.integers(1, 20), data=st.data())
def test_value_is_c_times_the_biophysical_energy_summed_over_synapses(mechanism, n, data):
    be = f64()
    p, q = data.draw(probabilities((3, 4))), data.draw(sizes((3, 4)))
    expected = 0.7 * ENERGY[mechanism](n, p, np.abs(q)).sum()      # a signed q costs as its size |q|
    assert quantal_cost(mechanism, 0.7).value((n, p, q), be) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("mechanism", MECHANISMS)
@given(n=st.integers(1, 20), scale=st.floats(0.1, 3.0), data=st.data())
def test_gradient_matches_finite_differences(mechanism, n, scale, data):
    be = f64()
    cost = quantal_cost(mechanism, 0.3)
    p, q = data.draw(probabilities((2, 3))), data.draw(sizes((2, 3)))
    _, grads = cost.value_and_grad((n, p, q), be, scale=scale)
    for name, arr, g in (("p", p, grads[0]), ("q", q, grads[1])):
        numeric = numerical_grad(lambda: scale * float(cost.value((n, p, q), be)), arr)
        g = np.zeros_like(arr) if g is None else g
        assert_grad_close(g, numeric, rtol=1e-6, atol=fd_atol(cost.value((n, p, q), be)), name=f"dC/d{name}")


@pytest.mark.parametrize("mechanism, depends", [("calcium", "p"), ("membrane", "q"), ("actin", "q"),
                                                ("trafficking", "p")])
def test_each_mechanism_depends_on_the_parameter_of_its_energy_only(mechanism, depends):
    dp, dq = quantal_cost(mechanism, 1.0).grad((3, np.full((2, 2), 0.4), np.full((2, 2), 0.5)), f64())
    assert (dp is None) == (depends == "q") and (dq is None) == (depends == "p")


@pytest.mark.parametrize("mechanism", ["membrane", "actin"])
def test_size_costs_have_zero_gradient_at_zero_size_not_nan(mechanism):
    _, dq = quantal_cost(mechanism, 1.0).grad((2, np.full((1, 3), 0.5), np.array([[0.0, 1e-300, -1.0]])), f64())
    assert np.isfinite(dq).all() and dq[0, 0] == 0 and dq[0, 2] < 0


@pytest.mark.parametrize("mechanism", MECHANISMS)
@given(mu=st.floats(0.05, 5.0), fixed=st.floats(0.1, 0.9), lo=st.floats(-2.0, 0.0))
def test_at_fixed_mean_each_cost_falls_as_sigma_to_the_minus_rho(mechanism, mu, fixed, lo):
    """Fig. 1c: with q compensating to keep the mean, the cost against sigma is a power law of slope -rho
    (calcium: p varies, n fixed; the other three: n varies, p fixed)."""
    mech = biophysics.MECHANISMS[mechanism]
    fixed = fixed * 10 if mech.varies == "p" else fixed                 # n (calcium) or p (the others)
    sigma = np.logspace(lo, lo + 1.5, 7) * mu
    n, p, q = (np.broadcast_to(v, sigma.shape).reshape(-1, 1, 1) for v in mech.parameters(sigma, mu, fixed))
    np.testing.assert_allclose(n * p * q, mu, rtol=1e-12)               # the mean is held
    cost = quantal_cost(mechanism, 1.0).value((n, p, q), f64())         # one value per sigma
    slope = np.polyfit(np.log(sigma), np.log(cost), 1)[0]
    assert slope == pytest.approx(-mech.rho, abs=1e-9)
    assert quantal_cost(mechanism, 1.0).rho == mech.rho


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_per_member_c_gives_each_member_its_own_cost(mechanism):
    be = f64()
    p, q = np.full((2, 3, 4), 0.3), np.full((2, 3, 4), 0.7)
    both = quantal_cost(mechanism, [0.5, 2.0]).value((4, p, q), be)
    alone = [quantal_cost(mechanism, c).value((4, p[0], q[0]), be) for c in (0.5, 2.0)]
    np.testing.assert_allclose(both, alone, rtol=1e-12)


def test_unknown_mechanism_and_negative_weight_are_refused():
    with pytest.raises(ValueError, match="mechanism"):
        quantal_cost("ATP", 1.0)
    with pytest.raises(ValueError, match="c must"):
        quantal_cost("calcium", -1.0)


# -- through the layer: the chain rule into q and the logit (or m) ----------------------------------
def layer_with(p_learning="gradient", coordinates="mean", n=3, seed=0):
    be = f64()
    rng = np.random.default_rng(seed)
    layer = QuantalLinear(3, 2, be, be.generator(0), n=n, p_learning=p_learning, coordinates=coordinates)
    layer.params[0].value[...] = rng.uniform(0.1, 1.0, layer.weight_shape) * rng.choice([-1, 1], layer.weight_shape)
    if p_learning == "gradient":
        layer.logit.value[...] = rng.uniform(-2, 2, layer.weight_shape)
    else:
        layer.p = rng.uniform(0.2, 1.0, layer.weight_shape)
    return layer


@pytest.mark.parametrize("coordinates", QuantalLinear.COORDINATES)
@pytest.mark.parametrize("cost", [*(quantal_cost(m, 0.4) for m in MECHANISMS), L1Cost(0.3), L2Cost(0.2)],
                         ids=[*MECHANISMS, "l1-of-mean", "l2-of-mean"])
def test_layer_carries_each_cost_gradient_into_its_parameters(cost, coordinates):
    """Through q = m / (n p) and p = logistic(logit) (coordinates 'mean'), or p alone ('size')."""
    layer = layer_with(coordinates=coordinates)
    scale = 0.5
    for prm in layer.params:
        prm.grad[...] = 0
    value = layer.add_cost(cost, scale)
    analytic = {prm.name: prm.grad.copy() for prm in layer.params}
    for prm in layer.params:
        numeric = numerical_grad(lambda: scale * float(cost.value(layer.quantal() if cost.target == "quantal"
                                                                  else layer.mean_weight(), f64())), prm.value)
        assert_grad_close(analytic[prm.name], numeric, atol=fd_atol(value), name=f"dC/d{prm.name}")


@pytest.mark.parametrize("cost", [L1Cost(0.3), L2Cost(0.2)], ids=["l1", "l2"])
def test_mean_costs_act_on_m_under_the_presynaptic_rule(cost):
    layer = layer_with("presynaptic")
    layer.m.grad[...] = 0
    layer.add_cost(cost, 1.0)
    np.testing.assert_allclose(layer.m.grad, cost.grad(layer.m.value, f64()), rtol=1e-12)


def test_costs_of_p_are_refused_where_the_presynaptic_rule_moves_p():
    with pytest.raises(ValueError, match="presynaptic rule moves p"):
        layer_with("presynaptic").add_cost(quantal_cost("calcium", 1.0), 1.0)


def test_sigma_costs_are_refused_by_name():
    with pytest.raises(ValueError, match="acts on sigma"):
        layer_with().add_cost(PowerLawCost(1.0, 0.5), 1.0)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_cost_value_is_finite_in_float32_over_the_reach_of_training(mechanism):
    be = Backend("numpy", "float32")
    layer = QuantalLinear(784, 10, be, be.generator(0), n=5)
    layer.logit.value[...] = be.floats(np.linspace(-12, 12, layer.weight_shape[1]))
    value = layer.add_cost(quantal_cost(mechanism, 1.0), 1.0)
    assert np.isfinite(value) and all(np.isfinite(p.grad).all() for p in layer.params)
