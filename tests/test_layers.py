"""Backward passes of every layer against float64 finite differences, and the
sampling statistics of the stochastic layers (MODEL.md §A3, §B1).

Noise is frozen for a finite-difference check by giving the layer a freshly
seeded generator before every forward pass, so each evaluation of
``L = sum(a * R)`` (R fixed and random) sees the same ``xi``, ``eps`` or ``r``.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import assert_grad_close, assert_mc_mean, assert_mc_variance, f64, fd_atol, numerical_grad
from minisyn.backend import Backend
from minisyn.layers import BernoulliLinear, GaussianLinear, Linear, Param, ReLU, Sign
from minisyn.ops import softplus

NOISE_SEED = 1234


# -- strategies ---------------------------------------------------------------------
def away_from_zero(shape, lo=0.1, hi=2.0):
    """Arrays with entries in ``[-hi, -lo] U [lo, hi]`` (no kinks, no vanishing rows)."""
    mag = hnp.arrays(np.float64, shape, elements=st.floats(lo, hi))
    sign = hnp.arrays(np.bool_, shape)
    return st.tuples(mag, sign).map(lambda ms: np.where(ms[1], ms[0], -ms[0]))


def plain(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi))


dims = st.fixed_dictionaries({
    "B": st.integers(1, 4),
    "n_in": st.integers(1, 5),
    "n_out": st.integers(1, 4),
    "K": st.integers(1, 3),
})

# lead: () a lone layer; 'K' ensemble weights and an ensemble input (K, B, n_in);
# 'shared' ensemble weights and one shared input (B, n_in)
LEADS = ["lone", "ensemble", "shared"]


def shapes_for(d, lead):
    lead_axes = () if lead == "lone" else (d["K"],)
    x_shape = (d["B"], d["n_in"]) if lead in ("lone", "shared") else (d["K"], d["B"], d["n_in"])
    a_shape = lead_axes + (d["B"], d["n_out"])
    return lead_axes, x_shape, a_shape


def frozen_loss(layer, x, R, mode="sample"):
    """``L = sum(a * R)`` with the layer's noise drawn from a fresh, fixed generator."""
    layer.gen = layer.be.generator(NOISE_SEED)
    return float((layer.forward(x, mode) * R).sum())


def check_layer_grads(layer, x, R, params, mode="sample"):
    """Analytic gradients of ``sum(a R)`` w.r.t. ``params`` and ``x`` against finite differences."""
    for p in layer.params:
        p.grad[...] = 0
    frozen_loss(layer, x, R, mode)
    dL_dx = layer.backward(R)
    analytic = {p.name: p.grad.copy() for p in params}
    # a central difference has a rounding error of about eps_mach sum|a R| / h
    layer.gen = layer.be.generator(NOISE_SEED)
    atol = fd_atol(layer.forward(x, mode) * R)
    for p in params:
        numeric = numerical_grad(lambda: frozen_loss(layer, x, R, mode), p.value)
        assert_grad_close(analytic[p.name], numeric, atol=atol, name=f"dL/d{p.name}")
    numeric_x = numerical_grad(lambda: frozen_loss(layer, x, R, mode), x)
    assert_grad_close(dL_dx, numeric_x, atol=atol, name="dL/dx")


# -- Linear ---------------------------------------------------------------------------
@pytest.mark.parametrize("lead", LEADS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@given(d=dims, data=st.data())
def test_linear_backward_matches_finite_differences(lead, bias, d, data):
    be = f64()
    lead_axes, x_shape, a_shape = shapes_for(d, lead)
    layer = Linear(d["n_in"], d["n_out"], be, be.generator(0), lead=lead_axes, bias=bias)
    layer.mu.value[...] = data.draw(plain(layer.weight_shape))
    x = data.draw(plain(x_shape))
    R = data.draw(plain(a_shape))
    check_layer_grads(layer, x, R, [layer.mu])


def test_linear_forward_is_affine_with_bias_as_last_column():
    be = f64()
    layer = Linear(2, 1, be, be.generator(0))
    layer.mu.value[...] = [[2.0, -1.0, 0.5]]          # w = (2, -1), b = 0.5
    a = layer.forward(np.array([[1.0, 3.0], [0.0, 0.0]]))
    np.testing.assert_allclose(a, [[2.0 - 3.0 + 0.5], [0.5]])


def test_backward_adds_into_param_grad_rather_than_overwriting():
    be = f64()
    layer = Linear(3, 2, be, be.generator(0))
    x, R = np.ones((4, 3)), np.ones((4, 2))
    layer.forward(x)
    layer.backward(R)
    once = layer.mu.grad.copy()
    layer.backward(R)
    np.testing.assert_allclose(layer.mu.grad, 2 * once)
    assert np.abs(once).max() > 0


def test_wrong_input_width_raises_value_error_naming_the_width():
    be = f64()
    layer = Linear(3, 2, be, be.generator(0))
    with pytest.raises(ValueError, match="expects 3 inputs"):
        layer.forward(np.ones((4, 2)))


# -- GaussianLinear -------------------------------------------------------------------
def make_gaussian(be, d, lead_axes, bias, scheme, homogeneous, data):
    phi = None
    if homogeneous:
        phi = Param(data.draw(plain(lead_axes + (1, 1), -2.0, 1.0)), "phi", be.xp)
    layer = GaussianLinear(d["n_in"], d["n_out"], be, be.generator(0), lead=lead_axes, bias=bias,
                           scheme=scheme, phi=phi)
    layer.mu.value[...] = data.draw(plain(layer.weight_shape))
    if not homogeneous:
        layer.phi.value[...] = data.draw(plain(layer.weight_shape, -2.0, 1.0))
    return layer


@pytest.mark.parametrize("lead", LEADS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("homogeneous", [False, True], ids=["heterogeneous", "homogeneous"])
@pytest.mark.parametrize("scheme", ["weights", "local"])
@given(d=dims, data=st.data())
def test_gaussian_backward_matches_finite_differences(scheme, homogeneous, bias, lead, d, data):
    be = f64()
    lead_axes, x_shape, a_shape = shapes_for(d, lead)
    layer = make_gaussian(be, d, lead_axes, bias, scheme, homogeneous, data)
    x = data.draw(away_from_zero(x_shape))
    R = data.draw(plain(a_shape))
    check_layer_grads(layer, x, R, [layer.mu, layer.phi])


@pytest.mark.parametrize("scheme", ["weights", "local"])
@given(d=dims, data=st.data())
def test_gaussian_mean_mode_is_x_mu_and_gives_no_phi_gradient(scheme, d, data):
    be = f64()
    layer = make_gaussian(be, d, (), True, scheme, False, data)
    x = data.draw(plain((d["B"], d["n_in"])))
    R = data.draw(plain((d["B"], d["n_out"])))
    a = layer.forward(x, "mean")
    mu = layer.mu.value
    np.testing.assert_allclose(a, x @ mu[:, :-1].T + mu[:, -1], rtol=1e-12, atol=1e-12)
    check_layer_grads(layer, x, R, [layer.mu], mode="mean")
    assert np.all(layer.phi.grad == 0)


def test_gaussian_unknown_scheme_raises_value_error():
    be = f64()
    with pytest.raises(ValueError, match="scheme"):
        GaussianLinear(2, 2, be, be.generator(0), scheme="global")


def _gaussian_for_mc(be, scheme, lead=()):
    rng = np.random.default_rng(3)
    layer = GaussianLinear(3, 2, be, be.generator(11), lead=lead, bias=True, scheme=scheme)
    layer.mu.value[...] = rng.uniform(-1, 1, layer.weight_shape)
    layer.phi.value[...] = rng.uniform(-1.5, 0.5, layer.weight_shape)
    x = rng.uniform(-1, 1, (4, 3))
    xb = np.concatenate([x, np.ones((4, 1))], axis=1)
    mean = xb @ np.swapaxes(layer.mu.value, -1, -2)
    var = (xb * xb) @ np.swapaxes(softplus(layer.phi.value, np) ** 2, -1, -2)
    return layer, x, mean, var


def test_local_scheme_preactivation_has_mean_x_mu_and_variance_x2_sigma2():
    """§A3: a = m + sqrt(v) eps with m = x mu^T, v = (x*x)(sigma*sigma)^T."""
    be = f64()
    layer, x, mean, var = _gaussian_for_mc(be, "local")
    S = 20_000
    a = layer.forward(np.tile(x, (S, 1))).reshape(S, *mean.shape)   # eps is drawn per example
    assert_mc_mean(a, mean, name="E[a]")
    assert_mc_variance(a, mean, var, name="Var[a]")


def test_weight_scheme_preactivation_has_mean_x_mu_and_variance_x2_sigma2():
    """§A3: w = mu + sigma xi, one weight sample per forward pass."""
    be = f64()
    layer, x, mean, var = _gaussian_for_mc(be, "weights")
    S = 4_000
    a = np.stack([layer.forward(x) for _ in range(S)])
    assert_mc_mean(a, mean, name="E[a]")
    assert_mc_variance(a, mean, var, name="Var[a]")


def test_weight_scheme_shares_one_weight_sample_across_the_batch():
    be = f64()
    layer = GaussianLinear(1, 1, be, be.generator(0), bias=False, sigma_init=1.0)
    layer.mu.value[...] = 0.0
    a = layer.forward(np.ones((5, 1)))
    assert np.all(a == a[0]) and a[0, 0] != 0


def test_local_scheme_draws_independent_noise_per_example():
    be = f64()
    layer = GaussianLinear(1, 1, be, be.generator(0), bias=False, scheme="local", sigma_init=1.0)
    layer.mu.value[...] = 0.0
    a = layer.forward(np.ones((5, 1)))
    assert len(np.unique(a)) == 5


# -- BernoulliLinear ------------------------------------------------------------------
@pytest.mark.parametrize("lead", LEADS)
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("mode", ["sample", "mean"])
@given(d=dims, data=st.data())
def test_bernoulli_backward_matches_finite_differences(mode, bias, lead, d, data):
    be = f64()
    lead_axes, x_shape, a_shape = shapes_for(d, lead)
    layer = BernoulliLinear(d["n_in"], d["n_out"], be, be.generator(0), lead=lead_axes, bias=bias)
    layer.m.value[...] = data.draw(plain(layer.weight_shape))
    layer.p = data.draw(plain(layer.weight_shape, 0.25, 1.0))
    x = data.draw(plain(x_shape))
    R = data.draw(plain(a_shape))
    check_layer_grads(layer, x, R, [layer.m], mode=mode)


def test_bernoulli_gradient_is_r_over_p_times_weight_gradient():
    """§B1: dL/dm = (r/p) dL/dw; a synapse that did not release gets no gradient."""
    be = f64()
    layer = BernoulliLinear(4, 3, be, be.generator(5), p_init=0.5)
    x, R = np.ones((2, 4)), np.ones((2, 3))
    layer.forward(x)
    layer.backward(R)
    released = layer._W != 0
    assert released.any() and (~released).any()
    np.testing.assert_allclose(layer.m.grad[released], 2.0 / 0.5)   # dL/dw = sum_b R x = 2, r/p = 2
    assert np.all(layer.m.grad[~released] == 0)


def _bernoulli_weight_samples(layer, S):
    eye = np.eye(layer.n_in)               # input e_i reads out column i: a[i, j] = w_ji
    return np.stack([np.swapaxes(layer.forward(eye), -1, -2) for _ in range(S)])


def test_bernoulli_weights_have_mean_m_and_variance_m2_1mp_over_p():
    """§B1: w = r m / p, r ~ Bernoulli(p): E[w] = m, Var[w] = m^2 (1 - p) / p."""
    be = f64()
    layer = BernoulliLinear(3, 2, be, be.generator(0))
    layer.p = np.array([[0.25, 0.5, 0.9], [1.0, 0.3, 0.7]])
    w = _bernoulli_weight_samples(layer, 20_000)
    m = layer.m.value
    assert_mc_mean(w, m, name="E[w]")
    assert_mc_variance(w, m, m * m * (1 - layer.p) / layer.p, name="Var[w]")


def test_bernoulli_ghost_release_uses_fixed_probability_and_keeps_mean_m():
    """§B5 ghost control: release with release_p regardless of p, E[w] still m."""
    be = f64()
    layer = BernoulliLinear(3, 2, be, be.generator(0), release_p=0.5)
    layer.p = np.full(layer.weight_shape, 0.99)
    w = _bernoulli_weight_samples(layer, 10_000)
    assert_mc_mean((w != 0).astype(float), np.full(layer.weight_shape, 0.5), name="release rate")
    assert_mc_mean(w, layer.m.value, name="E[w]")


def test_bernoulli_p_one_is_deterministic():
    be = f64()
    layer = BernoulliLinear(3, 2, be, be.generator(0), p_init=1.0)
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(layer.forward(x), x @ layer.m.value.T)


@pytest.mark.parametrize("kwargs", [{"p_init": 0.0}, {"p_init": 1.5}, {"release_p": 0.0}, {"release_p": 2.0}])
def test_bernoulli_invalid_probability_raises_value_error(kwargs):
    be = f64()
    with pytest.raises(ValueError, match="must lie in"):
        BernoulliLinear(2, 2, be, be.generator(0), **kwargs)


# -- nonlinearities ---------------------------------------------------------------------
@given(a=st.integers(1, 4).flatmap(lambda n: away_from_zero((n, 3), 0.01, 5.0)), data=st.data())
def test_relu_backward_matches_finite_differences_away_from_the_kink(a, data):
    be = f64()
    relu = ReLU(be)
    R = data.draw(plain(a.shape))
    relu.forward(a)
    analytic = relu.backward(R)
    numeric = numerical_grad(lambda: float((relu.forward(a) * R).sum()), a)
    assert_grad_close(analytic, numeric, name="dL/da")
    np.testing.assert_array_equal(relu.forward(a), np.maximum(a, 0))


@given(a=st.integers(1, 4).flatmap(lambda n: away_from_zero((n, 3), 0.01, 5.0)), data=st.data())
def test_sign_passes_zero_gradient_and_outputs_the_sign(a, data):
    be = f64()
    sign = Sign(be)
    out = sign.forward(a)
    np.testing.assert_array_equal(out, np.where(a > 0, 1.0, -1.0))
    R = data.draw(plain(a.shape))
    g = sign.backward(R)
    assert g.shape == a.shape
    assert np.all(g == 0)
    np.testing.assert_array_equal(numerical_grad(lambda: float((sign.forward(a) * R).sum()), a), g)


@pytest.mark.parametrize("scheme", ["weights", "local"])
@pytest.mark.parametrize("homogeneous", [False, True])
@pytest.mark.parametrize("lead", [(), (2,)])
def test_gaussian_reused_buffers_give_the_same_steps_as_fresh_ones(scheme, homogeneous, lead):
    """The layer keeps its per-synapse scratch arrays and biased input between
    steps; reusing them (also across batch sizes) changes no number."""
    be = Backend("numpy", "float32")
    rng = np.random.default_rng(0)
    batches = [rng.random(lead + (b, 6)).astype(np.float32) for b in (5, 3, 5, 5)]
    deltas = [rng.standard_normal(lead + (b, 4)).astype(np.float32) for b in (5, 3, 5, 5)]

    def make():
        phi = None
        if homogeneous:
            phi = Param(np.full(lead + (1, 1), -1.0, dtype=np.float32), "phi", np)
        return GaussianLinear(6, 4, be, be.generator(3 if not lead else [3, 4]), lead=lead,
                              scheme=scheme, phi=phi, sigma_init=0.3)

    kept, fresh = make(), make()
    for x, d in zip(batches, deltas):
        fresh.__dict__.pop("_bufs", None)
        fresh.__dict__.pop("_xb", None)
        outs = []
        for layer in (kept, fresh):
            for p in layer.params:
                p.grad[...] = 0
            a = layer.forward(x)
            dx = layer.backward(d)
            outs.append((a.copy(), dx.copy(), [p.grad.copy() for p in layer.params]))
            for p in layer.params:
                p.value -= 0.1 * p.grad                    # the parameters move, as in training
        (a1, dx1, g1), (a2, dx2, g2) = outs
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(dx1, dx2)
        for u, v in zip(g1, g2):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("lead", [(), (2,)])
@given(data=st.data(), all_nonpositive=st.booleans())
def test_gaussian_forward_sigma_and_slope_are_softplus_and_logistic(lead, data, all_nonpositive):
    """Both routes of a training step (every phi <= 0: log1p(exp(phi)) and
    e / (1 + e); otherwise the general softplus and 1 - exp(-sigma)) give
    softplus(phi) and logistic(phi), on numpy and on the strict stand-in."""
    phi = data.draw(plain(lead + (3, 5), -30.0, 0.0 if all_nonpositive else 5.0))
    for name in ("numpy", "strict"):
        be = Backend(name, "float64")
        layer = GaussianLinear(4, 3, be, be.generator(0 if not lead else [0, 1]), lead=lead)
        layer.phi.value[...] = be.asarray(phi)
        layer.forward(be.asarray(np.ones(lead + (2, 4))))
        sigma, slope = layer.sigma_and_slope(cached=True)
        assert (layer._exp_phi is not None) == bool((phi <= 0).all())      # which route was taken
        np.testing.assert_allclose(be.to_numpy(sigma), np.logaddexp(0.0, phi), rtol=1e-13)
        np.testing.assert_allclose(be.to_numpy(slope), 1.0 / (1.0 + np.exp(-phi)), rtol=1e-12)


@pytest.mark.parametrize("scheme", ["weights", "local"])
@pytest.mark.parametrize("route", ["all_phi_nonpositive", "some_phi_positive"])
@given(d=dims, data=st.data())
def test_gaussian_backward_matches_finite_differences_on_each_softplus_route(scheme, route, d, data):
    """dL/dphi through the slope e / (1 + e) (every phi <= 0) and through
    1 - exp(-sigma) (some phi > 0), in float64 against finite differences."""
    be = f64()
    layer = make_gaussian(be, d, (), True, scheme, False, data)
    layer.phi.value[...] = data.draw(plain(layer.weight_shape, -2.0, -0.1))
    if route == "some_phi_positive":
        layer.phi.value[0, 0] = data.draw(st.floats(0.2, 1.0))
    x = data.draw(away_from_zero((d["B"], d["n_in"])))
    R = data.draw(plain((d["B"], d["n_out"])))
    check_layer_grads(layer, x, R, [layer.mu, layer.phi])
    assert (layer._exp_phi is not None) == (route == "all_phi_nonpositive")
