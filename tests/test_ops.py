"""Array helpers of minisyn.ops (MODEL.md §A3)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import assert_grad_close, numerical_grad
from minisyn.backend import Backend
from minisyn.ops import T, inverse_softplus, logistic, logistic_from_softplus, per_member, softplus, sum_to_shape


@given(st.floats(1e-6, 50.0))
def test_softplus_inverts_inverse_softplus(sigma):
    assert softplus(np.float64(inverse_softplus(sigma)), np) == pytest.approx(sigma, rel=1e-9)


@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-700, 700)))
def test_softplus_is_finite_positive_and_matches_log1p_exp(phi):
    sp = softplus(phi, np)
    assert np.all(np.isfinite(sp)) and np.all(sp >= 0)
    small = np.abs(phi) < 30
    np.testing.assert_allclose(sp[small], np.log1p(np.exp(phi[small])), rtol=1e-12)
    big = phi > 40
    np.testing.assert_allclose(sp[big], phi[big], rtol=1e-15)


@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-8, 8)))
def test_logistic_is_the_derivative_of_softplus_and_lies_in_unit_interval(phi):
    lg = logistic(phi, np)
    assert np.all((lg >= 0) & (lg <= 1))
    numeric = numerical_grad(lambda: float(softplus(phi, np).sum()), phi)
    assert_grad_close(lg, numeric)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan")])
def test_inverse_softplus_rejects_non_positive_sigma(sigma):
    with pytest.raises(ValueError, match="positive"):
        inverse_softplus(sigma)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=4), elements=st.floats(-5, 5)),
       st.data())
def test_sum_to_shape_keeps_the_total_and_reaches_the_shape(g, data):
    # target: drop some leading axes, set some of the remaining axes to 1
    n_keep = data.draw(st.integers(1, g.ndim))
    kept = g.shape[g.ndim - n_keep:]
    ones = data.draw(st.lists(st.booleans(), min_size=n_keep, max_size=n_keep))
    shape = tuple(1 if o else n for o, n in zip(ones, kept))
    out = sum_to_shape(g, shape, np)
    assert out.shape == shape
    assert out.sum() == pytest.approx(g.sum(), abs=1e-9)


def test_sum_to_shape_sums_each_broadcast_group():
    g = np.arange(12.0).reshape(2, 2, 3)
    np.testing.assert_array_equal(sum_to_shape(g, (2, 1, 1), np), g.sum(axis=(1, 2), keepdims=True))
    np.testing.assert_array_equal(sum_to_shape(g, (2, 3), np), g.sum(axis=0))


def test_T_swaps_only_the_two_trailing_axes():
    a = np.arange(24).reshape(2, 3, 4)
    assert T(a, np).shape == (2, 4, 3)
    np.testing.assert_array_equal(T(a, np)[1], a[1].T)


def test_per_member_scalar_stays_float_and_sequence_broadcasts_over_members():
    be = Backend("numpy", "float32")
    assert per_member(3, 3, be) == 3.0 and isinstance(per_member(3, 3, be), float)
    v = per_member([1.0, 2.0], 3, be)
    assert v.shape == (2, 1, 1) and v.dtype == np.float32
    with pytest.raises(ValueError, match="1-d"):
        per_member([[1.0]], 3, be)


@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-700.0, 40.0)))
def test_logistic_from_softplus_is_the_logistic_of_phi(phi):
    """1 - exp(-softplus(phi)) = logistic(phi), to full relative precision even for tiny sigma."""
    np.testing.assert_allclose(logistic_from_softplus(softplus(phi, np), np), logistic(phi, np), rtol=1e-12)


@given(hnp.arrays(np.float32, st.integers(1, 20), elements=st.floats(-80.0, 30.0, width=32)))
def test_softplus_into_out_and_work_buffers_equals_the_plain_call(phi):
    out, work = np.full_like(phi, np.nan), np.full_like(phi, np.nan)
    got = softplus(phi, np, out=out, work=work)
    assert got is out
    np.testing.assert_array_equal(got, softplus(phi, np))
