"""The strict backend: numpy's numbers, CuPy's refusals."""
import copy
import operator

import numpy as np
import pytest

from minisyn import strict as xp
from minisyn.backend import Backend
from minisyn.strict import StrictArray

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
          operator.eq, operator.ne]
INPLACE = [operator.iadd, operator.isub, operator.imul, operator.itruediv,
           operator.ifloordiv, operator.imod, operator.ipow]


def host_pair(seed=0, shape=(3, 4)):
    h = np.random.default_rng(seed).uniform(0.5, 2.0, shape)
    return h, xp.asarray(h)


@pytest.mark.parametrize("op", BINARY)
def test_binary_operators_match_numpy_with_arrays_and_scalars(op):
    h1, s1 = host_pair(0)
    h2, s2 = host_pair(1)
    for left, right, expected in [(s1, s2, op(h1, h2)), (s1, 1.5, op(h1, 1.5)),
                                  (2, s1, op(2, h1)), (np.float32(1.5), s1, op(np.float32(1.5), h1)),
                                  (s1, np.float64(0.7), op(h1, np.float64(0.7)))]:
        got = op(left, right)
        assert isinstance(got, StrictArray)
        np.testing.assert_array_equal(got.get(), expected)


def test_matmul_bitwise_and_unary_operators_match_numpy():
    h, s = host_pair(0, (3, 3))
    np.testing.assert_array_equal((s @ s).get(), h @ h)
    np.testing.assert_array_equal((-s).get(), -h)
    np.testing.assert_array_equal((+s).get(), +h)
    np.testing.assert_array_equal(abs(s - 1).get(), abs(h - 1))
    hi = np.arange(6)
    si = xp.asarray(hi)
    for op in (operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift):
        np.testing.assert_array_equal(op(si, 3).get(), op(hi, 3))
        np.testing.assert_array_equal(op(5, si).get(), op(5, hi))
    np.testing.assert_array_equal((~si).get(), ~hi)


@pytest.mark.parametrize("op", INPLACE)
def test_inplace_operators_modify_the_same_array_like_numpy(op):
    h, s = host_pair(0)
    h2, s2 = host_pair(1)
    before = s
    s = op(s, s2)
    h = op(h, h2)
    assert s is before
    np.testing.assert_array_equal(s.get(), h)


def test_inplace_operator_writes_through_a_view():
    s = xp.zeros((2, 3))
    row = s[1]
    row += 4.0
    np.testing.assert_array_equal(s.get(), [[0, 0, 0], [4, 4, 4]])


@pytest.mark.parametrize("convert", [np.asarray, np.array, np.ascontiguousarray, np.exp,
                                     np.sum, np.mean, lambda a: np.matmul(a, a),
                                     lambda a: np.concatenate([a, a])])
def test_numpy_functions_refuse_a_strict_array(convert):
    with pytest.raises(TypeError):
        convert(xp.ones((2, 2)))


def test_np_asarray_refusal_names_the_explicit_door():
    with pytest.raises(TypeError, match=r"Implicit conversion to a NumPy array is not allowed"):
        np.asarray(xp.ones(3))


def test_strict_array_exposes_no_array_interface_or_buffer():
    a = xp.ones(3)
    assert not hasattr(a, "__array_interface__")
    assert not hasattr(a, "__array_struct__")
    with pytest.raises(TypeError):
        memoryview(a)


@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.eq, operator.matmul])
def test_mixing_with_a_numpy_array_raises_both_ways(op):
    s, h = xp.ones((3, 3)), np.ones((3, 3))
    with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
        op(s, h)
    with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
        op(h, s)


def test_inplace_mixing_with_a_numpy_array_raises_both_ways():
    s, h = xp.ones(3), np.ones(3)
    with pytest.raises(TypeError):
        s += h
    with pytest.raises(TypeError):
        h += xp.ones(3)
    np.testing.assert_array_equal(h, 1.0)


def test_xp_functions_refuse_numpy_array_arguments():
    with pytest.raises(TypeError, match="Unsupported type"):
        xp.exp(np.ones(3))
    with pytest.raises(TypeError):
        xp.ones(3).dot(np.ones(3))
    with pytest.raises(TypeError):
        xp.exp(xp.ones(3), out=np.empty(3))


def test_get_and_to_numpy_return_numpy_copies_with_equal_values():
    h, s = host_pair(0)
    for out in (s.get(), xp.to_numpy(s), xp.asnumpy(s)):
        assert type(out) is np.ndarray
        np.testing.assert_array_equal(out, h)
        out[0, 0] = -1.0
        assert s[0, 0].item() == h[0, 0]


def test_asarray_copies_host_data_in():
    h = np.arange(4.0)
    s = xp.asarray(h)
    h[0] = 99.0
    assert s[0].item() == 0.0
    assert xp.asarray(s) is s
    assert xp.asarray([1, 2], dtype=xp.float32).dtype == np.float32
    assert xp.array(s) is not s
    assert xp.ascontiguousarray(h[::2]).flags["C_CONTIGUOUS"]


def test_indexing_with_strict_int_and_bool_indices_matches_numpy():
    h, s = host_pair(0, (5, 4))
    hi, hb = np.array([4, 0, 2]), h[:, 0] > 1.0
    cases = [(xp.asarray(hi), hi), (xp.asarray(hb), hb), ((slice(1, 3), xp.asarray([1, 3])),
             (slice(1, 3), [1, 3])), ((None, Ellipsis, 2), (None, Ellipsis, 2)), ([0, 0], [0, 0])]
    for si, ni in cases:
        got = s[si]
        assert isinstance(got, StrictArray)
        np.testing.assert_array_equal(got.get(), h[ni])
    assert isinstance(s[1, 2], StrictArray) and s[1, 2].ndim == 0  # 0-d, as CuPy


def test_assignment_with_strict_int_and_bool_indices_matches_numpy():
    h, s = host_pair(0, (5, 4))
    hb = h > 1.0
    s[xp.asarray(hb)] = 0.0
    h[hb] = 0.0
    s[xp.asarray([1, 3])] = xp.arange(4.0)
    h[[1, 3]] = np.arange(4.0)
    s[0, 1:3] = 7
    h[0, 1:3] = 7
    np.testing.assert_array_equal(s.get(), h)


def test_numpy_array_as_index_or_value_is_refused():
    s = xp.zeros(4)
    with pytest.raises(TypeError):
        s[np.array([0, 1])]
    with pytest.raises(TypeError):
        s[np.array([True, False, True, False])] = 1.0
    with pytest.raises(TypeError):
        s[:] = np.ones(4)
    np.testing.assert_array_equal(s.get(), 0.0)


def test_python_conversions_work_on_size_one_arrays_only():
    assert float(xp.asarray(2.5)) == 2.5
    assert int(xp.asarray([3])) == 3
    assert bool(xp.asarray(1.0)) is True
    assert [10, 11, 12][xp.asarray(2)] == 12
    assert f"{xp.asarray(1.23456):.2f}" == "1.23"
    with pytest.raises(TypeError):
        float(xp.ones(2))
    with pytest.raises(ValueError):
        bool(xp.ones(2))


def test_len_iteration_and_properties_match_numpy():
    h, s = host_pair(0, (3, 4))
    assert len(s) == 3
    rows = list(s)
    assert all(isinstance(r, StrictArray) for r in rows)
    np.testing.assert_array_equal(np.stack([r.get() for r in rows]), h)
    assert (s.shape, s.dtype, s.ndim, s.size, s.strides) == (h.shape, h.dtype, h.ndim, h.size, h.strides)
    assert s.T.shape == (4, 3) and s.mT.shape == (4, 3)
    assert s.tolist() == h.tolist()
    assert "StrictArray(" in repr(s)


def test_forwarded_methods_match_numpy_and_write_into_strict_out():
    h, s = host_pair(0, (3, 4))
    assert s.sum().item() == h.sum()
    np.testing.assert_array_equal(s.mean(axis=0).get(), h.mean(axis=0))
    np.testing.assert_array_equal(s.reshape(4, 3).get(), h.reshape(4, 3))
    np.testing.assert_array_equal(s.astype(np.float32).get(), h.astype(np.float32))
    assert s.argmax().item() == h.argmax()
    out = xp.empty(4)
    assert s.sum(axis=0, out=out) is out
    np.testing.assert_array_equal(out.get(), h.sum(axis=0))
    assert s.clip(0.8, 1.2, out=s) is s
    np.testing.assert_array_equal(s.get(), h.clip(0.8, 1.2))
    s.fill(3.0)
    np.testing.assert_array_equal(s.get(), 3.0)


def test_namespace_functions_wrap_results_and_keep_dtypes():
    h, s = host_pair(0, (3, 4))
    assert xp.float32 is np.float32 and xp.pi == np.pi and xp.newaxis is None
    z = xp.zeros((2, 3), dtype=xp.float32)
    assert isinstance(z, xp.ndarray) and z.dtype == np.float32
    np.testing.assert_array_equal(xp.exp(s).get(), np.exp(h))
    np.testing.assert_array_equal(xp.einsum("ij,kj->ik", s, s).get(), np.einsum("ij,kj->ik", h, h))
    rows, cols = xp.nonzero(s > 1.0)
    assert isinstance(rows, StrictArray)
    np.testing.assert_array_equal(cols.get(), np.nonzero(h > 1.0)[1])
    assert xp.exp(s, out=s) is s
    acc = xp.zeros(3)
    xp.add.at(acc, xp.asarray([0, 0, 2]), 1.0)
    np.testing.assert_array_equal(acc.get(), [2.0, 0.0, 1.0])
    np.testing.assert_allclose(xp.linalg.norm(s).item(), np.linalg.norm(np.exp(h)))
    assert isinstance(xp.linalg.svd(s).S, StrictArray)


def test_random_draws_equal_numpy_default_rng_draws():
    ref = np.random.default_rng(7)
    rng = xp.random.default_rng(7)
    for name, args in [("standard_normal", ((3, 2),)), ("random", (5,)),
                       ("uniform", (-1.0, 1.0, 4)), ("normal", (2.0, 3.0, (2, 2))),
                       ("integers", (0, 10, 6)), ("permutation", (8,))]:
        got = getattr(rng, name)(*args)
        assert isinstance(got, StrictArray)
        np.testing.assert_array_equal(got.get(), getattr(ref, name)(*args))


def test_random_out_fills_a_strict_array_in_place():
    for dtype in (np.float32, np.float64):
        out = xp.zeros((3, 4), dtype=dtype)
        got = xp.random.default_rng(5).standard_normal(out=out, dtype=out.dtype)
        assert got is out
        np.testing.assert_array_equal(out.get(), np.random.default_rng(5).standard_normal((3, 4), dtype=dtype))
        row = out[1]
        assert xp.random.default_rng(6).random(out=row, dtype=dtype) is row
        np.testing.assert_array_equal(out[1].get(), np.random.default_rng(6).random(4, dtype=dtype))


def test_copies_are_independent():
    s = xp.arange(3.0)
    for c in (copy.copy(s), copy.deepcopy(s)):
        c[0] = 5.0
        assert s[0].item() == 0.0 and isinstance(c, StrictArray)


def test_strict_backend_crosses_the_host_boundary_only_explicitly():
    be = Backend("strict", "float64")
    a = be.asarray(np.arange(3.0))
    assert isinstance(a, StrictArray) and a.dtype == np.float64
    back = be.to_numpy(a * 2)
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, [0.0, 2.0, 4.0])
    assert be.scalar(a.sum()) == 3.0


def test_strict_backend_generators_give_strict_arrays_and_numpy_numbers():
    be = Backend("strict", "float64")
    single = be.generator(3).normal((2, 3))
    assert isinstance(single, StrictArray) and single.shape == (2, 3)
    np.testing.assert_array_equal(be.to_numpy(single), Backend("numpy", "float64").generator(3).normal((2, 3)))
    stack = be.generator([1, 2]).normal((2, 4, 5))
    assert isinstance(stack, StrictArray) and stack.shape == (2, 4, 5)
    ref = np.stack([Backend("numpy", "float64").generator(k).normal((4, 5)) for k in (1, 2)])
    np.testing.assert_array_equal(be.to_numpy(stack), ref)
    uni = be.generator([1, 2]).uniform((2, 3))
    assert isinstance(uni, StrictArray) and float(uni.min()) >= 0.0


@pytest.mark.parametrize("left, right", [((4, 2, 3), (4, 3, 5)), ((2, 3), (4, 3, 5))])
def test_matmul_broadcasts_leading_axes_like_numpy(left, right):
    rng = np.random.default_rng(0)
    hl, hr = rng.standard_normal(left), rng.standard_normal(right)
    got = xp.asarray(hl) @ xp.asarray(hr)
    assert got.shape == (4, 2, 5)
    np.testing.assert_array_equal(got.get(), hl @ hr)
    np.testing.assert_array_equal(xp.matmul(xp.asarray(hl), xp.asarray(hr)).get(), np.matmul(hl, hr))
