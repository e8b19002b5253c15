"""SGD and Adam (MODEL.md §A5) against worked examples."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import f64
from minisyn.backend import Backend
from minisyn.layers import Param
from minisyn.optim import SGD, Adam


def param(values, name="w"):
    return Param(np.array(values, dtype=np.float64), name, np)


def test_adam_matches_three_steps_worked_by_hand():
    """§A5 with b1 = 0.9, b2 = 0.999, eps = 1e-8, eta = 0.1, theta0 = (1, -2)."""
    p = param([1.0, -2.0])
    opt = Adam([p], 0.1, f64())
    grads = [[0.5, -1.0], [0.2, 0.0], [-0.4, 3.0]]
    theta, m, v = [1.0, -2.0], [0.0, 0.0], [0.0, 0.0]
    for t, g in enumerate(grads, start=1):
        p.grad[...] = g
        opt.step()
        for i in range(2):
            m[i] = 0.9 * m[i] + 0.1 * g[i]
            v[i] = 0.999 * v[i] + 0.001 * g[i] ** 2
            m_hat = m[i] / (1 - 0.9**t)
            v_hat = v[i] / (1 - 0.999**t)
            theta[i] -= 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
        np.testing.assert_allclose(p.value, theta, rtol=1e-13, err_msg=f"step {t}")
        np.testing.assert_allclose(opt.m[0], m, rtol=1e-13, err_msg=f"m at step {t}")  # stored scaled
        np.testing.assert_allclose(opt.v[0], v, rtol=1e-13, err_msg=f"v at step {t}")
    assert opt.t == 3


def test_adam_first_step_moves_every_coordinate_by_about_lr_against_its_gradient_sign():
    """At t = 1, m_hat = g and v_hat = g^2, so the step is eta g / (|g| + eps)."""
    p = param([0.0, 0.0, 0.0])
    opt = Adam([p], 0.01, f64())
    p.grad[...] = [3.0, -1e-3, 0.0]
    opt.step()
    np.testing.assert_allclose(p.value, [-0.01 * 3 / (3 + 1e-8), 0.01 * 1e-3 / (1e-3 + 1e-8), 0.0], rtol=1e-13)


def test_effective_lr_is_eta_over_sqrt_v_hat_plus_eps():
    """§A5: eta_i = eta / (sqrt(v_hat_i) + eps)."""
    p = param([1.0, 1.0])
    opt = Adam([p], 0.5, f64(), b2=0.99)
    for g in ([2.0, 0.1], [1.0, -0.3]):
        p.grad[...] = g
        opt.step()
    v = np.array([0.99 * 0.01 * 4.0 + 0.01 * 1.0, 0.99 * 0.01 * 0.01 + 0.01 * 0.09])
    v_hat = v / (1 - 0.99**2)
    np.testing.assert_allclose(opt.effective_lr(p), 0.5 / (np.sqrt(v_hat) + 1e-8), rtol=1e-13)
    assert opt.effective_lr(p)[0] < opt.effective_lr(p)[1]   # larger gradients, smaller rate


def test_sgd_step_is_minus_lr_times_gradient():
    p = param([1.0, 2.0])
    opt = SGD([p], 0.1, f64())
    p.grad[...] = [1.0, -3.0]
    opt.step()
    np.testing.assert_allclose(p.value, [0.9, 2.3], rtol=1e-15)


def test_sgd_lr_factor_is_evaluated_at_each_step_and_scales_the_update():
    p = param([1.0, 1.0])
    factor = {"f": np.array([0.5, 0.0])}
    opt = SGD([p], 0.1, f64(), lr_factor={id(p): lambda: factor["f"]})
    p.grad[...] = [1.0, 1.0]
    opt.step()
    np.testing.assert_allclose(p.value, [0.95, 1.0], rtol=1e-15)
    factor["f"] = np.array([1.0, 2.0])
    opt.step()
    np.testing.assert_allclose(p.value, [0.85, 0.8], rtol=1e-15)


def test_sgd_weight_decay_equals_sgd_on_the_l2_objective():
    """theta - eta (g + l2 theta) is a step on CE + (l2/2)|theta|^2 (L2Cost, float64)."""
    from minisyn.costs import L2Cost
    from minisyn.network import MLP

    be = f64()
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 6)), np.eye(3)[rng.integers(0, 3, 40)]
    l2s = [1e-3, 0.3]
    nets = [MLP((6, 5, 3), "deterministic", be, seed=[0, 0], ensemble=2, bias=False) for _ in range(2)]
    decayed = SGD(nets[0].params(), 0.1, be, weight_decay=l2s)
    on_cost = SGD(nets[1].params(), 0.1, be)
    cost = [L2Cost(np.asarray(l2s) * len(x))]          # the engine divides costs by N
    for step in range(5):
        batch = slice(8 * step, 8 * step + 8)
        for net in nets:
            net.zero_grad()
        nets[0].objective(x[batch], y[batch], len(x), ())
        decayed.step()
        nets[1].objective(x[batch], y[batch], len(x), cost)
        on_cost.step()
    for a, b in zip(nets[0].params(), nets[1].params()):
        np.testing.assert_allclose(a.value, b.value, rtol=1e-12, atol=1e-15)


def test_sgd_invalid_weight_decay_raises_value_error():
    with pytest.raises(ValueError, match="weight_decay"):
        SGD([param([1.0])], 0.1, f64(), weight_decay=-1.0)


@pytest.mark.parametrize("make", [SGD, Adam])
def test_per_member_lr_equals_lone_optimisers_with_each_lr(make):
    lrs = [0.1, 0.01, 1.0]
    rng = np.random.default_rng(0)
    theta0 = rng.normal(size=(3, 2, 4))
    grads = rng.normal(size=(4, 3, 2, 4))
    ens = param(theta0.copy())
    opt = make([ens], lrs, f64())
    lones = [param(theta0[k].copy()) for k in range(3)]
    lone_opts = [make([lones[k]], lrs[k], f64()) for k in range(3)]
    for g in grads:
        ens.grad[...] = g
        opt.step()
        for k in range(3):
            lones[k].grad[...] = g[k]
            lone_opts[k].step()
    for k in range(3):
        np.testing.assert_allclose(ens.value[k], lones[k].value, rtol=1e-14)


@given(hnp.arrays(np.float64, st.integers(1, 5), elements=st.floats(-10, 10)),
       st.floats(1e-4, 1.0), st.integers(1, 5))
def test_adam_with_a_constant_gradient_moves_lr_per_step_against_its_sign(g, lr, steps):
    """With a constant gradient, m_hat = g and v_hat = g^2 at every step: each step is lr g/(|g|+eps)."""
    p = param(np.zeros_like(g))
    opt = Adam([p], lr, f64())
    for _ in range(steps):
        p.grad[...] = g
        opt.step()
    np.testing.assert_allclose(p.value, -steps * lr * g / (np.abs(g) + 1e-8), rtol=1e-9, atol=1e-15)


def test_float32_parameters_stay_float32():
    be = Backend("numpy", "float32")
    p = Param(np.ones(3, dtype=np.float32), "w", np)
    for make in (lambda: SGD([p], [0.1], be), lambda: Adam([p], 0.1, be)):
        opt = make()
        p.grad[...] = 1.0
        opt.step()
        assert p.value.dtype == np.float32


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf"), [0.1, 0.0]])
@pytest.mark.parametrize("make", [SGD, Adam])
def test_invalid_learning_rate_raises_value_error(make, lr):
    with pytest.raises(ValueError, match="learning rate"):
        make([param([1.0])], lr, f64())


@pytest.mark.parametrize("kwargs", [{"b1": 1.0}, {"b2": -0.1}, {"eps": 0.0}])
def test_adam_invalid_moment_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="Adam needs"):
        Adam([param([1.0])], 0.1, f64(), **kwargs)
