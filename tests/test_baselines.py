"""Lifelong-learning baselines (MODEL.md §B5): the EWC penalty against finite
differences, and the BGD update's invariants and its pull towards a minimum."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import assert_grad_close, f64, fd_atol, numerical_grad
from minisyn.analysis import empirical_fisher
from minisyn.backend import Backend
from minisyn.baselines import BGD, EWC, bgd_update
from minisyn.layers import Param
from minisyn.losses import one_hot
from minisyn.network import MLP


def task(be, seed, n=8):
    rng = np.random.default_rng(seed)
    return be.floats(rng.normal(size=(n, 3))), be.asarray(rng.integers(0, 2, size=n))


def consolidated_net(be, tasks=2):
    net = MLP([3, 4, 2], "deterministic", be, seed=0)
    ewc = EWC(lam=3.0)
    for k in range(tasks):
        ewc.consolidate(net, *task(be, k))
        for layer in net.synaptic:             # move on, as training on the next task would
            layer.mu.value += 0.3 * be.floats(np.random.default_rng(10 + k).normal(size=layer.mu.shape))
    return net, ewc


def test_ewc_penalty_gradient_equals_finite_differences():
    be = f64()
    net, ewc = consolidated_net(be)
    value, grads = ewc.value_and_grad(net)
    assert float(value) > 0
    for i, layer in enumerate(net.synaptic):
        numeric = numerical_grad(lambda: ewc.value_and_grad(net)[0], layer.mu.value)
        assert_grad_close(grads[i], numeric, rtol=1e-6, atol=fd_atol(value), name=f"EWC gradient, layer {i}")


def test_ewc_penalty_is_the_fisher_weighted_squared_distance_by_hand():
    be = f64()
    net = MLP([3, 4, 2], "deterministic", be, seed=0)
    x, y = task(be, 0)
    ewc = EWC(lam=2.0)
    ewc.consolidate(net, x, y)
    F = empirical_fisher(net, x, y)
    net.synaptic[1].mu.value[0, 1] += 0.5
    value, _ = ewc.value_and_grad(net)
    assert float(value) == pytest.approx(0.5 * 2.0 * F[1][0, 1] * 0.25, rel=1e-12)


def test_ewc_penalty_and_gradient_vanish_at_theta_star(backends):
    be = Backend(backends, "float64")
    net = MLP([3, 4, 2], "deterministic", be, seed=0)
    ewc = EWC(lam=5.0)
    ewc.consolidate(net, *task(be, 0))
    value, grads = ewc.value_and_grad(net)
    assert float(value) == 0.0
    assert all(float(abs(be.to_numpy(g)).max()) == 0.0 for g in grads)


def test_ewc_add_grad_adds_into_the_parameter_gradients():
    be = f64()
    net, ewc = consolidated_net(be, tasks=1)
    net.zero_grad()
    net.synaptic[0].mu.grad += 1.0
    value = ewc.add_grad(net)
    _, grads = ewc.value_and_grad(net)
    np.testing.assert_allclose(net.synaptic[0].mu.grad, 1.0 + grads[0], rtol=1e-14)
    assert float(value) == pytest.approx(float(ewc.value_and_grad(net)[0]))


finite = st.floats(-1e12, 1e12, allow_nan=False)


@given(st.floats(1e-6, 10.0), finite, finite)
def test_bgd_sigma_update_keeps_sigma_positive(sigma, mean_g, mean_g_eps):
    xp = np
    mu, s = bgd_update(np.array([0.0]), np.array([sigma]), np.array([mean_g]), np.array([mean_g_eps]), 1.0, xp)
    assert np.isfinite(s).all() and (s > 0).all()
    assert s[0] <= sigma * (1 + 1e-12) or mean_g_eps < 0     # sigma shrinks exactly when E[g eps] > 0


def test_bgd_with_zero_gradient_statistics_leaves_mu_and_sigma_unchanged(backends):
    be = Backend(backends, "float64")
    mu, sigma, zero = be.floats([0.3, -1.0]), be.floats([0.1, 2.0]), be.floats([0.0, 0.0])
    mu2, sigma2 = bgd_update(mu, sigma, zero, zero, 0.7, be.xp)
    np.testing.assert_array_equal(be.to_numpy(mu2), [0.3, -1.0])
    np.testing.assert_array_equal(be.to_numpy(sigma2), [0.1, 2.0])


def test_bgd_update_matches_the_formula_of_zeno_et_al():
    mu, sigma, g, ge = 0.5, 0.2, 1.5, -0.8
    mu2, s2 = bgd_update(np.array(mu), np.array(sigma), np.array(g), np.array(ge), 0.3, np)
    assert float(mu2) == pytest.approx(mu - 0.3 * sigma**2 * g, rel=1e-14)
    assert float(s2) == pytest.approx(sigma * np.sqrt(1 + (sigma * ge / 2) ** 2) - sigma**2 * ge / 2, rel=1e-14)


def test_bgd_on_a_one_dimensional_quadratic_moves_mu_towards_the_minimum():
    """L = (theta - 3)^2 / 2: g = theta - 3, E[g] = mu - 3 + sigma E[eps]."""
    be = f64()
    theta = Param(be.floats([0.0]), "theta", be.xp)

    def closure():
        theta.grad += theta.value - 3.0
        return float(0.5 * (theta.value[0] - 3.0) ** 2)

    opt = BGD([theta], be, eta=1.0, sigma_init=0.5, n_samples=20, seed=0)
    distances = [3.0]
    for _ in range(30):
        opt.step(closure)
        distances.append(abs(3.0 - float(theta.value[0])))
    assert distances[-1] < 0.5 * distances[0]
    assert float(opt.sigma[0][0]) > 0


def test_bgd_trains_a_deterministic_mlp_on_a_separable_task():
    be = f64()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    xb, yb = be.floats(x), be.asarray(y)
    net = MLP([2, 8, 2], "deterministic", be, seed=0)
    opt = BGD(net.params(), be, eta=20.0, sigma_init=0.1, n_samples=5, seed=1)
    targets = one_hot(yb, 2, be.xp, be.dtype)
    losses = [opt.mlp_step(net, xb, targets, 40) for _ in range(60)]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
