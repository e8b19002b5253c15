"""The backends' seeded generators: the float32 fast paths (raw-bit uniforms,
Box-Muller normals written straight into ``out``) against numpy's own draws
and the distributions they must follow."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from minisyn.backend import Backend

CPU = ["numpy", "strict"]


@pytest.mark.parametrize("name", CPU)
@given(n=st.integers(1, 300).map(lambda k: 2 * k), seed=st.integers(0, 2**32 - 1))
def test_float32_uniforms_are_numpys_bit_for_bit_for_even_counts(name, n, seed):
    be = Backend(name, "float32")
    got = be.to_numpy(be.generator(seed).uniform((n,)))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.random.default_rng(seed).random(n, dtype=np.float32))


def test_float32_uniforms_lie_on_the_24_bit_grid_of_the_unit_interval():
    u = Backend("numpy", "float32").generator(1).uniform((999, 7))      # odd count too
    assert u.shape == (999, 7) and u.min() >= 0.0 and u.max() < 1.0
    scaled = u.astype(np.float64) * 2**24
    np.testing.assert_array_equal(scaled, np.round(scaled))
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-4


@pytest.mark.parametrize("name", CPU)
@pytest.mark.parametrize("shape", [(10, 8), (7, 5)])               # even and odd counts
def test_float32_normals_into_out_equal_the_returned_draw(name, shape):
    be = Backend(name, "float32")
    out = be.xp.full(shape, np.nan, dtype=np.float32)
    got = be.generator(4).normal(shape, out=out)
    assert got is out
    np.testing.assert_array_equal(be.to_numpy(out), be.to_numpy(be.generator(4).normal(shape)))


def test_float32_box_muller_normals_are_standard_normal():
    z = Backend("numpy", "float32").generator(2).normal((400, 250))
    assert z.dtype == np.float32
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-4
    assert abs(z.mean()) < 5 / np.sqrt(z.size) and abs(z.var() - 1) < 5 * np.sqrt(2 / z.size)
    # the pairs (cos, sin) of one radius are uncorrelated
    h = z.size // 2
    assert abs(np.corrcoef(z.ravel()[:h], z.ravel()[h:])[0, 1]) < 5 / np.sqrt(h)


@pytest.mark.parametrize("name", CPU)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seeds", [[3, 3, 3], [3, 5, 3, 5], [1, 2, 3]])
@pytest.mark.parametrize("method", ["normal", "uniform"])
def test_generator_stack_members_draw_what_lone_generators_with_their_seeds_draw(name, dtype, seeds, method):
    """Members that share a seed share one generator and one draw; the
    numbers are still those of lone generators, draw after draw."""
    be = Backend(name, dtype)
    stack = be.generator(seeds)
    lone = {s: be.generator(s) for s in set(seeds)}
    assert stack.shared == (len(set(seeds)) == 1)
    for use_out in (False, True, False):
        out = be.xp.empty((len(seeds), 3, 4), dtype=be.dtype) if use_out else None
        got = getattr(stack, method)((len(seeds), 3, 4), out=out)
        assert got.shape == (len(seeds), 3, 4) and (out is None or got is out)
        ref = {s: be.to_numpy(getattr(g, method)((3, 4))) for s, g in lone.items()}
        np.testing.assert_array_equal(be.to_numpy(got), np.stack([ref[s] for s in seeds]))
