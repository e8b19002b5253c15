"""The presynaptic learning rule (MODEL.md §B2, §B5) against hand-computed
cases, and its invariants."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisyn.backend import Backend
from minisyn.layers import BernoulliLinear
from minisyn.rules import PresynapticRule


def layer_with(m, p, g, lead=(), dtype="float64"):
    be = Backend("numpy", dtype)
    m, p, g = (np.asarray(a, dtype=be.dtype) for a in (m, p, g))
    layer = BernoulliLinear(m.shape[-1], m.shape[-2], be, be.generator(0), lead=lead)
    layer.m.value[...] = m
    layer.p = p.copy()
    layer.m.grad[...] = g
    return layer, be


# m, p, g: an up case (|g| >= g_lim), a down case, and one exactly at the threshold
M = [[1.0, -0.5, 2.0]]
P = [[0.5, 0.8, 0.3]]
G = [[0.2, -1e-4, -1e-3]]


@pytest.mark.parametrize("lr_factor", [False, True], ids=["plain", "consolidating"])
def test_rule_matches_hand_computed_step(lr_factor):
    layer, be = layer_with(M, P, G)
    PresynapticRule([layer], 0.1, be, d_up=0.1, d_down=0.05, g_lim=1e-3, lr_factor=lr_factor).step()
    if lr_factor:   # m <- m - eta (1 - p) g
        m = [[1.0 - 0.1 * 0.5 * 0.2, -0.5 - 0.1 * 0.2 * -1e-4, 2.0 - 0.1 * 0.7 * -1e-3]]
    else:           # m <- m - eta g
        m = [[1.0 - 0.1 * 0.2, -0.5 - 0.1 * -1e-4, 2.0 - 0.1 * -1e-3]]
    # up: p + (1-p) d_up; down: p - (1-p) d_down, clipped to [p_min = 0.25, 1]
    p = [[0.5 + 0.5 * 0.1, 0.8 - 0.2 * 0.05, 0.3 + 0.7 * 0.1]]
    np.testing.assert_allclose(layer.m.value, m, rtol=1e-14)
    np.testing.assert_allclose(layer.p, p, rtol=1e-14)


@pytest.mark.parametrize("lr_factor", [False, True], ids=["plain", "consolidating"])
def test_weight_decay_moves_m_but_never_reaches_the_release_probability_update(lr_factor):
    """m <- m - eta ((1 - p) g + l2 m); p sees the data gradient g alone.

    The second synapse has a small data gradient (|g| < g_lim) but a decay
    term l2 |m| = 0.05 >= g_lim: its p must still go down.
    """
    layer, be = layer_with(M, P, G)
    PresynapticRule([layer], 0.1, be, d_up=0.1, d_down=0.05, g_lim=1e-3, lr_factor=lr_factor,
                    weight_decay=0.1).step()
    m, p, g = (np.array(a) for a in (M, P, G))
    data = (1 - p) * g if lr_factor else g
    np.testing.assert_allclose(layer.m.value, m - 0.1 * (data + 0.1 * m), rtol=1e-14)
    np.testing.assert_allclose(layer.p, [[0.5 + 0.5 * 0.1, 0.8 - 0.2 * 0.05, 0.3 + 0.7 * 0.1]], rtol=1e-14)


def test_per_member_weight_decay_equals_lone_rules_with_each_decay():
    rng = np.random.default_rng(1)
    m0, g = rng.normal(size=(3, 2, 4)), rng.normal(scale=1e-3, size=(3, 2, 4))
    p0 = rng.uniform(0.25, 1.0, size=(3, 2, 4))
    decays = [0.0, 1e-2, 0.5]
    ens, be = layer_with(m0, p0, g, lead=(3,))
    PresynapticRule([ens], 0.05, be, weight_decay=decays).step()
    for k in range(3):
        lone, _ = layer_with(m0[k], p0[k], g[k])
        PresynapticRule([lone], 0.05, be, weight_decay=decays[k]).step()
        np.testing.assert_allclose(ens.m.value[k], lone.m.value, rtol=1e-14)
        np.testing.assert_array_equal(ens.p[k], lone.p)


def test_p_is_clipped_at_p_min_from_below():
    layer, be = layer_with([[1.0]], [[0.26]], [[0.0]])
    PresynapticRule([layer], 0.1, be, d_down=0.5, p_min=0.25).step()
    assert layer.p[0, 0] == 0.25            # 0.26 - 0.74 * 0.5 < 0.25


def test_p_equal_to_one_is_a_fixed_point_under_potentiation():
    layer, be = layer_with([[1.0]], [[1.0]], [[5.0]])
    PresynapticRule([layer], 0.1, be).step()
    assert layer.p[0, 0] == 1.0


def test_frozen_p_stays_while_its_strength_still_learns():
    """§B5: p >= p_freeze is frozen; m keeps moving (slowed by 1 - p)."""
    layer, be = layer_with([[1.0, 1.0]], [[0.95, 0.5]], [[0.0, 0.0]])
    rule = PresynapticRule([layer], 0.1, be, p_freeze=0.9, lr_factor=True)
    layer.m.grad[...] = [[-2.0, -2.0]]
    rule.step()
    np.testing.assert_allclose(layer.p, [[0.95, 0.5 + 0.5 * 0.07]], rtol=1e-14)
    np.testing.assert_allclose(layer.m.value, [[1.0 + 0.1 * 0.05 * 2.0, 1.0 + 0.1 * 0.5 * 2.0]], rtol=1e-14)


def test_plastic_p_false_leaves_p_untouched_and_still_updates_m():
    layer, be = layer_with(M, P, G)
    PresynapticRule([layer], 0.1, be, plastic_p=False).step()
    np.testing.assert_array_equal(layer.p, np.array(P))
    np.testing.assert_allclose(layer.m.value, np.array(M) - 0.1 * np.array(G), rtol=1e-14)


def test_per_member_lr_acts_memberwise_on_an_ensemble():
    m = np.ones((2, 1, 2))
    layer, be = layer_with(m, np.full((2, 1, 2), 0.5), np.full((2, 1, 2), 0.1), lead=(2,))
    PresynapticRule([layer], [0.1, 1.0], be).step()
    np.testing.assert_allclose(layer.m.value[:, 0, 0], [1 - 0.01, 1 - 0.1], rtol=1e-14)


def test_rule_keeps_float32_arrays_float32():
    layer, be = layer_with(M, P, G, dtype="float32")
    PresynapticRule([layer], 0.1, be, lr_factor=True).step()
    assert layer.p.dtype == np.float32 and layer.m.value.dtype == np.float32


rule_params = st.fixed_dictionaries({
    "d_up": st.floats(0.0, 1.0),
    "d_down": st.floats(0.0, 1.0),
    "g_lim": st.floats(1e-4, 1.0),
    "p_min": st.floats(0.01, 0.9),
    "lr_factor": st.booleans(),
})


@given(rule_params, st.integers(0, 2**32 - 1), st.integers(1, 30))
def test_p_stays_in_p_min_to_one_after_many_random_steps(kw, seed, steps):
    rng = np.random.default_rng(seed)
    layer, be = layer_with(rng.normal(size=(3, 4)), rng.uniform(kw["p_min"], 1.0, (3, 4)), np.zeros((3, 4)))
    rule = PresynapticRule([layer], 0.1, be, **kw)
    for _ in range(steps):
        layer.m.grad[...] = rng.normal(scale=10 * kw["g_lim"], size=(3, 4))
        rule.step()
        assert np.all(layer.p >= kw["p_min"]) and np.all(layer.p <= 1.0)


@given(rule_params, st.floats(0.0, 1.0), st.integers(0, 2**32 - 1), st.integers(1, 20))
def test_frozen_p_never_moves_while_its_m_still_moves(kw, freeze_at, seed, steps):
    p_freeze = kw["p_min"] + freeze_at * (1 - kw["p_min"])
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(kw["p_min"], 1.0, (3, 4))
    p0[0] = np.maximum(p0[0], p_freeze)          # some synapses start frozen
    frozen = p0 >= p_freeze
    layer, be = layer_with(rng.normal(size=(3, 4)), p0, np.zeros((3, 4)))
    rule = PresynapticRule([layer], 0.1, be, p_freeze=p_freeze, **kw)
    for _ in range(steps):
        m_before = layer.m.value.copy()
        g = rng.normal(scale=10 * kw["g_lim"], size=(3, 4))
        g[np.abs(g) < 1e-6] = 1e-6
        layer.m.grad[...] = g
        rule.step()
        np.testing.assert_array_equal(layer.p[frozen], p0[frozen])
        moved = layer.m.value != m_before
        factor = (1 - layer.p) if kw["lr_factor"] else np.ones_like(layer.p)
        assert np.all(moved[frozen & (factor > 1e-6)])
        frozen |= layer.p >= p_freeze                   # newly frozen synapses stay frozen from now on
        p0 = np.where(frozen, layer.p, p0)


@given(rule_params, st.integers(0, 2**32 - 1))
def test_plastic_p_false_never_changes_p(kw, seed):
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(kw["p_min"], 1.0, (2, 3))
    layer, be = layer_with(rng.normal(size=(2, 3)), p0, rng.normal(size=(2, 3)))
    rule = PresynapticRule([layer], 0.1, be, plastic_p=False, **kw)
    for _ in range(5):
        rule.step()
    np.testing.assert_array_equal(layer.p, p0)


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0.0}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"lr": [0.1, -0.1]}, "lr"),
    ({"g_lim": 0.0}, "g_lim"),
    ({"d_up": 1.5}, "d_up"),
    ({"d_down": -0.1}, "d_down"),
    ({"p_min": 0.0}, "p_min"),
    ({"p_min": 1.5}, "p_min"),
    ({"p_min": 0.5, "p_freeze": 0.4}, "p_freeze"),
    ({"p_freeze": 1.1}, "p_freeze"),
    ({"weight_decay": -1e-3}, "weight_decay"),
    ({"weight_decay": [0.1, float("nan")]}, "weight_decay"),
])
def test_invalid_hyperparameters_raise_value_error(kwargs, match):
    layer, be = layer_with(M, P, G)
    kwargs = {"lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        PresynapticRule([layer], backend=be, **kwargs)
