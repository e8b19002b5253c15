"""The synapse registry: a synapse type defined in one place is usable everywhere."""
from __future__ import annotations

import json

import numpy as np
import pytest

from minisyn.backend import Backend
from minisyn.cli import main
from minisyn.costs import L1Cost, PowerLawCost
from minisyn.layers import SYNAPSES, BernoulliLinear, GaussianLinear, Linear, register_synapse, synapse_type
from minisyn.network import MLP
from minisyn.resources import member_bytes
from minisyn.train import make_optimizer, train


class SignedLinear(Linear):
    """A test type: deterministic weights that can only be positive, ``w = |theta|``
    (its only specifics are a name and its forward and backward passes)."""

    name = "signed-test"
    arrays_per_synapse = {None: 8}

    def forward(self, x, mode="sample"):
        xp = self.be.xp
        self._x = self._prepare_input(x, xp)
        return self._x @ xp.swapaxes(xp.abs(self.mu.value), -1, -2)

    def backward(self, dL_da):
        xp = self.be.xp
        dL_dw = xp.swapaxes(dL_da, -1, -2) @ self._x
        self.mu.grad += dL_dw * xp.sign(self.mu.value)             # dL/dtheta = dL/dw * sign(theta)
        return None if not self.needs_input_grad else self._input_grad(dL_da @ xp.abs(self.mu.value))


@pytest.fixture
def signed_type(monkeypatch):
    monkeypatch.setitem(SYNAPSES, SignedLinear.name, SignedLinear)
    yield SignedLinear


def test_the_three_built_in_types_are_registered_by_name():
    assert synapse_type("gaussian") is GaussianLinear
    assert synapse_type("bernoulli") is BernoulliLinear
    assert synapse_type("deterministic") is Linear
    with pytest.raises(ValueError, match="synapse must be one of"):
        synapse_type("quantal-unknown")


def test_register_synapse_adds_a_type_by_its_name(monkeypatch):
    monkeypatch.setattr("minisyn.layers.SYNAPSES", dict(SYNAPSES))
    from minisyn import layers

    cls = register_synapse(type("Tmp", (Linear,), {"name": "tmp-test"}))
    assert layers.SYNAPSES["tmp-test"] is cls


def test_a_registered_type_trains_and_saves_through_the_network(signed_type):
    be = Backend("numpy", "float64")
    rng = np.random.default_rng(0)
    x, y = be.floats(rng.random((40, 6))), be.asarray(rng.integers(0, 3, 40))
    net = MLP([6, 5, 3], signed_type.name, be, seed=0)
    assert isinstance(net.synaptic[0], SignedLinear) and net.synaptic[0].bias    # default_bias inherited
    opt = make_optimizer(net, "adam", 1e-2)
    hist = train(net, opt, x, y, epochs=3, batch_size=10, costs=[L1Cost(1e-3)], progress=False)
    assert hist["loss"][-1] < hist["loss"][0]
    other = MLP([6, 5, 3], signed_type.name, be, seed=1)
    other.load_state(net.state())
    np.testing.assert_array_equal(other.forward(x, "mean"), net.forward(x, "mean"))
    assert member_bytes([6, 5, 3], 10, synapse=signed_type.name) > 0
    with pytest.raises(ValueError, match="needs Gaussian synapses"):
        net.add_costs([PowerLawCost(1e-2, 0.5)], 40)
    with pytest.raises(ValueError, match="needs Bernoulli synapses"):
        make_optimizer(net, "presynaptic", 0.1)


def test_a_registered_type_is_a_choice_of_minisyn_train(signed_type, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--synapse", signed_type.name, "--sizes", "784,8,10", "--train-limit", "200",
                 "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["synapse"] == signed_type.name and results["status"] == "finished"
    assert "layer0.w" in np.load(out / "params.npz").files
