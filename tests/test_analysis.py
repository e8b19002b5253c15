"""Analyses of a trained network (MODEL.md §B4): the empirical Fisher against
finite differences, lesions, neuron-level sparsity and rank correlation."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import assert_grad_close, f64, numerical_grad
from minisyn.analysis import empirical_fisher, energy_per_synapse, lesion_curve, neuron_sparsity, spearman
from minisyn.backend import Backend
from minisyn.losses import log_softmax
from minisyn.network import MLP
from minisyn.train import accuracy


def tiny_data(be, n=6, n_in=3, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return be.floats(rng.normal(size=(n, n_in))), be.asarray(rng.integers(0, n_classes, size=n))


@pytest.mark.parametrize("synapse", ["bernoulli", "deterministic"])
def test_empirical_fisher_equals_mean_squared_finite_difference_gradients(synapse):
    be = f64()
    net = MLP([3, 4, 3], synapse, be, seed=2)
    x, y = tiny_data(be)

    def log_lik(n):
        return log_softmax(net.forward(x[n:n + 1], "mean"), be.xp)[0, y[n]]

    expected = [np.zeros(layer.params[0].shape) for layer in net.synaptic]
    for n in range(x.shape[0]):
        for F, layer in zip(expected, net.synaptic):
            F += numerical_grad(lambda: log_lik(n), layer.params[0].value) ** 2
    fisher = empirical_fisher(net, x, y, mode="mean")
    for i, (F, F_fd) in enumerate(zip(fisher, expected)):
        assert_grad_close(F, F_fd / x.shape[0], rtol=1e-6, atol=1e-10, name=f"Fisher of layer {i}")


def test_empirical_fisher_runs_on_every_backend_and_is_nonnegative(backends):
    be = Backend(backends, "float64")
    net = MLP([3, 4, 3], "bernoulli", be, seed=0)
    x, y = tiny_data(be)
    fisher = empirical_fisher(net, x, y, mode="sample")
    assert all((be.to_numpy(F) >= 0).all() for F in fisher)
    assert sum(float(be.to_numpy(F).sum()) for F in fisher) > 0
    assert all(float(abs(be.to_numpy(p.grad)).sum()) == 0 for p in net.params())


def trained_like(be, seed=0):
    """A small Bernoulli network with spread-out release probabilities."""
    net = MLP([5, 6, 4], "bernoulli", be, seed=seed)
    rng = np.random.default_rng(seed)
    for layer in net.synaptic:
        layer.p = be.floats(rng.uniform(0.25, 1.0, size=layer.p.shape))
    return net


def test_lesion_at_fraction_zero_is_the_unlesioned_accuracy(backends):
    be = Backend(backends, "float64")
    net = trained_like(be)
    x, y = tiny_data(be, n=40, n_in=5, n_classes=4)
    curve = lesion_curve(net, x, y, [0.0], order="low_p")
    assert curve["accuracy"][0] == float(accuracy(net, x, y, "mean"))
    assert curve["n_removed"][0] == 0


@pytest.mark.parametrize("order", ["low_p", "random"])
def test_full_lesion_predicts_a_constant_class_and_restores_the_network(order):
    be = f64()
    net = trained_like(be)
    x, y = tiny_data(be, n=40, n_in=5, n_classes=4)
    before = [layer.m.value.copy() for layer in net.synaptic]
    curve = lesion_curve(net, x, y, [0.0, 0.5, 1.0], order=order, seed=3)
    # every m = 0: all logits 0, argmax picks class 0 for every example
    assert curve["accuracy"][-1] == pytest.approx(np.mean(be.to_numpy(y) == 0), abs=1e-15)
    assert curve["n_removed"].tolist() == [0, 27, 54]
    for m0, layer in zip(before, net.synaptic):
        np.testing.assert_array_equal(layer.m.value, m0)


def test_low_p_lesion_removes_exactly_the_lowest_release_probabilities():
    be = f64()
    net = MLP([2, 2, 2], "bernoulli", be, seed=0)
    net.synaptic[0].p = be.floats([[0.3, 0.9], [0.5, 1.0]])
    net.synaptic[1].p = be.floats([[0.4, 0.8], [0.6, 0.7]])
    seen = []
    original = MLP.forward

    def spy(self, x, mode="sample"):
        seen.append([np.array(layer.m.value == 0) for layer in self.synaptic])
        return original(self, x, mode)

    MLP.forward = spy
    try:
        x, y = tiny_data(be, n=4, n_in=2, n_classes=2)
        lesion_curve(net, x, y, [3 / 8], order="low_p")
    finally:
        MLP.forward = original
    removed = seen[0]
    # the three lowest p are 0.3 (layer 0), 0.4 and 0.5
    assert removed[0].tolist() == [[True, False], [True, False]]
    assert removed[1].tolist() == [[True, False], [False, False]]


def test_energy_per_synapse_pairs_each_strength_with_its_release_probability():
    be = f64()
    net = trained_like(be)
    out = energy_per_synapse(net)
    assert out["p"].shape == out["energy"].shape == (net.n_synapses,)
    np.testing.assert_array_equal(out["energy"][:30], np.abs(net.synaptic[0].m.value).ravel())
    np.testing.assert_array_equal(out["p"][30:], net.synaptic[1].p.ravel())


def test_neuron_sparsity_counts_sum_to_the_number_of_important_synapses(backends):
    be = Backend(backends, "float64")
    net = MLP([5, 6, 7, 4], "bernoulli", be, seed=1)
    rng = np.random.default_rng(1)
    for layer in net.synaptic:
        layer.p = be.floats(rng.uniform(0.25, 1.0, size=layer.p.shape))
    res = neuron_sparsity(net, p_imp=0.8, n_shuffles=20, seed=0)
    important = [int((be.to_numpy(layer.p) >= 0.8).sum()) for layer in net.synaptic]
    assert res["in_counts"].shape == res["out_counts"].shape == (13,)
    assert res["in_counts"].sum() == sum(important[:-1])
    assert res["out_counts"].sum() == sum(important[1:])
    # shuffling keeps the number of important synapses of each layer
    assert (res["shuffled_in"].sum(axis=1) == sum(important[:-1])).all()
    assert 0 <= res["ks_in"][0] <= 1 and 0 <= res["ks_in"][1] <= 1
    assert -1 <= res["in_out_correlation"] <= 1


def test_neuron_sparsity_detects_important_synapses_concentrated_on_few_neurons():
    be = f64()
    net = MLP([20, 20, 20], "bernoulli", be, seed=0)
    for layer in net.synaptic:
        layer.p = be.floats(np.full(layer.p.shape, 0.25))
    p0, p1 = net.synaptic[0].p, net.synaptic[1].p
    p0[:3, :] = 1.0                  # hidden neurons 0-2 receive only important inputs
    p1[:, :3] = 1.0                  # and send only important outputs
    res = neuron_sparsity(net, p_imp=0.9, n_shuffles=50, seed=0)
    assert res["n_beyond_2sd_in"] == 3 and res["n_beyond_2sd_out"] == 3
    assert res["ks_in"][1] < 1e-3
    assert res["in_out_correlation"] == pytest.approx(1.0)


def _two_hidden_layers(be):
    """Hidden layer 0 with 100 inputs, each important with probability 1/2 (about 50 a
    neuron); hidden layer 1 with 10 inputs, all important for neurons 0-2 and none for the rest."""
    net = MLP([100, 10, 10, 3], "bernoulli", be, seed=0)
    rng = np.random.default_rng(0)
    net.synaptic[0].p = be.floats(np.where(rng.random((10, 100)) < 0.5, 1.0, 0.25))
    p1 = np.full((10, 10), 0.25)
    p1[:3, :] = 1.0
    net.synaptic[1].p = be.floats(p1)
    net.synaptic[2].p = be.floats(np.full((3, 10), 0.25))
    return net


def test_neuron_sparsity_compares_each_hidden_layer_with_its_own_shuffles():
    res = neuron_sparsity(_two_hidden_layers(f64()), p_imp=0.9, n_shuffles=50, seed=0)
    np.testing.assert_array_equal(res["layer"], [0] * 10 + [1] * 10)
    assert res["in_counts"][10:13].tolist() == [10, 10, 10]
    # layer 1 shuffles spread its 30 important inputs at about 3 a neuron: 10 is far out,
    # whatever layer 0 does (its shuffled neurons hold about 50)
    assert (res["z_in"][10:13] > 2).all()
    l0, l1 = res["layers"]
    assert l0["shuffled_mean_in"] == pytest.approx(res["in_counts"][:10].mean())
    assert l1["shuffled_mean_in"] == pytest.approx(3.0)
    assert l1["n_beyond_2sd_in"] >= 3 and l1["ks_in"][1] < 1e-3
    assert res["n_beyond_2sd_in"] == sum(layer["n_beyond_2sd_in"] for layer in res["layers"])
    assert res["shuffled_beyond_2sd_in"].shape == (50,)


def test_a_pooled_baseline_hides_the_concentrated_neurons_behind_the_gap_between_layers():
    """Pooled, the baseline is bimodal (about 50 and 3 important inputs): its SD is set
    by the gap between the layers, and no neuron lies 2 SD from its mean."""
    net = _two_hidden_layers(f64())
    pooled = neuron_sparsity(net, p_imp=0.9, n_shuffles=50, seed=0, per_layer=False)
    per_layer = neuron_sparsity(net, p_imp=0.9, n_shuffles=50, seed=0)
    assert pooled["n_beyond_2sd_in"] == 0
    assert per_layer["n_beyond_2sd_in"] >= 3
    np.testing.assert_array_equal(pooled["shuffled_in"], per_layer["shuffled_in"])   # the same shuffles


def test_spearman_of_a_monotone_pair_is_one_and_of_a_reversed_pair_minus_one():
    a = np.array([0.1, 0.5, 2.0, 3.0, 10.0])
    assert spearman(a, np.exp(a))[0] == pytest.approx(1.0)
    assert spearman(a, -a**3)[0] == pytest.approx(-1.0)


def test_spearman_accepts_lists_of_backend_arrays_per_layer(backends):
    be = Backend(backends, "float64")
    a = [be.floats([[1.0, 2.0]]), be.floats([3.0, 4.0, 5.0])]
    assert spearman(a, [10.0, 20.0, 30.0, 40.0, 50.0])[0] == pytest.approx(1.0)


def test_silent_inputs_counts_dead_units_and_their_share_of_sigma_squared():
    from minisyn.analysis import silent_inputs

    x = np.array([[1.0, 0.0, 2.0], [3.0, 0.0, -1.0]])            # pixel 1 is 0 in every row
    w0 = np.array([[1.0, 5.0, 0.0], [0.0, 0.0, 0.0]])             # unit 1: weights 0, bias -1: never active
    b0 = np.array([0.5, -1.0])
    w1, b1 = np.array([[2.0, 3.0]]), np.zeros(1)
    s0 = np.array([[1.0, 2.0, 1.0], [1.0, 1.0, 1.0]])
    s1 = np.array([[1.0, 3.0]])
    res = silent_inputs([w0, w1], [b0, b1], [s0, s1], x)
    total = (s0 ** 2).sum() + (s1 ** 2).sum()                     # 10 + 10
    assert [r["n_silent"] for r in res] == [1, 1]
    assert res[0]["sigma2_share"] == pytest.approx((2.0 ** 2 + 1.0) / total)
    assert res[1]["sigma2_share"] == pytest.approx(9.0 / total)
    assert res[1]["layer_sigma2_share"] == pytest.approx(10.0 / total)
    assert res[1]["median_sigma_silent"] == 3.0 and res[1]["median_sigma_active"] == 1.0


def test_silent_inputs_refuses_mismatched_layers():
    from minisyn.analysis import silent_inputs

    with pytest.raises(ValueError, match="layer 0"):
        silent_inputs([np.ones((2, 3))], [np.zeros(2)], [np.ones((2, 4))], np.ones((5, 3)))
