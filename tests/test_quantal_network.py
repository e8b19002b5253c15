"""Quantal synapses in a network (MODEL.md Part C): built through the registry and MLP's synapse
options, trained by Adam or the presynaptic rule, the same on numpy and the strict stand-in, an
ensemble member equal to the lone network, saved and loaded, and the hooks of ``minisyn train``."""
from __future__ import annotations

import argparse
import tracemalloc

import numpy as np
import pytest

from helpers import f64, strict_or_skip
from minisyn.backend import Backend
from minisyn.costs import CalciumCost, L1Cost, TraffickingCost, quantal_cost
from minisyn.layers import QuantalLinear, synapse_type
from minisyn.losses import one_hot
from minisyn.network import MLP
from minisyn.resources import member_bytes
from minisyn.train import make_optimizer, train

SIZES = [6, 5, 3]
#: (scheme, coordinates, p_learning)
OPTIONS = [(scheme, *mode) for scheme in ("local", "sample")
           for mode in (("mean", "gradient"), ("size", "gradient"), ("mean", "presynaptic"))]
IDS = ["-".join(o) for o in OPTIONS]


def toy_data(be, n=40, seed=0):
    rng = np.random.default_rng(seed)
    return be.floats(rng.random((n, SIZES[0]))), be.asarray(rng.integers(0, SIZES[-1], n))


def trained(be, scheme, coordinates, p_learning, epochs=2, seed=0):
    net = MLP(SIZES, "quantal", be, seed=seed, n_sites=3, quantal_scheme=scheme, p_learning=p_learning,
              quantal_coordinates=coordinates, p_init=0.5)
    x, y = toy_data(be)
    if p_learning == "gradient":
        opt, costs = make_optimizer(net, "adam", 1e-2), [CalciumCost(0.1), L1Cost(1e-3)]
    else:
        opt, costs = make_optimizer(net, "presynaptic", 0.1, g_lim=1e-2), []
    hist = train(net, opt, x, y, epochs=epochs, batch_size=10, costs=costs, progress=False)
    return net, hist


def test_quantal_is_a_registered_type_built_with_the_networks_options():
    be = f64()
    assert synapse_type("quantal") is QuantalLinear
    net = MLP(SIZES, "quantal", be, n_sites=7, quantal_scheme="sample", p_learning="presynaptic", p_init=0.4)
    layer = net.synaptic[0]
    assert isinstance(layer, QuantalLinear) and layer.bias and not net.synaptic[0].needs_input_grad
    assert (layer.n, layer.scheme, layer.p_learning) == (7, "sample", "presynaptic")
    np.testing.assert_array_equal(layer.p, 0.4)
    assert MLP(SIZES, "quantal", be, scheme="local").synaptic[0].scheme == "local"      # MLP's own scheme
    assert MLP(SIZES, "quantal", be).synaptic[0].scheme == "sample"                     # 'weights' draws weights


@pytest.mark.parametrize("scheme, coordinates, p_learning", OPTIONS, ids=IDS)
def test_training_lowers_the_loss(scheme, coordinates, p_learning):
    _, hist = trained(f64(), scheme, coordinates, p_learning, epochs=4)
    assert np.isfinite(hist["loss"]).all() and hist["ce"][-1] < hist["ce"][0]


def test_calcium_cost_lowers_release_probabilities():
    be = f64()
    net = MLP(SIZES, "quantal", be, seed=0, n_sites=3, quantal_scheme="local", p_init=0.5)
    x, y = toy_data(be)
    train(net, make_optimizer(net, "adam", 1e-2), x, y, epochs=5, batch_size=10, costs=[CalciumCost(5.0)],
          progress=False)
    assert (net.synaptic[0].p < 0.5).all()                     # from p_init = 0.5


def test_presynaptic_rule_moves_p_at_fixed_expected_strength():
    be = f64()
    net, _ = trained(be, "sample", "mean", "presynaptic", epochs=1)
    p = np.concatenate([np.ravel(l.p) for l in net.synaptic])
    assert p.min() >= 0.25 - 1e-12 and p.max() <= 1.0 and np.ptp(p) > 0


def test_one_site_network_trains_bit_for_bit_like_the_bernoulli_network():
    """n = 1 with §B1's parameters: the same initial strengths, releases, gradients and rule steps."""
    be = f64()
    x, y = toy_data(be, 60)
    nets = [MLP(SIZES, "bernoulli", be, seed=3),
            MLP(SIZES, "quantal", be, seed=3, bias=False, n_sites=1, quantal_scheme="sample",
                p_learning="presynaptic")]
    for net in nets:
        train(net, make_optimizer(net, "presynaptic", 0.05, g_lim=1e-2), x, y, epochs=3, batch_size=10,
              seed=1, progress=False)
    for b, q in zip(*(n.synaptic for n in nets)):
        np.testing.assert_array_equal(q.m.value, b.m.value)
        np.testing.assert_array_equal(q.p, b.p)


@pytest.mark.parametrize("scheme, coordinates, p_learning", OPTIONS, ids=IDS)
def test_strict_backend_trains_bit_for_bit_like_numpy(scheme, coordinates, p_learning):
    strict = strict_or_skip()
    a, _ = trained(f64(), scheme, coordinates, p_learning)
    b, _ = trained(strict, scheme, coordinates, p_learning)
    sa, sb = a.state(), b.state()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_array_equal(sb[key], sa[key], err_msg=key)


@pytest.mark.parametrize("scheme, coordinates, p_learning", OPTIONS, ids=IDS)
def test_ensemble_member_equals_a_lone_network_with_its_seed(scheme, coordinates, p_learning):
    be = f64()
    kw = dict(n_sites=4, quantal_scheme=scheme, p_learning=p_learning, quantal_coordinates=coordinates, p_init=0.5)
    ens = MLP(SIZES, "quantal", be, seed=[5, 6, 7], ensemble=3, **kw)
    lone = MLP(SIZES, "quantal", be, seed=6, **kw)
    for pe, pl in zip(ens.params(), lone.params()):
        np.testing.assert_array_equal(pe.value[1], pl.value)
    x = be.floats(np.random.default_rng(0).normal(size=(6, SIZES[0])))
    for _ in range(2):
        np.testing.assert_allclose(ens.forward(x)[1], lone.forward(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("coordinates, p_learning", [("mean", "gradient"), ("size", "gradient"),
                                                     ("mean", "presynaptic")])
@pytest.mark.parametrize("ensemble", [None, 2], ids=["lone", "K2"])
def test_state_round_trip_restores_every_array_and_the_outputs(coordinates, p_learning, ensemble):
    be = f64()
    seeds = (1, 9) if ensemble is None else ([1, 2], [9, 10])
    kw = dict(ensemble=ensemble, n_sites=3, p_learning=p_learning, quantal_coordinates=coordinates)
    a, b = (MLP(SIZES, "quantal", be, seed=s, **kw) for s in seeds)
    if p_learning == "presynaptic":
        a.synaptic[0].p = be.floats(np.random.default_rng(0).uniform(0.25, 1, a.synaptic[0].p.shape))
    state = a.state()
    b.load_state(state)
    for key, value in b.state().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    x = be.floats(np.random.default_rng(0).normal(size=(3, SIZES[0])))
    np.testing.assert_array_equal(b.forward(x, "mean"), a.forward(x, "mean"))
    with pytest.raises(ValueError, match="release sites"):
        MLP(SIZES, "quantal", be, **dict(kw, n_sites=4)).load_state(state)


def test_describe_gives_finite_summaries_one_per_member():
    be = f64()
    net = MLP(SIZES, "quantal", be, seed=[0, 1], ensemble=2, n_sites=3)
    info = net.describe()
    assert info["n_sites"] == 3 and len(info["energy"]) == 2 and len(info["sigma_bar"]) == 2
    assert set(info["mechanism_energy"]) == {"calcium", "membrane", "actin", "trafficking"}
    assert np.isfinite(np.array(info["mean_release_probability"])).all()
    lone = MLP(SIZES, "quantal", be, seed=1, n_sites=3).describe()
    assert lone["energy"] == pytest.approx(info["energy"][1], rel=1e-12)


def test_presynaptic_rule_is_refused_where_p_learns_by_gradient():
    with pytest.raises(ValueError, match="p_learning='presynaptic'"):
        make_optimizer(MLP(SIZES, "quantal", f64()), "presynaptic", 0.1)


def test_member_estimate_bounds_what_training_allocates():
    def peak(K):
        be = Backend("numpy", "float32")
        rng = np.random.default_rng(0)
        x = be.floats(rng.random((20, 784)))
        y = one_hot(be.asarray(rng.integers(0, 10, 20)), 10, np, be.dtype)
        tracemalloc.start()
        try:
            net = MLP((784, 60, 40, 10), "quantal", be, seed=[0] * K, ensemble=K, quantal_scheme="sample")
            opt = make_optimizer(net, "adam", 1e-3)
            for _ in range(3):
                net.zero_grad()
                net.objective(x, y, 1000, [TraffickingCost(0.1), L1Cost(1e-4)])
                opt.step()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    per_member = (peak(5) - peak(1)) / 4
    est = member_bytes((784, 60, 40, 10), 20, "float32", "quantal")
    assert per_member <= est <= 4 * per_member, (per_member, est)


# -- the hooks of ``minisyn train`` ------------------------------------------------------------------
def parse(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--lambda", dest="lam", type=float, default=1e-4)
    QuantalLinear.add_options(p.add_argument_group("quantal"))
    return p.parse_args(argv)


def test_train_options_build_the_network_and_its_costs():
    args = parse(["--n-sites", "3", "--quantal-scheme", "sample", "--mechanism", "actin", "--quantal-c", "0.2",
                  "--quantal-coordinates", "size"])
    options = QuantalLinear.options_from_args(args)
    net = MLP(SIZES, "quantal", f64(), **options)
    assert (net.synaptic[0].n, net.synaptic[0].scheme, net.synaptic[0].coordinates) == (3, "sample", "size")
    cost, l1 = QuantalLinear.training_costs(args)
    assert cost.mechanism == "actin" and cost.c == 0.2 and isinstance(l1, L1Cost)
    default = QuantalLinear.training_costs(parse([]))[0]
    assert default.mechanism == "calcium" and default.c == QuantalLinear.DEFAULT_C["calcium"]


def test_train_options_under_the_presynaptic_rule_add_no_cost_and_refuse_a_mechanism_weight():
    assert QuantalLinear.training_costs(parse(["--p-learning", "presynaptic"])) == []
    with pytest.raises(ValueError, match="--quantal-c needs --p-learning gradient"):
        QuantalLinear.training_costs(parse(["--p-learning", "presynaptic", "--quantal-c", "1"]))


def test_train_options_refuse_fewer_than_one_site():
    with pytest.raises(ValueError, match="--n-sites"):
        QuantalLinear.options_from_args(parse(["--n-sites", "0"]))


def test_mechanism_costs_train_through_the_network_for_each_mechanism():
    be = f64()
    x, y = toy_data(be)
    for mechanism in ("calcium", "membrane", "actin", "trafficking"):
        net = MLP(SIZES, "quantal", be, seed=0, n_sites=3, quantal_scheme="local", p_init=0.5)
        hist = train(net, make_optimizer(net, "adam", 1e-2), x, y, epochs=2, batch_size=10,
                     costs=[quantal_cost(mechanism, 0.1)], progress=False)
        assert np.isfinite(hist["loss"]).all() and hist["cost"][-1] > 0
