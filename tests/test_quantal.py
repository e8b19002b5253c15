"""Quantal synapses ``w = q k``, ``k ~ Binomial(n, p)`` (MODEL.md §A1, Part C): the backward
passes against float64 finite differences, the sample scheme's gradient estimator against
Monte Carlo, the moments, and the two limits (Bernoulli at n = 1, Gaussian for large n).

Noise is frozen for a finite-difference check by giving the layer a freshly seeded
generator before every forward pass: the releases ``k`` (sample scheme) or ``eps``
(local scheme) are then the same in every evaluation of ``L = sum(a * R)``.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from helpers import assert_grad_close, assert_mc_mean, assert_mc_variance, f64, fd_atol, numerical_grad
from minisyn.biophysics import quantal_moments
from minisyn.layers import BernoulliLinear, QuantalLinear

NOISE_SEED = 1234
LEADS = ["lone", "ensemble", "shared"]
dims = st.fixed_dictionaries({"B": st.integers(1, 4), "n_in": st.integers(1, 4), "n_out": st.integers(1, 3),
                              "K": st.integers(1, 3), "n": st.integers(1, 6)})


def plain(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi))


def away_from_zero(shape, lo=0.1, hi=2.0):
    mag = hnp.arrays(np.float64, shape, elements=st.floats(lo, hi))
    return st.tuples(mag, hnp.arrays(np.bool_, shape)).map(lambda ms: np.where(ms[1], ms[0], -ms[0]))


def shapes_for(d, lead):
    lead_axes = () if lead == "lone" else (d["K"],)
    x_shape = (d["B"], d["n_in"]) if lead in ("lone", "shared") else (d["K"], d["B"], d["n_in"])
    return lead_axes, x_shape, lead_axes + (d["B"], d["n_out"])


#: (coordinates, p_learning): the three ways the layer learns
MODES = [("mean", "gradient"), ("size", "gradient"), ("mean", "presynaptic")]
MODE_IDS = ["mean-gradient", "size-gradient", "presynaptic"]


def make_layer(be, d, lead_axes, bias, scheme, mode, data):
    coordinates, p_learning = mode
    layer = QuantalLinear(d["n_in"], d["n_out"], be, be.generator(0), lead=lead_axes, bias=bias, n=d["n"],
                          scheme=scheme, p_learning=p_learning, coordinates=coordinates)
    layer.params[0].value[...] = data.draw(away_from_zero(layer.weight_shape, 0.05))    # m or q
    if p_learning == "gradient":
        layer.logit.value[...] = data.draw(plain(layer.weight_shape, -3.0, 3.0))
    else:
        layer.p = data.draw(hnp.arrays(np.float64, layer.weight_shape, elements=st.floats(0.05, 1.0)))
    return layer


def frozen_loss(layer, x, R, mode="sample"):
    layer.gen = layer.be.generator(NOISE_SEED)
    return float((layer.forward(x, mode) * R).sum())


def analytic_grads(layer, x, R, mode="sample"):
    for p in layer.params:
        p.grad[...] = 0
    frozen_loss(layer, x, R, mode)
    dL_dx = layer.backward(R)
    return {p.name: p.grad.copy() for p in layer.params}, dL_dx


def check_against_fd(layer, x, R, params, mode="sample", with_x=True):
    grads, dL_dx = analytic_grads(layer, x, R, mode)
    layer.gen = layer.be.generator(NOISE_SEED)
    atol = fd_atol(layer.forward(x, mode) * R)
    for p in params:
        numeric = numerical_grad(lambda: frozen_loss(layer, x, R, mode), p.value)
        assert_grad_close(grads[p.name], numeric, atol=atol, name=f"dL/d{p.name}")
    if with_x:
        assert_grad_close(dL_dx, numerical_grad(lambda: frozen_loss(layer, x, R, mode), x), atol=atol, name="dL/dx")
    return grads


# -- backward passes against finite differences -----------------------------------------
@pytest.mark.parametrize("lead", LEADS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@given(d=dims, data=st.data())
def test_local_scheme_backward_matches_finite_differences(mode, bias, lead, d, data):
    be = f64()
    lead_axes, x_shape, a_shape = shapes_for(d, lead)
    layer = make_layer(be, d, lead_axes, bias, "local", mode, data)
    check_against_fd(layer, data.draw(away_from_zero(x_shape)), data.draw(plain(a_shape)), layer.params)


@pytest.mark.parametrize("scheme", QuantalLinear.SCHEMES)
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@given(d=dims, data=st.data())
def test_mean_mode_is_x_times_npq_and_its_backward_matches_finite_differences(scheme, mode, d, data):
    be = f64()
    layer = make_layer(be, d, (), True, scheme, mode, data)
    x, R = data.draw(plain((d["B"], d["n_in"]))), data.draw(plain((d["B"], d["n_out"])))
    n, p, q = layer.quantal()
    M = n * p * q
    np.testing.assert_allclose(layer.forward(x, "mean"), x @ M[:, :-1].T + M[:, -1], rtol=1e-12, atol=1e-12)
    check_against_fd(layer, x, R, layer.params, mode="mean")


@pytest.mark.parametrize("lead", LEADS)
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@given(d=dims, data=st.data())
def test_sample_scheme_gradients_of_q_m_and_x_match_finite_differences(mode, lead, d, data):
    """w = q k (or (k / (n p)) m) is linear in q (m) and a = x w^T in x, at the releases k."""
    be = f64()
    lead_axes, x_shape, a_shape = shapes_for(d, lead)
    layer = make_layer(be, d, lead_axes, True, "sample", mode, data)
    check_against_fd(layer, data.draw(plain(x_shape)), data.draw(plain(a_shape)), layer.params[:1])


def surrogate_weights(layer, k):
    """The Gaussian surrogate of the sample scheme as a function of the logit, with the standardised
    count ``z`` of the releases ``k`` held fixed (at the present logit): ``w = q (n p + z sqrt(n p (1-p)))``
    at fixed q, ``w = m (1 + z sqrt((1-p) / (n p)))`` at fixed m."""
    n, p0, _ = layer.quantal()
    z = (k - n * p0) / np.sqrt(n * p0 * (1 - p0))
    strength = layer.params[0].value.copy()

    def w():
        p = 1.0 / (1.0 + np.exp(-layer.logit.value))
        if layer.coordinates == "size":
            return strength * (n * p + z * np.sqrt(n * p * (1 - p)))
        return strength * (1 + z * np.sqrt((1 - p) / (n * p)))
    return w


@pytest.mark.parametrize("lead", LEADS)
@pytest.mark.parametrize("coordinates", QuantalLinear.COORDINATES)
@given(d=dims, data=st.data())
def test_sample_scheme_logit_gradient_is_the_derivative_of_the_gaussian_surrogate(coordinates, lead, d, data):
    """dw/dlogit = -(w - m)/2 at fixed m, q (n p (1-p) + (k - n p)(1 - 2p)/2) at fixed q: the finite
    difference of the surrogate at fixed z."""
    be = f64()
    lead_axes, x_shape, a_shape = shapes_for(d, lead)
    layer = make_layer(be, d, lead_axes, True, "sample", (coordinates, "gradient"), data)
    x, R = data.draw(plain(x_shape)), data.draw(plain(a_shape))
    grads, _ = analytic_grads(layer, x, R)
    w = surrogate_weights(layer, layer._k.copy())
    np.testing.assert_allclose(w(), layer._W, rtol=1e-12, atol=1e-12)      # the surrogate passes through w = q k
    xb = np.concatenate([x, np.ones(x.shape[:-1] + (1,))], axis=-1)
    loss = lambda: float((xb @ np.swapaxes(w(), -1, -2) * R).sum())      # noqa: E731
    numeric = numerical_grad(loss, layer.logit.value)
    assert_grad_close(grads["logit"], numeric, atol=fd_atol(xb @ np.swapaxes(w(), -1, -2) * R), name="dL/dlogit")


# -- the estimator against Monte Carlo ------------------------------------------------------
def quadratic_setup(coordinates, n):
    be = f64()
    rng = np.random.default_rng(5)
    layer = QuantalLinear(3, 2, be, be.generator(7), bias=True, n=n, scheme="sample", coordinates=coordinates)
    layer.params[0].value[...] = rng.uniform(-1, 1, layer.weight_shape)
    layer.logit.value[...] = rng.uniform(-2, 2, layer.weight_shape)
    return layer, rng.uniform(-1, 1, (4, 3))


def expected_quadratic_loss(layer, x):
    """``E[L]`` for ``L = sum(a^2) / 2``: ``(sum m^2 + sum v) / 2`` with the layer's moments (§A1)."""
    xb = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    M, V = layer.moments()
    return 0.5 * (((xb @ M.T) ** 2).sum() + ((xb * xb) @ V.T).sum())


@pytest.mark.parametrize("coordinates", QuantalLinear.COORDINATES)
@pytest.mark.parametrize("n", [1, 4])
def test_sample_scheme_estimator_is_unbiased_for_a_quadratic_loss_by_monte_carlo(n, coordinates):
    """The mean over release draws of the gradients (strength exact, logit by the Gaussian surrogate)
    equals the gradient of E[sum(a^2)/2], from finite differences of its closed form."""
    layer, x = quadratic_setup(coordinates, n)
    exact = {p.name: numerical_grad(lambda: expected_quadratic_loss(layer, x), p.value) for p in layer.params}
    S = 20_000
    draws = {p.name: np.empty((S,) + p.shape) for p in layer.params}
    for s in range(S):
        for p in layer.params:
            p.grad[...] = 0
        a = layer.forward(x)
        layer.backward(a)                                   # dL/da = a for L = sum(a^2)/2
        for p in layer.params:
            draws[p.name][s] = p.grad
    for name in draws:
        assert_mc_mean(draws[name], exact[name], name=f"E[dL/d{name}]")


def enumerated_gradients(n, p, q, f, df):
    """For one synapse and ``L = f(w)``: the exact ``d E[f(q k)] / d logit`` (enumerating k) and the
    surrogate estimator's mean ``E[f'(q k) q dk/dlogit]``."""
    k = np.arange(n + 1)
    pmf = stats.binom.pmf(k, n, p)
    exact = (pmf * (k - n * p) * f(q * k)).sum()                      # d pmf / d logit = pmf (k - n p)
    estimator = (pmf * df(q * k) * q * (n * p * (1 - p) + (k - n * p) * (1 - 2 * p) / 2)).sum()
    return exact, estimator


@given(p=st.floats(0.05, 0.95), q=st.floats(-2.0, 2.0).filter(lambda v: abs(v) > 0.05))
def test_estimator_is_exact_in_expectation_for_quadratics_at_every_n(p, q):
    for n in (1, 2, 7, 30):
        exact, est = enumerated_gradients(n, p, q, lambda w: 3 * w - w * w, lambda w: 3 - 2 * w)
        assert est == pytest.approx(exact, rel=1e-9, abs=1e-9)


@given(p=st.floats(0.1, 0.9))
def test_estimator_bias_for_a_cubic_loss_shrinks_as_n_grows(p):
    """Beyond second moments the surrogate is biased; at fixed p and mean, the relative bias falls with n."""
    bias = []
    for n in (2, 8, 32, 128):
        q = 1.0 / (n * p)                                            # mean 1 at every n
        exact, est = enumerated_gradients(n, p, q, lambda w: w ** 3, lambda w: 3 * w ** 2)
        bias.append(abs(est - exact) / abs(exact))
    assert all(b1 < b0 for b0, b1 in zip(bias, bias[1:])) and bias[-1] < 0.05


# -- moments -------------------------------------------------------------------------------
@given(n=st.integers(1, 50), logit=st.floats(-4, 4), q=st.floats(-3, 3))
def test_layer_moments_are_npq_and_npq2_one_minus_p(n, logit, q):
    be = f64()
    layer = QuantalLinear(1, 1, be, be.generator(0), bias=False, n=n, coordinates="size")
    layer.q.value[...] = q
    layer.logit.value[...] = logit
    _, p, _ = layer.quantal()
    M, V = layer.moments()
    mu, sigma = quantal_moments(n, p, q)
    np.testing.assert_allclose(M, mu, rtol=1e-12, atol=0)
    np.testing.assert_allclose(layer.sigma(), sigma, rtol=1e-12, atol=0)
    if abs(q) > 1e-100:                                          # V holds q^2, which underflows below that
        np.testing.assert_allclose(np.sqrt(V), sigma, rtol=1e-12, atol=0)


@given(logit=st.floats(-30, 30))
def test_release_probability_and_its_complement_stay_in_the_unit_interval_and_sum_to_one(logit):
    be = f64()
    layer = QuantalLinear(1, 1, be, be.generator(0), bias=False, n=1)
    layer.logit.value[...] = logit
    p, pbar = layer.release_probabilities()
    assert 0 < p <= 1 and 0 <= pbar < 1 and abs(p + pbar - 1) <= 1e-15
    assert pbar == pytest.approx(1 / (1 + np.exp(logit)), rel=1e-12)            # no cancellation near p = 1


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_sampled_weights_have_the_quantal_mean_and_variance(mode):
    be = f64()
    rng = np.random.default_rng(2)
    layer = QuantalLinear(3, 2, be, be.generator(4), n=6, scheme="sample", coordinates=mode[0], p_learning=mode[1])
    layer.params[0].value[...] = rng.uniform(-1, 1, layer.weight_shape)
    if mode[1] == "presynaptic":
        layer.p = rng.uniform(0.1, 1.0, layer.weight_shape)
    M, V = layer.moments()
    w = np.stack([(layer.forward(np.zeros((1, 3))), layer._W.copy())[1] for _ in range(20_000)])
    assert_mc_mean(w, M, name="E[w]")
    assert_mc_variance(w, M, V, name="Var[w]")
    n, p, q = layer.quantal()
    k = w / q                                                    # counts are integers in 0..n
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    assert k.min() > -0.5 and k.max() < n + 0.5


# -- the local scheme's moments are the sample scheme's ------------------------------------------
def local_and_sample_layers(n=4):
    be = f64()
    rng = np.random.default_rng(8)
    layers = [QuantalLinear(3, 2, be, be.generator(9), n=n, scheme=s, coordinates="size") for s in ("local", "sample")]
    q, t = rng.uniform(-1, 1, layers[0].weight_shape), rng.uniform(-2, 2, layers[0].weight_shape)
    for layer in layers:
        layer.q.value[...], layer.logit.value[...] = q, t
    x = rng.uniform(-1, 1, (5, 3))
    xb = np.concatenate([x, np.ones((5, 1))], axis=1)
    mu, sigma = quantal_moments(n, 1 / (1 + np.exp(-t)), q)
    return layers, x, xb @ mu.T, (xb * xb) @ (sigma ** 2).T


def test_local_scheme_uses_the_exact_preactivation_moments_of_the_sample_scheme():
    """Closed form against closed form: E[a] = sum_i x_i n p_i q_i, Var[a] = sum_i x_i^2 n p_i (1-p_i) q_i^2
    (independent releases), which the local scheme puts into a = mean + sqrt(v) eps."""
    (local, _), x, mean, var = local_and_sample_layers()
    a = local.forward(x)
    np.testing.assert_allclose(local._sv ** 2, var, rtol=1e-12)
    np.testing.assert_allclose(a - local._sv * local._eps, mean, rtol=1e-12, atol=1e-14)


def test_local_and_sample_preactivations_agree_in_mean_and_variance_by_monte_carlo():
    (local, sample), x, mean, var = local_and_sample_layers()
    S = 20_000
    for layer, a in ((sample, np.stack([sample.forward(x) for _ in range(S)])),
                     (local, local.forward(np.tile(x, (S, 1))).reshape(S, *mean.shape))):
        assert_mc_mean(a, mean, name=f"{layer.scheme}: E[a]")
        assert_mc_variance(a, mean, var, name=f"{layer.scheme}: Var[a]")


# -- n = 1: the Bernoulli synapse ---------------------------------------------------------------
def bernoulli_pair(lead=(), seed=3):
    be = f64()
    bern = BernoulliLinear(5, 4, be, be.generator(seed), lead=lead)
    quant = QuantalLinear(5, 4, be, be.generator(seed), lead=lead, bias=False, n=1, scheme="sample",
                          p_learning="presynaptic")
    return be, bern, quant


@pytest.mark.parametrize("lead", [(), (3,)], ids=["lone", "ensemble"])
def test_one_site_with_the_presynaptic_parameters_is_the_bernoulli_synapse_draw_for_draw(lead):
    """n = 1, q = m / p: the same initial m, the same releases, weights and gradients, bit for bit."""
    be, bern, quant = bernoulli_pair(lead)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(quant.m.value, bern.m.value)
    bern.p = quant.p = rng.choice([0.25, 0.5, 0.8, 1.0], bern.weight_shape)
    x, R = rng.normal(size=(6, 5)), rng.normal(size=lead + (6, 4))
    for _ in range(3):
        np.testing.assert_array_equal(quant.forward(x), bern.forward(x))
        np.testing.assert_array_equal(quant._W, bern._W)
        bern.m.grad[...] = quant.m.grad[...] = 0
        np.testing.assert_array_equal(quant.backward(R), bern.backward(R))
        np.testing.assert_array_equal(quant.m.grad, bern.m.grad)


@pytest.mark.parametrize("coordinates", QuantalLinear.COORDINATES)
def test_one_site_learned_by_gradient_releases_exactly_when_the_bernoulli_synapse_does(coordinates):
    """With p from the logit and q = m/p: the same releases and w = q r = (r/p) m (bit for bit at fixed m)."""
    be, bern, _ = bernoulli_pair()
    quant = QuantalLinear(5, 4, be, be.generator(3), bias=False, n=1, scheme="sample", coordinates=coordinates)
    quant.logit.value[...] = np.random.default_rng(1).uniform(-2, 2, quant.weight_shape)
    p = quant.p
    bern.p = p.copy()
    if coordinates == "size":
        quant.q.value[...] = bern.m.value / p
    for _ in range(5):
        quant.forward(np.ones((1, 5)))
        bern.forward(np.ones((1, 5)))
        np.testing.assert_array_equal(quant._k, bern._scale * p != 0)
        if coordinates == "mean":
            np.testing.assert_array_equal(quant._W, bern._W)
        np.testing.assert_allclose(quant._W, bern._W, rtol=1e-15, atol=0)


@given(p=st.floats(0.01, 1.0), m=st.floats(-2, 2))
def test_one_site_weight_distribution_is_bernoulli_exactly(p, m):
    """n = 1: w takes q = m/p with probability p and 0 otherwise, the law of §B1's r m / p."""
    assert stats.binom.pmf(1, 1, p) == pytest.approx(p) and stats.binom.pmf(0, 1, p) == pytest.approx(1 - p)
    mu, sigma = quantal_moments(1, p, m / p)
    assert mu == pytest.approx(m, rel=1e-12, abs=1e-300)
    assert sigma ** 2 == pytest.approx(m * m * (1 - p) / p, rel=1e-12, abs=1e-300)   # Var[r m / p]


# -- large n: the Gaussian synapse ----------------------------------------------------------------
def exact_ks_from_normal(n, p):
    """``sup_x |F(x) - Phi(x)|`` for the standardised Binomial(n, p) count (exact: the supremum
    is reached at a jump, from below or above)."""
    k = np.arange(n + 1)
    z = (k - n * p) / np.sqrt(n * p * (1 - p))
    F, Phi = stats.binom.cdf(k, n, p), stats.norm.cdf(z)
    F_before = np.concatenate([[0.0], F[:-1]])
    return max(np.abs(F - Phi).max(), np.abs(F_before - Phi).max())


@given(p=st.floats(0.1, 0.9))
def test_standardised_weight_tends_to_the_gaussian_with_ks_shrinking_like_one_over_sqrt_n(p):
    """At fixed p the weight's distribution, standardised (every q and mean alike), tends to N(0, 1):
    the exact KS distance falls like n^-1/2 (Berry-Esseen; log-log slope -1/2)."""
    ns = np.array([16, 64, 256, 1024, 4096])
    ks = np.array([exact_ks_from_normal(n, p) for n in ns])
    slope = np.polyfit(np.log(ns), np.log(ks), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.06)
    assert (ks[1:] < ks[:-1]).all()


@pytest.mark.parametrize("n", [4, 64, 1024])
def test_the_layers_draws_have_the_exact_ks_distance_from_the_gaussian(n):
    """The sample scheme's weights, standardised, against N(0, 1): the empirical KS statistic matches the
    exact one within the sampling error (about 1/sqrt(S))."""
    be = f64()
    layer = QuantalLinear(400, 100, be, be.generator(1), bias=False, n=n, scheme="sample", coordinates="size")
    layer.logit.value[...] = 0.0                                # p = 1/2
    layer.q.value[...] = 1.0
    layer.forward(np.zeros((1, 400)))
    z = ((layer._W - n * 0.5) / np.sqrt(n * 0.25)).ravel()
    S = z.size
    stat = stats.kstest(z, "norm").statistic
    assert abs(stat - exact_ks_from_normal(n, 0.5)) < 3 / np.sqrt(S)


def test_at_fixed_mean_and_sigma_large_n_tends_to_a_poisson_not_a_gaussian():
    """Fixing both moments forces p = mu^2 / (mu^2 + n sigma^2) -> 0: the count tends to Poisson(mu^2/sigma^2)
    and the KS distance from the Gaussian to a constant, which shrinks only as mu/sigma grows."""
    def ks(n, ratio):
        p = ratio ** 2 / (ratio ** 2 + n)                       # mu / sigma = ratio
        return exact_ks_from_normal(n, p)
    assert ks(4096, 2.0) == pytest.approx(ks(16384, 2.0), rel=0.02) and ks(16384, 2.0) > 0.05
    assert ks(16384, 8.0) < ks(16384, 2.0) / 3


# -- options ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "release sites"), ({"n": 2.5}, "release sites"), ({"n": True}, "release sites"),
    ({"scheme": "weights"}, "scheme"), ({"p_learning": "hebbian"}, "p_learning"),
    ({"coordinates": "log"}, "coordinates"), ({"coordinates": "size", "p_learning": "presynaptic"}, "coordinates"),
    ({"p_init": 1.0}, "p_init"), ({"p_init": 0.0}, "p_init"),
    ({"p_init": 1.5, "p_learning": "presynaptic"}, "p_init"),
])
def test_invalid_options_raise_value_error_naming_them(kwargs, match):
    be = f64()
    with pytest.raises(ValueError, match=match):
        QuantalLinear(2, 2, be, be.generator(0), **kwargs)


def test_gradient_learned_p_refuses_the_rules_assignment_and_its_m():
    be = f64()
    layer = QuantalLinear(2, 2, be, be.generator(0))
    with pytest.raises(ValueError, match="logit"):
        layer.p = np.ones(layer.weight_shape)
    with pytest.raises(ValueError, match="presynaptic"):
        layer.m
