"""The whole objective of MODEL.md §A4 and its gradient, ensembles, construction
and saving of :class:`minisyn.network.MLP`."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import assert_grad_close, f64, fd_atol, numerical_grad
from minisyn.backend import Backend
from minisyn.costs import L1Cost, L2Cost, PowerLawCost
from minisyn.losses import one_hot
from minisyn.network import MLP

N_TRAIN = 20   # small N, so the costs weigh as much as the cross-entropy


def data(be, sizes, B=5, seed=1, lead=()):
    rng = np.random.default_rng(seed)
    x = be.floats(rng.uniform(-1, 1, lead + (B, sizes[0])))
    t = one_hot(be.asarray(rng.integers(0, sizes[-1], B)), sizes[-1], be.xp, be.dtype)
    return x, t


def freeze_noise(net):
    """Fresh generators with the net's seeds: every evaluation draws the same noise."""
    g = net.be.generator(net.seed)
    net.gen = g
    for layer in net.synaptic:
        layer.gen = g


def total_objective(net, x, t, costs):
    freeze_noise(net)
    net.zero_grad()
    return float(net.objective(x, t, N_TRAIN, costs)["loss"].sum())


def check_objective_gradient(net, x, t, costs):
    L = total_objective(net, x, t, costs)
    assert np.isfinite(L)
    analytic = [p.grad.copy() for p in net.params()]
    atol = fd_atol(L)
    for p, g in zip(net.params(), analytic):
        numeric = numerical_grad(lambda: total_objective(net, x, t, costs), p.value)
        assert_grad_close(g, numeric, rtol=1e-6, atol=atol, name=f"dL/d{p.name} {p.shape}")
        assert np.abs(g).max() > 0, f"dL/d{p.name} is identically zero"


@pytest.mark.parametrize("noise", ["heterogeneous", "homogeneous"])
@pytest.mark.parametrize("scheme", ["weights", "local"])
@pytest.mark.parametrize("ensemble", [None, 2], ids=["lone", "K2"])
def test_gaussian_objective_gradient_matches_finite_differences(scheme, noise, ensemble):
    """§A3, §A4: d/d(mu, phi) of mean CE + (c sum sigma^-rho + lambda |mu|_1) / N."""
    be = f64()
    sizes = [3, 4, 2]
    if ensemble is None:
        costs = [PowerLawCost(1e-2, 0.5), L1Cost(1e-2)]
        seed = 0
    else:
        costs = [PowerLawCost([1e-2, 5e-2], [0.5, 2.0]), L1Cost([1e-2, 3e-2])]
        seed = [0, 1]
    net = MLP(sizes, "gaussian", be, seed=seed, ensemble=ensemble, scheme=scheme, noise=noise,
              sigma_init=0.3, mu_init=1.0)
    if noise == "homogeneous":
        assert len(net.params()) == len(net.synaptic) + 1   # every mu, and one shared phi
    x, t = data(be, sizes)
    check_objective_gradient(net, x, t, costs)


@pytest.mark.parametrize("divisor", ["release_p", "p"])
def test_ghost_release_objective_gradient_matches_finite_differences(divisor):
    """§B5 ghost: a mask drawn at release_p, the weight divided by release_p or (the authors'
    code, docs/results/differences.md B1) by the evolving p."""
    be = f64()
    sizes = [3, 4, 2]
    net = MLP(sizes, "bernoulli", be, seed=0, release_p=0.5, ghost_divisor=divisor)
    rng = np.random.default_rng(3)
    for layer in net.synaptic:
        layer.p = be.floats(rng.uniform(0.3, 0.95, layer.p.shape))
    x, t = data(be, sizes)
    check_objective_gradient(net, x, t, [L2Cost(1e-2)])


@pytest.mark.parametrize("noise", ["heterogeneous", "homogeneous"])
def test_the_authors_relu_placement_has_the_right_gradient_and_forward(noise):
    """Paper A's code: no ReLU after layer 1, a ReLU after layer 2 and on the logits (A1)."""
    be = f64()
    sizes = [3, 4, 4, 3]
    net = MLP(sizes, "gaussian", be, seed=0, noise=noise, sigma_init=0.3, mu_init=1.0,
              relu_after=(False, True, True))
    x, t = data(be, sizes, B=6)
    check_objective_gradient(net, x, t, [PowerLawCost(1e-2, 0.5), L1Cost(1e-2)])
    relu = lambda a: np.maximum(a, 0.0)                                    # noqa: E731
    layer = lambda i, a: a @ net.synaptic[i].mu.value[:, :-1].T + net.synaptic[i].mu.value[:, -1]  # noqa: E731
    expected = relu(layer(2, relu(layer(1, layer(0, x)))))
    np.testing.assert_allclose(net.forward(x, "mean"), expected, rtol=1e-12)
    assert (net.forward(x, "mean") >= 0).all()
    with pytest.raises(ValueError, match="one entry per synaptic layer"):
        MLP(sizes, "gaussian", be, relu_after=(True, True))


@pytest.mark.parametrize("ensemble", [None, 2], ids=["lone", "K2"])
def test_bernoulli_objective_gradient_matches_finite_differences(ensemble):
    """§B1: dL/dm = (r/p) dL/dw, with an L2 cost on m."""
    be = f64()
    sizes = [3, 4, 2]
    net = MLP(sizes, "bernoulli", be, seed=0 if ensemble is None else [0, 1], ensemble=ensemble, p_init=0.5)
    x, t = data(be, sizes)
    check_objective_gradient(net, x, t, [L2Cost(1e-1), L1Cost(1e-2)])


def test_deterministic_objective_gradient_matches_finite_differences():
    be = f64()
    sizes = [3, 4, 4, 2]
    net = MLP(sizes, "deterministic", be, seed=3)
    x, t = data(be, sizes)
    check_objective_gradient(net, x, t, [L2Cost(1e-1)])


def test_objective_is_mean_ce_plus_costs_over_n():
    """§A4: minibatch objective = mean_batch CE + (sum of costs) / N."""
    be = f64()
    net = MLP([3, 4, 2], "gaussian", be, seed=0, sigma_init=0.3)
    x, t = data(be, [3, 4, 2])
    costs = [PowerLawCost(1e-2, 0.5), L1Cost(1e-2)]
    out = net.objective(x, t, N_TRAIN, costs, mode="mean")
    cost = sum(c.value(s, be) for c in costs[:1] for s in net.sigmas())
    cost += sum(costs[1].value(layer.mu.value, be) for layer in net.synaptic)
    assert float(out["cost"]) == pytest.approx(float(cost) / N_TRAIN, rel=1e-12)
    assert float(out["loss"]) == pytest.approx(float(out["ce"]) + float(cost) / N_TRAIN, rel=1e-12)


def test_homogeneous_reliability_cost_counts_every_synapse():
    """§A4: one shared sigma costs (number of synapses) c sigma^-rho."""
    be = f64()
    net = MLP([3, 4, 2], "gaussian", be, seed=0, noise="homogeneous", sigma_init=0.5)
    cost = net.add_costs([PowerLawCost(2.0, 1.0)], n_train=1)
    assert net.n_synapses == 4 * 4 + 2 * 5
    assert float(cost) == pytest.approx(net.n_synapses * 2.0 / 0.5, rel=1e-12)


def test_reliability_cost_on_non_gaussian_synapses_raises():
    be = f64()
    net = MLP([3, 2], "bernoulli", be)
    with pytest.raises(ValueError, match="needs Gaussian synapses"):
        net.add_costs([PowerLawCost(1.0, 0.5)], 10)


@pytest.mark.parametrize("synapse, kwargs", [
    ("gaussian", {"scheme": "weights"}),
    ("gaussian", {"scheme": "local"}),
    ("gaussian", {"scheme": "weights", "noise": "homogeneous"}),
    ("bernoulli", {}),
    ("deterministic", {}),
])
def test_ensemble_member_equals_a_lone_network_with_its_seed(synapse, kwargs):
    """backend.py: member k of an ensemble draws what a lone net with seed k draws."""
    be = f64()
    sizes = [4, 5, 3]
    ens = MLP(sizes, synapse, be, seed=[5, 6, 7], ensemble=3, sigma_init=0.2, **kwargs)
    lone = MLP(sizes, synapse, be, seed=6, sigma_init=0.2, **kwargs)
    for pe, pl in zip(ens.params(), lone.params()):
        np.testing.assert_array_equal(pe.value[1], pl.value)
    x = be.floats(np.random.default_rng(0).normal(size=(6, 4)))
    for _ in range(2):   # the first and the second noise draw agree
        np.testing.assert_allclose(ens.forward(x, "sample")[1], lone.forward(x, "sample"), rtol=1e-12, atol=1e-14)
    if synapse != "deterministic":
        assert not np.allclose(ens.forward(x)[0], ens.forward(x)[1])   # members differ


def test_ensemble_with_one_seed_uses_consecutive_seeds():
    be = f64()
    a = MLP([3, 2], "gaussian", be, seed=4, ensemble=2)
    b = MLP([3, 2], "gaussian", be, seed=[4, 5], ensemble=2)
    np.testing.assert_array_equal(a.params()[0].value, b.params()[0].value)


@pytest.mark.parametrize("kwargs, match", [
    ({"sizes": [3]}, "sizes"),
    ({"sizes": [3, 0, 2]}, "sizes"),
    ({"synapse": "binomial"}, "synapse"),
    ({"noise": "global"}, "noise"),
    ({"ensemble": 0}, "ensemble"),
    ({"sigma_init": 0.0}, "sigma_init"),
    ({"sigma_init": -1e-4}, "sigma_init"),
    ({"seed": [1, 2]}, "ensemble"),
    ({"seed": [1, 2], "ensemble": 3}, "3 seeds"),
    ({"scheme": "global"}, "scheme"),
    ({"synapse": "bernoulli", "p_init": 0.0}, "p_init"),
    ({"synapse": "bernoulli", "release_p": 1.5}, "release_p"),
])
def test_invalid_construction_arguments_raise_value_error(kwargs, match):
    args = {"sizes": [3, 2], "backend": f64(), **kwargs}
    with pytest.raises(ValueError, match=match):
        MLP(**args)


@pytest.mark.parametrize("synapse, kwargs", [
    ("gaussian", {}), ("gaussian", {"noise": "homogeneous"}), ("bernoulli", {}), ("deterministic", {}),
])
@pytest.mark.parametrize("ensemble", [None, 2], ids=["lone", "K2"])
def test_state_round_trip_restores_every_array_and_the_outputs(synapse, kwargs, ensemble):
    be = f64()
    sizes = [3, 4, 2]
    a = MLP(sizes, synapse, be, seed=1 if ensemble is None else [1, 2], ensemble=ensemble, **kwargs)
    if synapse == "bernoulli":
        a.synaptic[0].p = be.floats(np.random.default_rng(0).uniform(0.25, 1, a.synaptic[0].p.shape))
    b = MLP(sizes, synapse, be, seed=9 if ensemble is None else [9, 10], ensemble=ensemble, **kwargs)
    state = a.state()
    b.load_state(state)
    for key, value in b.state().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    x = be.floats(np.random.default_rng(0).normal(size=(3, 3)))
    np.testing.assert_array_equal(b.forward(x, "mean"), a.forward(x, "mean"))


def test_state_is_a_snapshot_unchanged_by_later_updates():
    be = f64()
    net = MLP([3, 2], "gaussian", be, seed=0)
    state = net.state()
    saved = {k: v.copy() for k, v in state.items()}
    for p in net.params():
        p.value += 1.0
    for k in saved:
        np.testing.assert_array_equal(state[k], saved[k], err_msg=k)


def test_load_state_with_wrong_shape_raises_value_error():
    be = f64()
    state = MLP([3, 4, 2], "gaussian", be).state()
    with pytest.raises(ValueError, match="expected shape"):
        MLP([3, 5, 2], "gaussian", be).load_state(state)


def test_predict_proba_rows_are_distributions_and_average_over_samples():
    be = f64()
    net = MLP([3, 4, 2], "gaussian", be, seed=0, sigma_init=0.5)
    x, _ = data(be, [3, 4, 2])
    p = net.predict_proba(x, samples=5)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    freeze_noise(net)
    single = [net.predict_proba(x) for _ in range(5)]
    freeze_noise(net)
    np.testing.assert_allclose(net.predict_proba(x, samples=5), np.mean(single, axis=0), rtol=1e-12)


@pytest.mark.parametrize("seeds", [[6, 6, 6], [6, 7, 6]])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("synapse, kwargs", [("gaussian", {"scheme": "weights"}), ("gaussian", {"scheme": "local"}),
                                             ("bernoulli", {})])
def test_ensemble_members_sharing_a_seed_each_equal_the_lone_network(seeds, dtype, synapse, kwargs):
    """Members with one seed share one noise draw (backend.GeneratorStack);
    each still trains exactly as the lone network with that seed."""
    be = Backend("numpy", dtype)
    sizes = [4, 5, 3]
    ens = MLP(sizes, synapse, be, seed=seeds, ensemble=3, sigma_init=0.2, **kwargs)
    lones = {s: MLP(sizes, synapse, be, seed=s, sigma_init=0.2, **kwargs) for s in set(seeds)}
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = be.floats(rng.normal(size=(6, 4)))
        targets = be.floats(np.eye(3)[rng.integers(0, 3, 6)])
        ens.zero_grad()
        ens.objective(x, targets, 100)
        for k, s in enumerate(seeds):
            lone = lones[s]
            if k == seeds.index(s):               # each lone network steps once per round
                lone.zero_grad()
                lone.objective(x, targets, 100)
            for pe, pl in zip(ens.params(), lone.params()):
                np.testing.assert_array_equal(pe.grad[k], pl.grad)
        for net in [ens, *lones.values()]:
            for p in net.params():
                p.value -= 0.05 * p.grad
