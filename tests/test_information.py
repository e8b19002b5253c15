"""Energy and information (MODEL.md §B3): the mutual information of the soft
confusion matrix against cases known in closed form, its bounds, and the
energy and activity measures."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minisyn.backend import Backend
from minisyn.information import energy, mean_activity, mutual_information, soft_confusion
from minisyn.network import MLP


def test_perfect_one_hot_classifier_on_balanced_classes_carries_log2_c_bits(backends):
    be = Backend(backends, "float64")
    labels = np.repeat(np.arange(10), 7)
    probs = np.eye(10)[labels]
    mi = mutual_information(be.floats(probs), be.asarray(labels), backend=be)
    assert mi == pytest.approx(np.log2(10), rel=1e-12)


def test_constant_uniform_predictions_carry_no_information(backends):
    be = Backend(backends, "float64")
    labels = np.array([0, 0, 1, 2, 2, 2, 3])
    probs = np.full((7, 4), 0.25)
    assert mutual_information(be.floats(probs), be.asarray(labels), backend=be) == pytest.approx(0.0, abs=1e-14)


@given(st.integers(2, 6), st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_mutual_information_lies_between_zero_and_log2_c_for_random_rows(n_classes, n, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(n_classes, 0.3), size=n)
    labels = rng.integers(0, n_classes, size=n)
    mi = mutual_information(probs, labels, backend=Backend("numpy", "float64"))
    assert -1e-12 <= mi <= np.log2(n_classes) + 1e-12


@given(arrays(np.float64, (5, 3), elements=st.floats(0.0, 1.0)), st.lists(st.integers(0, 2), min_size=5, max_size=5))
def test_mutual_information_is_nonnegative_even_with_exact_zeros(raw, labels):
    raw[raw.sum(axis=1) == 0] = 1.0                      # an all-zero row becomes uniform
    probs = raw / raw.sum(axis=1, keepdims=True)         # rows with exact zeros remain
    mi = mutual_information(probs, np.array(labels), backend=Backend("numpy", "float64"))
    assert np.isfinite(mi) and -1e-12 <= mi <= np.log2(3) + 1e-12


def test_mutual_information_matches_a_direct_computation_from_the_joint():
    # 4 examples, 2 classes: class 0 = examples 0, 1, 2; class 1 = example 3
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.5, 0.5], [0.2, 0.8]])
    labels = np.array([0, 0, 0, 1])
    # P(yhat|y=0) = (0.7, 0.3); P(yhat|y=1) = (0.2, 0.8); P(y) = (3/4, 1/4)
    joint = np.array([[0.75 * 0.7, 0.75 * 0.3], [0.25 * 0.2, 0.25 * 0.8]])
    py, pyhat = joint.sum(axis=1), joint.sum(axis=0)
    direct = sum(joint[a, b] * np.log2(joint[a, b] / (py[a] * pyhat[b])) for a in range(2) for b in range(2))
    be = Backend("numpy", "float64")
    np.testing.assert_allclose(soft_confusion(probs, labels, 2, be), [[0.7, 0.3], [0.2, 0.8]], rtol=1e-14)
    assert mutual_information(probs, labels, backend=be) == pytest.approx(direct, rel=1e-12)
    # H(Yhat) - H(Yhat|Y) with P(yhat) = (0.575, 0.425), worked out by hand
    h = lambda *q: -sum(v * np.log2(v) for v in q)
    assert direct == pytest.approx(h(0.575, 0.425) - 0.75 * h(0.7, 0.3) - 0.25 * h(0.2, 0.8), rel=1e-12)


def test_ensemble_probabilities_give_one_mutual_information_per_member():
    labels = np.repeat(np.arange(3), 2)
    probs = np.stack([np.eye(3)[labels], np.full((6, 3), 1 / 3)])
    mi = mutual_information(probs, labels, backend=Backend("numpy", "float64"))
    np.testing.assert_allclose(mi, [np.log2(3), 0.0], atol=1e-12)


def test_energy_is_the_sum_of_absolute_expected_strengths(backends):
    be = Backend(backends, "float64")
    net = MLP([4, 3, 2], "bernoulli", be, seed=1)
    expected = sum(np.abs(be.to_numpy(layer.m.value)).sum() for layer in net.synaptic)
    assert energy(net) == pytest.approx(expected, rel=1e-12)
    net.synaptic[0].m.value[...] = 0
    assert energy(net) == pytest.approx(np.abs(be.to_numpy(net.synaptic[1].m.value)).sum(), rel=1e-12)


def test_mean_activity_is_the_mean_hidden_relu_rate(backends):
    be = Backend(backends, "float64")
    net = MLP([3, 2, 2], "bernoulli", be, seed=0)
    net.synaptic[0].m.value[...] = be.floats([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    x = be.floats([[2.0, 5.0, 5.0], [-4.0, 1.0, 1.0]])
    # hidden rates: example 1 -> (2, 0), example 2 -> (0, 4); mean 6/4
    assert mean_activity(net, x) == pytest.approx(1.5, rel=1e-14)
