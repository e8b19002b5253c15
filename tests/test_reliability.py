"""Reliability: one folder one run, nothing lost on a signal or a divergence, float32 that
never silently stalls, entry points that check their inputs (docs/reliability.md)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest

from minisyn.backend import Backend
from minisyn.cli import main
from minisyn.costs import L1Cost, PowerLawCost
from minisyn.experiments import kit
from minisyn.network import MLP
from minisyn.optim import SGD, Adam
from minisyn.train import TrainingDiverged, evaluate, make_optimizer, prepare_arrays, train

TRAIN = ["train", "--sizes", "784,16,10", "--train-limit", "300", "--epochs", "3", "--no-progress"]
SWEEP = ["sweep", "--sizes", "784,8,10", "--train-limit", "200", "--epochs", "2", "--n-c", "2", "--rho", "1/2",
         "--ensemble-size", "1", "--no-progress"]


def minisyn(args, **kw):
    """``python -m minisyn ARGS`` as a new process (stdout and stderr captured)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1")
    # Ctrl-C as a user's terminal delivers it: a test run started in the background inherits an
    # ignored SIGINT, which Python would keep ignoring
    return subprocess.Popen([sys.executable, "-m", "minisyn", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


# -- one folder, one run ------------------------------------------------------------------
def test_a_second_run_into_a_locked_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / kit.LOCK).write_text(json.dumps({"pid": os.getpid(), "command": "minisyn train (another)"}))
    assert main([*TRAIN, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "in use by another run" in err and str(os.getpid()) in err
    assert sorted(p.name for p in out.iterdir()) == [kit.LOCK]       # nothing written beside it


def test_the_lock_of_a_dead_process_is_taken_over_with_a_message(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "run"
    out.mkdir()
    (out / kit.LOCK).write_text(json.dumps({"pid": dead.pid, "command": "minisyn train"}))
    (out / f".results.json.{dead.pid}.tmp").write_text("half a file")
    assert main([*TRAIN, "--epochs", "1", "--out", str(out)]) == 0
    assert f"taking over the lock of process {dead.pid}" in capsys.readouterr().err
    assert not (out / kit.LOCK).exists()
    assert not list(out.glob(".*.tmp"))                                # the dead process's leftovers
    assert json.loads((out / kit.RUN_FILE).read_text())["status"] == "finished"


def test_two_runs_started_together_into_one_folder_end_in_one_run(tmp_path):
    out = tmp_path / "run"
    procs = [minisyn([*TRAIN, "--epochs", "20", "--seed", str(seed), "--out", str(out)]) for seed in (0, 1)]
    ends = [p.communicate(timeout=120) for p in procs]
    codes, errs = [p.returncode for p in procs], [err for _, err in ends]
    assert sorted(codes) == [0, 2], errs
    # refused by the lock while the other runs (or, on a slow start, by the other's finished results)
    assert "in use by another run" in errs[codes.index(2)] or "already exists (finished)" in errs[codes.index(2)]
    results = json.loads((out / "results.json").read_text())
    run = json.loads((out / kit.RUN_FILE).read_text())
    assert results["config"]["seed"] == codes.index(0)
    assert results["run_id"] == run["run_id"] == str(np.load(out / "params.npz")["run_id"])
    assert all(row.endswith(run["run_id"]) for row in (out / "history.csv").read_text().splitlines()[1:])


def test_force_sets_the_previous_run_aside_until_the_new_one_finishes(tmp_path):
    out = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "1", "--out", str(out)]) == 0
    first = json.loads((out / "results.json").read_text())["run_id"]
    proc = minisyn([*TRAIN, "--epochs", "5000", "--force", "--seed", "3", "--out", str(out)])   # minutes: stopped below
    deadline = time.time() + 60

    def new_epoch_saved():
        try:
            return json.loads((out / "results.json").read_text())["run_id"] != first
        except (OSError, ValueError, KeyError):
            return False

    while time.time() < deadline and not new_epoch_saved():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    ids = {json.loads((out / "results.json").read_text())["run_id"], json.loads((out / kit.RUN_FILE).read_text())["run_id"]}
    if (out / "params.npz").exists():
        ids.add(str(np.load(out / "params.npz")["run_id"]))
    assert len(ids) == 1 and first not in ids, (visible, ids)                 # no file of the old run in view
    (aside,) = out.glob(".replaced-*")
    assert json.loads((aside / "results.json").read_text())["run_id"] == first
    assert main([*TRAIN, "--epochs", "1", "--seed", "3", "--out", str(out)]) == 0   # finishes: the old run goes
    assert not list(out.glob(".replaced-*"))


def test_a_run_that_stops_on_bad_input_leaves_a_forced_folder_as_it_was(tmp_path):
    out = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "1", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert main([*TRAIN, "--force", "--sizes", "100,10", "--out", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


# -- signals at random points: every folder complete or resumable to the same numbers ------------
def _numbers(out, command):
    if command == "train":
        r = json.loads((out / "results.json").read_text())
        return r["status"], r["history"]["loss"], r["test_accuracy"], r["sigma_bar"]
    rows = [line.split(",") for line in (out / "sweep.csv").read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if name != "ms_per_step"]
    return [[row[i] for i in keep] for row in rows]


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    ref = {}
    for name, args in (("train", TRAIN), ("sweep", SWEEP)):
        out = tmp_path_factory.mktemp(f"ref-{name}")
        assert main([*args, "--out", str(out)]) == 0
        ref[name] = _numbers(out, name)
    return ref


POINTS = [(name, sig, k) for k, (name, sig) in enumerate(
    [("train", signal.SIGINT), ("train", signal.SIGTERM), ("train", signal.SIGKILL)] * 4
    + [("sweep", signal.SIGINT), ("sweep", signal.SIGTERM), ("sweep", signal.SIGKILL), ("sweep", signal.SIGINT)] * 2)]


@pytest.mark.parametrize("name, sig, k", POINTS, ids=[f"{n}-{s.name}-{k}" for n, s, k in POINTS])
def test_a_signal_at_a_random_point_leaves_a_complete_or_resumable_folder(references, tmp_path, name, sig, k):
    args = TRAIN if name == "train" else SWEEP
    out = tmp_path / "run"
    proc = minisyn([*args, "--out", str(out)])
    deadline = time.time() + 60                         # wait until the command runs, then a random moment
    while not (out / kit.RUN_FILE).exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(np.random.default_rng(k).uniform(0.0, 1.5 if name == "train" else 2.5))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    code = proc.returncode
    assert "Traceback" not in err, err
    if not (out / kit.RUN_FILE).exists():       # stopped before it wrote anything: the folder is left
        assert code == (130 if sig == signal.SIGINT else 143), err      # as it found it (none)
        assert not out.exists()
        status = "nothing written"
    else:
        status = json.loads((out / kit.RUN_FILE).read_text())["status"]
        if sig == signal.SIGKILL:
            assert code in (0, -signal.SIGKILL)
        else:
            assert code in (0, 130 if sig == signal.SIGINT else 143), err
            assert status == ("finished" if code == 0 else "interrupted")
            assert code == 0 or err.count("\n") >= 1 and "interrupted" in err.strip().splitlines()[-1]
    if name == "train" and (out / "results.json").exists() and \
            json.loads((out / "results.json").read_text())["status"] == "finished":
        status = "finished"                              # killed after its last write: complete
    if status != "finished":                             # resume: rerun the same command
        again = minisyn([*args, "--out", str(out)])
        _, again_err = again.communicate(timeout=120)
        assert again.returncode == 0, again_err
    assert _numbers(out, name) == references[name]


# The moments a random signal rarely hits: just after the run is marked finished, and while
# Python exits (when it puts its own handlers back to the default, which kills with no message).
AFTER_FINISHED = """
import os, signal, sys, time
from minisyn.experiments import kit
from minisyn.cli import run
finish = kit.RunFolder.__exit__
def finish_then_signal(self, *exc):
    done = finish(self, *exc)
    os.kill(os.getpid(), signal.{sig})
    time.sleep(0.2)                               # the handler runs here
    return done
kit.RunFolder.__exit__ = finish_then_signal
sys.exit(run())
"""
AT_EXIT = """
import atexit, os, signal, sys
from minisyn.cli import run
atexit.register(lambda: os.kill(os.getpid(), signal.{sig}))
sys.exit(run())
"""


@pytest.mark.parametrize("when", ["after-finished", "at-exit"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_after_the_run_finished_leaves_it_finished_with_exit_0(tmp_path, when, sig):
    out = tmp_path / "run"
    script = (AFTER_FINISHED if when == "after-finished" else AT_EXIT).format(sig=sig.name)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script, *TRAIN, "--epochs", "1", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr, proc.stderr
    assert json.loads((out / kit.RUN_FILE).read_text())["status"] == "finished"
    if when == "after-finished":
        assert f"{sig.name} came after the run had finished" in proc.stderr


def test_signals_are_noted_once_deferred_and_the_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with kit.Signals() as signals:
        with pytest.raises(kit.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
        signals.defer()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
    assert signals.late == ["SIGTERM"]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


@pytest.mark.parametrize("sig, error", [(signal.SIGTERM, kit.Terminated), (signal.SIGINT, KeyboardInterrupt)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_signal_handled_inside_a_garbage_collection_callback_is_not_lost(capfd, sig, error):
    """Python drops an exception raised in a weak reference's callback ("Exception ignored"): the
    handler's interruption would be lost and the run go on, as it once did in CI."""
    class Thing:
        pass

    def callback(_):
        signal.raise_signal(sig)                      # the handler runs here, inside the callback

    hook = sys.unraisablehook
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with kit.Signals() as signals:
            thing = Thing()
            ref = weakref.ref(thing, callback)
            start = time.perf_counter()
            with pytest.raises(error):
                del thing                             # the callback runs, its exception is dropped
                threading.Event().wait(10)            # ... and the signal comes again, waking a wait
            assert time.perf_counter() - start < 5
            assert ref() is None and signals.redelivered == 1
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert "Exception ignored" not in capfd.readouterr().err
    assert sys.unraisablehook is hook                       # put back


@pytest.mark.parametrize("sig, error", [(signal.SIGTERM, kit.Terminated), (signal.SIGINT, KeyboardInterrupt)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_a_figure_save_waits_for_matplotlib_and_then_stops_the_run(tmp_path, monkeypatch,
                                                                                 sig, error):
    """Stopped part way, matplotlib's PDF writer raises an error of its own that hides the interrupt."""
    from matplotlib.figure import Figure

    from minisyn.output import pyplot, save_figure

    original, finished = Figure.savefig, []

    def savefig_with_a_signal(self, *args, **kwargs):
        os.kill(os.getpid(), sig)
        time.sleep(0.05)                              # the handler would run here
        original(self, *args, **kwargs)
        finished.append(kwargs.get("format"))

    monkeypatch.setattr(Figure, "savefig", savefig_with_a_signal)
    fig, ax = pyplot().subplots()
    ax.plot([1, 2], [3, 4])
    # Ctrl-C as a terminal delivers it: a test run started in the background inherits an ignored SIGINT
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with kit.Signals(), pytest.raises(error):
            save_figure(fig, tmp_path, "figure")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler     # put back
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert finished == ["png"]                        # finished, then stopped before the next step


def test_a_run_stopped_before_writing_a_file_removes_the_folders_it_made(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), kit.RunFolder(out):
        (out / "runs" / "deeper").mkdir(parents=True)
        raise KeyboardInterrupt
    assert not out.exists()
    out.mkdir()
    (out / "kept").mkdir()
    with pytest.raises(KeyboardInterrupt), kit.RunFolder(out):
        (out / "runs").mkdir()
        raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["kept"]


# -- divergence -------------------------------------------------------------------------------
def test_a_diverged_run_saves_the_last_finite_parameters_and_names_the_cause(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--optimizer", "sgd", "--lr", "1000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "non-finite" in err and "--lr" in err
    params = np.load(out / "params.npz")
    assert all(np.isfinite(params[k]).all() for k in params.files if k != "run_id")
    assert json.loads((out / "results.json").read_text())["status"] == "diverged"
    assert json.loads((out / kit.RUN_FILE).read_text())["status"] == "diverged"


def test_fit_puts_back_the_parameters_of_the_last_finished_epoch():
    be = Backend("numpy", "float64")
    rng = np.random.default_rng(0)
    x, y = prepare_arrays(rng.random((60, 5)), rng.integers(0, 3, 60), be)
    net = MLP([5, 8, 3], "deterministic", be, seed=0)
    opt = SGD(net.params(), 1e-2, be)
    train(net, opt, x, y, epochs=1, batch_size=10, progress=False)
    after_one = net.state()
    with pytest.raises(TrainingDiverged, match="parameters") as info, np.errstate(all="ignore"):
        train(net, SGD(net.params(), 1e300, be), x, y, epochs=3, batch_size=10, progress=False)
    assert "lower the learning rate" in str(info.value)
    for key, value in net.state().items():
        np.testing.assert_array_equal(value, after_one[key])


# -- float32 that never silently stalls --------------------------------------------------------
CORNERS = [(c, rho, s0) for c in (1e-4, 1e6) for rho in (0.1, 4.0) for s0 in (1e-6, 1.0)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("c, rho, sigma_init", CORNERS)
def test_sigma_moves_at_the_extreme_corners_of_the_options(dtype, c, rho, sigma_init):
    be = Backend("numpy", dtype)
    rng = np.random.default_rng(1)
    x, y = prepare_arrays(rng.random((40, 12)), rng.integers(0, 3, 40), be)
    net = MLP([12, 6, 3], "gaussian", be, seed=0, sigma_init=sigma_init)
    opt = Adam(net.params(), 1e-2, be)
    train(net, opt, x, y, epochs=1, batch_size=10, costs=[PowerLawCost(c, rho), L1Cost(1e-4)], progress=False)
    phi0 = float(np.log(np.expm1(sigma_init)))
    phi = np.concatenate([be.to_numpy(layer.phi.value).ravel() for layer in net.synaptic])
    assert np.isfinite(phi).all()
    assert np.abs(phi - phi0).max() > 1e-3                 # four steps of about lr = 1e-2 each
    for state in opt.m + opt.v:
        assert np.isfinite(be.to_numpy(state)).all()


def test_adam_keeps_its_moments_for_gradients_beyond_float32_squares():
    """|g| = 1e30: g^2 overflows float32, yet the step is Adam's (about lr, sign of g)."""
    be = Backend("numpy", "float32")
    net = MLP([3, 2], "deterministic", be, seed=0)
    p = net.params()[0]
    opt = Adam([p], 1e-3, be)
    before = be.to_numpy(p.value).copy()
    for _ in range(3):
        p.grad[...] = 1e30
        opt.step()
    np.testing.assert_allclose(before - be.to_numpy(p.value), 3e-3, rtol=1e-4)
    assert np.isfinite(be.to_numpy(opt.effective_lr(p))).all()


# -- entry points check their inputs ------------------------------------------------------------
@pytest.fixture
def small():
    be = Backend("numpy", "float64")
    rng = np.random.default_rng(0)
    x, y = prepare_arrays(rng.random((20, 4)), rng.integers(0, 3, 20), be)
    return be, x, y, MLP([4, 3], "gaussian", be, seed=0)


def test_train_refuses_non_finite_inputs_by_name(small):
    be, x, y, net = small
    x = x.copy()
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        train(net, make_optimizer(net, "adam", 1e-3), x, y, epochs=1, batch_size=5, progress=False)
    with pytest.raises(ValueError, match="x contains NaN"):
        evaluate(net, x, y)


@pytest.mark.parametrize("labels, message", [(np.full(20, 3), "must lie in 0..2"), (np.full(20, 0.5), "integer")])
def test_train_refuses_labels_outside_the_classes(small, labels, message):
    be, x, _, net = small
    with pytest.raises(ValueError, match=message):
        train(net, make_optimizer(net, "adam", 1e-3), x, be.asarray(labels), epochs=1, batch_size=5,
              progress=False)


def test_per_member_hyperparameters_need_one_value_per_member():
    be = Backend("numpy", "float64")
    rng = np.random.default_rng(0)
    x, y = prepare_arrays(rng.random((20, 4)), rng.integers(0, 3, 20), be)
    net = MLP([4, 3], "gaussian", be, seed=[0, 1, 2], ensemble=3)
    with pytest.raises(ValueError, match="PowerLawCost c has 2 values, but the network is an ensemble of 3"):
        train(net, Adam(net.params(), 1e-3, be), x, y, epochs=1, batch_size=5,
              costs=[PowerLawCost([1e-2, 1e-3], 0.5)], progress=False)
    with pytest.raises(ValueError, match="Adam lr has 4 values"):
        train(net, Adam(net.params(), [1e-3] * 4, be), x, y, epochs=1, batch_size=5, progress=False)


def test_mlp_refuses_a_negative_seed():
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        MLP([4, 3], seed=-1)


# -- options -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["--epochs", "0"], "--epochs must be >= 1, got 0"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0"),
    (["--lr", "nan"], "--lr"),
])
def test_an_explicit_value_is_never_replaced_and_errors_name_the_option(tmp_path, capsys, args, message):
    try:
        code = main([*TRAIN, *args, "--out", str(tmp_path / "o")])
    except SystemExit as stop:                  # argparse's own error for a value it cannot read
        code = stop.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_missing_backend_is_one_line(tmp_path, capsys):
    if "cupy" in sys.modules or Path("/dev/nvidia0").exists():
        pytest.skip("CuPy may be usable here")
    assert main([*TRAIN, "--backend", "cupy", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--backend" in err and "cupy" in err


def test_a_params_file_from_another_run_is_refused_by_its_reader(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--synapse", "bernoulli", "--sizes", "784,8,10", "--train-limit", "200", "--epochs", "1",
                 "--no-progress", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    (out / "results.json").write_text(json.dumps(dict(results, run_id="another-run")))
    assert main(["analyse", "--params", str(out / "params.npz"), "--out", str(tmp_path / "a"), "--no-progress"]) == 2
    assert "mixes files of two runs" in capsys.readouterr().err
