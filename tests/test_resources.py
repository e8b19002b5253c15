"""Ensemble sizing (minisyn.resources): the per-member memory estimate is an
upper bound on what training really allocates, and the sweeps lower their
ensemble size to fit."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from minisyn import cli
from minisyn.backend import Backend
from minisyn.costs import L1Cost, PowerLawCost
from minisyn.losses import one_hot
from minisyn.network import MLP
from minisyn.resources import available_memory, fit_ensemble_size, member_bytes
from minisyn.train import make_optimizer

SIZES = (784, 60, 40, 10)


def peak_bytes(K, synapse, kwargs, optimizer, batch):
    """tracemalloc peak of building an ensemble of K and taking three training steps."""
    be = Backend("numpy", "float32")
    rng = np.random.default_rng(0)
    x = be.floats(rng.random((batch, SIZES[0])))
    y = one_hot(be.asarray(rng.integers(0, SIZES[-1], batch)), SIZES[-1], np, be.dtype)
    tracemalloc.start()
    try:
        net = MLP(SIZES, synapse, be, seed=[0] * K, ensemble=K, **kwargs)
        opt = make_optimizer(net, optimizer, 1e-3)
        costs = [PowerLawCost(list(np.logspace(-3, -1, K)), 0.5), L1Cost(1e-4)] if synapse == "gaussian" else []
        for _ in range(3):
            net.zero_grad()
            net.objective(x, y, 1000, costs)
            opt.step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("synapse, kwargs, optimizer, batch, estimate", [
    ("gaussian", {"noise": "heterogeneous", "scheme": "weights"}, "adam", 20, ("gaussian", "heterogeneous", True)),
    ("gaussian", {"noise": "heterogeneous", "scheme": "local"}, "adam", 20, ("gaussian", "heterogeneous", True)),
    ("gaussian", {"noise": "homogeneous", "scheme": "weights"}, "adam", 20, ("gaussian", "homogeneous", True)),
    ("bernoulli", {}, "presynaptic", 100, ("bernoulli", None, False)),
    ("deterministic", {"bias": False}, "sgd", 100, ("deterministic", None, False)),
])
def test_member_estimate_bounds_what_training_allocates(synapse, kwargs, optimizer, batch, estimate):
    per_member = (peak_bytes(5, synapse, kwargs, optimizer, batch) - peak_bytes(1, synapse, kwargs, optimizer, batch)) / 4
    syn, noise, bias = estimate
    est = member_bytes(SIZES, batch, "float32", syn, noise or "heterogeneous", bias=bias)
    assert per_member <= est <= 4 * per_member, (per_member, est)


def test_member_bytes_scales_with_dtype_and_rejects_bad_input():
    assert member_bytes(SIZES, 20, "float64") == 2 * member_bytes(SIZES, 20, "float32")
    with pytest.raises(ValueError, match="synapse must be one of"):
        member_bytes(SIZES, 20, synapse="binomial")
    with pytest.raises(ValueError, match="two layer widths"):
        member_bytes([784], 20)


def test_fit_ensemble_size_keeps_what_fits_and_lowers_what_does_not():
    be = Backend("numpy", "float32")
    assert fit_ensemble_size(16, 1000, be, available=10**9) == (16, None)
    size, why = fit_ensemble_size(16, 10**6, be, available=10**7)          # half of 10 MB: 5 networks
    assert size == 5 and "lowered from 16 to 5" in why
    assert fit_ensemble_size(16, 10**6, be, workers=2, available=10**7)[0] == 2
    with pytest.raises(MemoryError, match="one network needs about"):
        fit_ensemble_size(4, 10**8, be, available=10**7)



def test_fit_ensemble_size_trusts_the_request_when_memory_is_unknown(monkeypatch):
    monkeypatch.setattr("minisyn.resources.available_memory", lambda backend: None)
    assert fit_ensemble_size(3, 10**12, Backend("numpy", "float32")) == (3, None)


def test_available_memory_on_this_host_is_a_positive_number_of_bytes():
    got = available_memory(Backend("numpy", "float32"))
    assert got is None or got > 2**20


def test_sweep_lowers_its_ensemble_size_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("minisyn.resources.available_memory", lambda backend: 2 * 3 * 10**6)
    code = cli.main(["sweep", "--train-limit", "40", "--epochs", "1", "--n-c", "4", "--rho", "1/2",
                     "--noise", "heterogeneous", "--sizes", "784,30,10", "--ensemble-size", "4",
                     "--no-progress", "--out", str(tmp_path / "s")])
    assert code == 0
    assert "ensemble size lowered from 4 to 1" in capsys.readouterr().err


def test_sweep_that_cannot_fit_one_network_stops_with_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("minisyn.resources.available_memory", lambda backend: 1000)
    code = cli.main(["sweep", "--train-limit", "40", "--epochs", "1", "--n-c", "2", "--rho", "1/2",
                     "--no-progress", "--out", str(tmp_path / "s")])
    assert code == 2
    assert "one network needs about" in capsys.readouterr().err


def test_energy_info_lowers_its_ensemble_size_and_says_so(tmp_path, monkeypatch):
    from test_energy_info import TINY

    from minisyn.experiments.energy_info import run_energy_info

    per = member_bytes(TINY["sizes"], TINY.get("batch_size", 100), "float32", "bernoulli", bias=False)
    monkeypatch.setattr("minisyn.resources.available_memory", lambda backend: int(2 * 2.5 * per))
    said = []
    run_energy_info(tmp_path / "e", l2s=[1e-3, 1e-2, 1e-1], log=said.append, **{**TINY, "ensemble_size": 3})
    assert any("ensemble size lowered from 3 to 2" in m for m in said)
