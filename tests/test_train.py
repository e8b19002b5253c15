"""Training and evaluation loops (MODEL.md §A4, §B2): learning, backend
equivalence, ensembles, input checks, divergence."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import f64, strict_or_skip
from minisyn.backend import Backend
from minisyn.costs import L1Cost, L2Cost, PowerLawCost
from minisyn.network import MLP
from minisyn.train import TrainingDiverged, accuracy, evaluate, make_optimizer, prepare_arrays, train


def synthetic(n=200, d=6, classes=3, seed=0):
    """A learnable problem: the label is the argmax of a fixed linear map."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (x @ rng.normal(size=(d, classes))).argmax(axis=1)
    return x, y


CONFIGS = {
    "gaussian-weights-adam": dict(net={"synapse": "gaussian", "sigma_init": 0.05}, opt=("adam", 3e-2, {}),
                                  costs=lambda: [PowerLawCost(1e-3, 0.5), L1Cost(1e-3)]),
    "gaussian-local-homogeneous-sgd": dict(net={"synapse": "gaussian", "scheme": "local", "noise": "homogeneous",
                                                "sigma_init": 0.05},
                                           opt=("sgd", 1.0, {}), costs=lambda: [PowerLawCost(1e-3, 2.0)]),
    "bernoulli-presynaptic": dict(net={"synapse": "bernoulli", "p_init": 0.5},
                                  opt=("presynaptic", 0.2, {"lr_factor": True, "p_freeze": 0.9}),
                                  costs=lambda: [L2Cost(1e-3)]),
    "deterministic-sgd": dict(net={"synapse": "deterministic"}, opt=("sgd", 0.3, {}), costs=lambda: []),
}


def run(config, backend, sizes=(6, 16, 3), seed=0, ensemble=None, epochs=2, batch_size=20, n=200, costs=None,
        lr=None):
    cfg = CONFIGS[config]
    net = MLP(list(sizes), backend=backend, seed=seed, ensemble=ensemble, **cfg["net"])
    name, default_lr, kwargs = cfg["opt"]
    opt = make_optimizer(net, name, default_lr if lr is None else lr, **kwargs)
    x, y = prepare_arrays(*synthetic(n, sizes[0], sizes[-1]), backend)
    hist = train(net, opt, x, y, epochs=epochs, batch_size=batch_size, seed=7,
                 costs=cfg["costs"]() if costs is None else costs, progress=False)
    return net, hist, (x, y)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_short_training_run_decreases_the_loss_and_beats_chance(config, backends):
    be = Backend(backends, "float64")
    net, hist, (x, y) = run(config, be, epochs=3)
    assert hist["epoch"] == [1, 2, 3]
    assert hist["loss"][-1] < hist["loss"][0]
    assert accuracy(net, x, y, "mean")[()] > 0.5          # three classes: chance is about 1/3


@pytest.mark.parametrize("config", list(CONFIGS))
def test_training_step_on_strict_backend_equals_numpy_exactly(config):
    """The strict stand-in gives numpy's numbers bit for bit, so a run is identical."""
    strict = strict_or_skip()
    net_n, hist_n, _ = run(config, f64())
    net_s, hist_s, _ = run(config, strict)
    for key, value in net_n.state().items():
        np.testing.assert_array_equal(net_s.state()[key], value, err_msg=key)
    for key in ("loss", "ce", "cost", "train_acc"):
        np.testing.assert_array_equal(hist_s[key], hist_n[key], err_msg=key)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_float32_training_keeps_every_array_float32(config, backends):
    be = Backend(backends, "float32")
    net, hist, _ = run(config, be, epochs=1)
    for p in net.params():
        assert p.value.dtype == np.float32 and p.grad.dtype == np.float32, p
    for layer in net.synaptic:
        if hasattr(layer, "p"):
            assert layer.p.dtype == np.float32
    assert np.isfinite(hist["loss"]).all()


def test_gaussian_adam_ensemble_with_per_member_c_equals_networks_trained_one_by_one():
    be = f64()
    cs, seeds = [1e-3, 1e-2, 1e-1], [1, 2, 3]
    ens, hist, _ = run("gaussian-weights-adam", be, ensemble=3, seed=seeds,
                       costs=[PowerLawCost(cs, 0.5), L1Cost(1e-3)])
    for k in range(3):
        lone, lone_hist, _ = run("gaussian-weights-adam", be, seed=seeds[k],
                                 costs=[PowerLawCost(cs[k], 0.5), L1Cost(1e-3)])
        for key, value in lone.state().items():
            np.testing.assert_allclose(ens.state()[key][k], value, rtol=1e-9, atol=1e-12, err_msg=f"{k} {key}")
        np.testing.assert_allclose(np.array(hist["loss"])[:, k], lone_hist["loss"], rtol=1e-9)
    sig = [float(np.sqrt(np.mean([np.mean(s[k] ** 2) for s in ens.sigmas()]))) for k in range(3)]
    assert sig[2] > sig[0]                     # a larger reliability cost makes noisier synapses


def test_bernoulli_presynaptic_ensemble_equals_networks_trained_one_by_one():
    be = f64()
    seeds, lrs = [1, 2, 3], [0.05, 0.1, 0.2]
    ens, hist, _ = run("bernoulli-presynaptic", be, ensemble=3, seed=seeds, lr=lrs)
    for k in range(3):
        lone, lone_hist, _ = run("bernoulli-presynaptic", be, seed=seeds[k], lr=lrs[k])
        for key, value in lone.state().items():
            np.testing.assert_allclose(ens.state()[key][k], value, rtol=1e-9, atol=1e-12, err_msg=f"{k} {key}")
        np.testing.assert_allclose(np.array(hist["loss"])[:, k], lone_hist["loss"], rtol=1e-9)
    p = ens.state()["layer0.p"]
    assert p.min() >= 0.25 and len(np.unique(p)) > 1   # release probabilities moved, within bounds


def test_same_seed_gives_identical_runs_and_another_train_seed_does_not():
    be = f64()
    a, ha, (x, y) = run("gaussian-weights-adam", be)
    b, hb, _ = run("gaussian-weights-adam", be)
    assert ha["loss"] == hb["loss"]
    net = MLP([6, 16, 3], backend=be, seed=0, **CONFIGS["gaussian-weights-adam"]["net"])
    hc = train(net, make_optimizer(net, "adam", 3e-2), x, y, epochs=2, batch_size=20, seed=8,
               costs=CONFIGS["gaussian-weights-adam"]["costs"](), progress=False)
    assert hc["loss"] != ha["loss"]


def test_batch_size_larger_than_the_data_raises_value_error_naming_it():
    be = f64()
    net = MLP([6, 3], backend=be)
    x, y = prepare_arrays(*synthetic(10, 6, 3), be)
    with pytest.raises(ValueError, match=r"batch size 11 .* 10 training examples"):
        train(net, make_optimizer(net, "sgd", 0.1), x, y, epochs=1, batch_size=11, progress=False)
    with pytest.raises(ValueError, match="batch size 0"):
        train(net, make_optimizer(net, "sgd", 0.1), x, y, epochs=1, batch_size=0, progress=False)


def test_feature_count_mismatch_raises_value_error():
    be = f64()
    net = MLP([5, 3], backend=be)
    x, y = prepare_arrays(*synthetic(10, 6, 3), be)
    with pytest.raises(ValueError, match="takes 5 inputs but x has 6"):
        train(net, make_optimizer(net, "sgd", 0.1), x, y, epochs=1, batch_size=5, progress=False)
    with pytest.raises(ValueError, match="takes 5 inputs"):
        accuracy(net, x, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_raise_value_error(bad):
    x, y = synthetic(10, 4, 2)
    x[3, 1] = bad
    with pytest.raises(ValueError, match="finite"):
        prepare_arrays(x, y, f64())


@pytest.mark.parametrize("x_shape, y, match", [
    ((10,), np.zeros(10, int), "inputs must have shape"),
    ((10, 4), np.zeros(9, int), "labels must have shape"),
    ((10, 4), np.zeros(10), "non-negative integers"),
    ((10, 4), -np.ones(10, int), "non-negative integers"),
])
def test_malformed_data_raises_value_error(x_shape, y, match):
    with pytest.raises(ValueError, match=match):
        prepare_arrays(np.zeros(x_shape), y, f64())


def test_negative_epochs_and_unknown_optimizer_raise_value_error():
    be = f64()
    net = MLP([4, 2], backend=be)
    x, y = prepare_arrays(*synthetic(10, 4, 2), be)
    with pytest.raises(ValueError, match="epochs"):
        train(net, make_optimizer(net, "sgd", 0.1), x, y, epochs=-1, batch_size=5, progress=False)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer(net, "rmsprop", 0.1)
    with pytest.raises(ValueError, match="needs Bernoulli synapses"):
        make_optimizer(net, "presynaptic", 0.1)


def test_huge_learning_rate_raises_training_diverged_with_the_finished_epochs():
    be = f64()
    net = MLP([6, 8, 3], "gaussian", be, seed=0)
    x, y = prepare_arrays(*synthetic(200, 6, 3), be)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="non-finite") as info:
        train(net, make_optimizer(net, "sgd", 1e10), x, y, epochs=5, batch_size=20, progress=False)
    hist = info.value.history
    assert len(hist["epoch"]) < 5 and hist["epoch"] == list(range(1, len(hist["epoch"]) + 1))
    assert all(np.isfinite(hist["loss"]))


def _identity_net(be):
    """Deterministic 2-2 network without bias whose logits are its inputs."""
    net = MLP([2, 2], "deterministic", be, bias=False)
    net.synaptic[0].mu.value[...] = np.eye(2)
    return net


def test_accuracy_counts_argmax_hits_in_every_mode():
    be = f64()
    net = _identity_net(be)
    x = be.floats([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    y = be.asarray(np.array([0, 1, 1, 0]))
    for mode in ("sample", "mean", "predictive"):
        assert accuracy(net, x, y, mode, samples=3, batch_size=3)[()] == pytest.approx(0.5), mode
    assert evaluate(net, x, y, samples=2) == {"sampled": 0.5, "mean": 0.5, "predictive": 0.5}


def test_accuracy_of_an_ensemble_is_one_value_per_member():
    be = f64()
    net = MLP([2, 2], "deterministic", be, bias=False, ensemble=2, seed=[0, 1])
    net.synaptic[0].mu.value[...] = [np.eye(2), np.eye(2)[::-1]]
    x = be.floats([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    y = be.asarray(np.array([0, 1, 1]))
    np.testing.assert_allclose(accuracy(net, x, y, "mean"), [2 / 3, 1 / 3])


def test_sampled_accuracy_uses_noise_while_mean_accuracy_does_not():
    be = f64()
    net = MLP([4, 3], "gaussian", be, seed=0, sigma_init=50.0)   # noise swamps the means
    x, y = prepare_arrays(*synthetic(300, 4, 3), be)
    mean = [accuracy(net, x, y, "mean")[()] for _ in range(2)]
    sampled = [accuracy(net, x, y, "sample", batch_size=50)[()] for _ in range(2)]
    assert mean[0] == mean[1]
    assert sampled[0] != sampled[1]


def test_unknown_accuracy_mode_raises_value_error():
    be = f64()
    net = _identity_net(be)
    with pytest.raises(ValueError, match="mode must be"):
        accuracy(net, be.floats([[1.0, 0.0]]), be.asarray(np.array([0])), "median")


def test_validation_accuracy_and_on_epoch_callback_are_recorded_each_epoch():
    be = f64()
    net = MLP([6, 8, 3], "deterministic", be)
    x, y = prepare_arrays(*synthetic(100, 6, 3), be)
    seen = []
    hist = train(net, make_optimizer(net, "sgd", 0.1), x, y, epochs=2, batch_size=10, x_val=x, y_val=y,
                 progress=False, on_epoch=lambda e, h: seen.append((e, len(h["epoch"]))))
    assert seen == [(1, 1), (2, 2)]
    assert len(hist["val_acc"]) == 2 and all(0 <= a <= 1 for a in hist["val_acc"])
    assert hist["val_acc"][-1] == pytest.approx(float(accuracy(net, x, y)))


@pytest.mark.parametrize("batch_size, batches", [(10, 10), (30, 3)])
def test_an_epoch_visits_each_example_at_most_once_in_full_batches(batch_size, batches):
    """n // B minibatches of exactly B distinct examples; the last partial batch is dropped."""
    be = f64()
    net = MLP([6, 3], "deterministic", be)
    x, y = prepare_arrays(*synthetic(100, 6, 3), be)
    seen, objective = [], net.objective

    def spy(xb, targets, n_train, costs=(), mode="sample"):
        assert n_train == 100
        seen.append(np.array(be.to_numpy(xb)))
        return objective(xb, targets, n_train, costs, mode)

    net.objective = spy
    train(net, make_optimizer(net, "sgd", 0.1), x, y, epochs=1, batch_size=batch_size, progress=False)
    assert len(seen) == batches and all(b.shape == (batch_size, 6) for b in seen)
    rows = np.concatenate(seen)
    assert len(np.unique(rows, axis=0)) == batches * batch_size           # no example twice
    assert np.isin(rows, be.to_numpy(x)).all()
