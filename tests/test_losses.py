"""Softmax cross-entropy (MODEL.md §A4): gradient, stability, identities."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import assert_grad_close, fd_atol, numerical_grad
from minisyn.losses import cross_entropy, log_softmax, one_hot, softmax

shapes = st.tuples(st.sampled_from([(), (2,), (3,)]), st.integers(1, 5), st.integers(2, 6))


def logits_and_targets(max_abs=10.0, simplex=False):
    @st.composite
    def draw(draw):
        lead, B, C = draw(shapes)
        logits = draw(hnp.arrays(np.float64, lead + (B, C), elements=st.floats(-max_abs, max_abs)))
        if simplex:
            w = draw(hnp.arrays(np.float64, (B, C), elements=st.floats(0.01, 1.0)))
            targets = w / w.sum(axis=-1, keepdims=True)
        else:
            labels = draw(hnp.arrays(np.int64, (B,), elements=st.integers(0, C - 1)))
            targets = one_hot(labels, C, np, np.float64)
        return logits, targets
    return draw()


@given(logits_and_targets(simplex=False) | logits_and_targets(simplex=True))
def test_cross_entropy_gradient_matches_finite_differences(lt):
    logits, targets = lt
    loss, grad = cross_entropy(logits, targets, np)
    assert loss.shape == logits.shape[:-2]
    numeric = numerical_grad(lambda: float(cross_entropy(logits, targets, np)[0].sum()), logits)
    assert_grad_close(grad, numeric, rtol=1e-6, atol=fd_atol(loss))


@given(logits_and_targets())
def test_cross_entropy_gradient_rows_sum_to_zero(lt):
    logits, targets = lt
    _, grad = cross_entropy(logits, targets, np)
    np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-15)


@given(logits_and_targets())
def test_cross_entropy_is_the_batch_mean_of_minus_log_probability_of_the_label(lt):
    logits, targets = lt
    loss, _ = cross_entropy(logits, targets, np)
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    expected = -(targets * np.log(p)).sum(axis=-1).mean(axis=-1)
    np.testing.assert_allclose(loss, expected, rtol=1e-10, atol=1e-12)
    assert np.all(loss >= 0)


@given(logits_and_targets(max_abs=1e4))
def test_cross_entropy_is_finite_for_huge_logits(lt):
    logits, targets = lt
    logits = np.sign(logits) * 1e4 + logits          # push magnitudes to ~1e4
    with np.errstate(over="raise", divide="raise", invalid="raise"):   # not even silently
        loss, grad = cross_entropy(logits, targets, np)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))


def test_cross_entropy_of_a_confidently_wrong_huge_logit_is_the_logit_gap():
    logits = np.array([[1e4, -1e4]])
    loss, _ = cross_entropy(logits, np.array([[0.0, 1.0]]), np)
    assert loss == pytest.approx(2e4, rel=1e-12)


@given(logits_and_targets(max_abs=30.0))
def test_log_softmax_equals_log_of_softmax(lt):
    logits, _ = lt
    np.testing.assert_allclose(log_softmax(logits, np), np.log(softmax(logits, np)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(softmax(logits, np).sum(axis=-1), 1.0, rtol=1e-14)


@given(logits_and_targets(), st.floats(-1e3, 1e3))
def test_softmax_is_invariant_to_shifting_every_logit(lt, shift):
    logits, _ = lt
    np.testing.assert_allclose(softmax(logits + shift, np), softmax(logits, np), rtol=1e-9, atol=1e-300)


def test_one_hot_marks_the_label_column():
    oh = one_hot(np.array([2, 0, 1]), 3, np, np.float32)
    assert oh.dtype == np.float32
    np.testing.assert_array_equal(oh, np.eye(3, dtype=np.float32)[[2, 0, 1]])
