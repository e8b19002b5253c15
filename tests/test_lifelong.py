"""Lifelong learning (MODEL.md §B5): task builders, methods, resume and the demos."""
from __future__ import annotations

import argparse
import csv
import importlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from minisyn.experiments import kit
from minisyn.experiments import lifelong as L
from minisyn.train import TrainingDiverged

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(hidden=(16,), epochs=1, batch_size=20, fisher_samples=10, bgd_samples=2, eval_every=2)


@pytest.fixture(scope="module")
def data():
    """A few hundred embedded digits (all ten classes), host arrays."""
    return kit.prepare_data("embedded", train_limit=300, test_limit=150, seed=0).arrays()


# -- task builders ---------------------------------------------------------------------------
def test_split_tasks_pairs_and_labels():
    rng = np.random.default_rng(0)
    y, yt = rng.integers(0, 10, 400), rng.integers(0, 10, 100)
    tasks = L.split_tasks(y, yt)
    assert len(tasks) == 5
    for (a, b), t in zip(L.SPLIT_PAIRS, tasks):
        for idx, lab, src in ((t.train_idx, t.train_y, y), (t.test_idx, t.test_y, yt)):
            assert set(np.unique(src[idx])) == {a, b}
            assert set(np.unique(lab)) <= {0, 1}
            np.testing.assert_array_equal(lab, (src[idx] == b).astype(int))
            assert idx.size == np.isin(src, (a, b)).sum()     # every example of the pair
        assert t.perm is None
    assert [t.name for t in tasks] == ["0/1", "2/3", "4/5", "6/7", "8/9"]


def test_permutations_fixed_per_seed():
    p1 = L.permutations(4, 784, seed=3)
    p2 = L.permutations(4, 784, seed=3)
    p3 = L.permutations(4, 784, seed=4)
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)
    for p in p1:
        np.testing.assert_array_equal(np.sort(p), np.arange(784))
    np.testing.assert_array_equal(p1[0], np.arange(784))              # task 1: the original images
    assert not np.array_equal(p1[1], p3[1]) and not np.array_equal(p1[1], p1[2])
    q = L.permutations(4, 784, seed=3, permute_first=True)
    assert not np.array_equal(q[0], np.arange(784))
    tasks = L.permuted_tasks(np.arange(20) % 10, np.arange(10), 3, 784, seed=3)
    assert tasks[0].perm is None and len(tasks) == 3
    np.testing.assert_array_equal(tasks[2].perm, p1[2])


def test_continuous_schedule_linear():
    S, T, K = 20, 8, 3
    sh = L.continuous_schedule(K, S, T)
    assert sh.shape == (K * S, K)
    np.testing.assert_allclose(sh.sum(axis=1), 1.0)
    for k in range(K - 1):
        steps = (k + 1) * S - T // 2 + np.arange(T)
        new = sh[steps, k + 1]
        np.testing.assert_allclose(new, np.linspace(0, 1, T))           # 0 -> 1 linearly
        np.testing.assert_allclose(sh[steps, k], 1 - new)
        assert sh[steps[0] - 1, k] == 1.0 and sh[steps[-1] + 1, k + 1] == 1.0
    assert L.transition_starts(K, S, T) == [S - T // 2, 2 * S - T // 2, K * S]
    abrupt = L.continuous_schedule(K, S, 0)
    np.testing.assert_array_equal(abrupt.argmax(axis=1), np.arange(K * S) // S)


def test_batch_stream_epochs_and_mixing():
    tasks = L.split_tasks(np.arange(100) % 10, np.arange(10))
    rng = np.random.default_rng(0)
    shares = np.tile([1.0, 0, 0, 0, 0], (2 * (20 // 5), 1))          # 2 epochs of task 1, batch 5
    seen = np.concatenate([rows for b in L.batch_stream(tasks, shares, 5, rng) for k, rows in b])
    np.testing.assert_array_equal(np.bincount(seen), np.full(20, 2))   # every example twice
    mixed = list(L.batch_stream(tasks, np.array([[0.3, 0.7, 0, 0, 0]]), 10, rng))[0]
    assert [(k, len(r)) for k, r in mixed] == [(0, 3), (1, 7)]


# -- methods ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", list(L.METHODS))
def test_each_method_split(method, data):
    r = L.run_one("split", method, 0, *data, lr=0.05, backend="strict", **TINY)
    m = np.array(r["matrix"])
    assert m.shape == (5, 5) and np.all((m >= 0) & (m <= 1))
    assert 0 <= r["final_mean"] <= 1 and r["final_mean"] == pytest.approx(m[-1].mean())
    c = r["first_task"]
    assert len(c["step"]) == len(c["acc"]) >= 2 and c["step"][-1] == r["steps"]
    assert np.all(np.diff(c["task"]) >= 0) and c["task"][-1] == pytest.approx(5.0)
    assert (r["mean_p"] is not None) == (method in L.BERNOULLI_METHODS)


@pytest.mark.parametrize("protocol,method", [("permuted", "presynaptic"), ("permuted", "ewc"),
                                             ("continuous", "ghost"), ("continuous", "bgd")])
def test_permuted_protocols(protocol, method, data):
    r = L.run_one(protocol, method, 1, *data, n_tasks=3, lr=0.05, backend="numpy", **TINY)
    m = np.array(r["matrix"])
    assert m.shape == (3, 3) and np.all((m >= 0) & (m <= 1))


def test_ghost_releases_at_half_and_p_evolves(data):
    from minisyn.layers import BernoulliLinear

    r = L.run_one("split", "ghost", 0, *data, lr=0.05, backend="numpy", **TINY)
    assert r["mean_p"] != pytest.approx(0.25)                         # p moved
    net, _, _ = L.make_method("ghost", [784, 8, 2], __import__("minisyn.backend").backend.get_backend("numpy"), 0, 0.1)
    assert all(isinstance(la, BernoulliLinear) and la.release_p == 0.5 for la in net.synaptic)
    net, _, _ = L.make_method("no-consolidation", [784, 8, 2], net.be, 0, 0.1)


def test_rule_settings():
    from minisyn.backend import get_backend

    be = get_backend("numpy")
    assert L.LIFELONG_RULE == dict(d_up=0.0520, d_down=0.0516, g_lim=1e-3, p_min=0.25, p_freeze=0.9353,
                                   lr_factor=True)
    assert L.PAPER_LR["split"] == 1e-3 and L.PAPER_LR["permuted"] == 1e-2
    for name, lr_factor, freeze in (("presynaptic", True, 0.9353), ("no-consolidation", False, 1.0)):
        net, step, _ = L.make_method(name, [784, 8, 2], be, 0, 0.1)
        rule = step.__closure__ and [c.cell_contents for c in step.__closure__
                                     if type(c.cell_contents).__name__ == "PresynapticRule"][0]
        assert rule.lr_factor is lr_factor and rule.p_freeze == freeze


# -- the effect of the quick presets (Figs. 4c, B5) -------------------------------------------
@pytest.mark.parametrize("protocol,margin", [("split", 0.025), ("permuted", 0.015), ("continuous", 0.015)])
def test_consolidation_beats_sgd_at_each_protocols_quick_preset(protocol, margin):
    """The default of each protocol shows Fig. 4c: presynaptic consolidation ends with a higher mean
    accuracy over the tasks than plain SGD at the same learning rate (the quick preset's seeds, data
    and scoring; the first-task curve is evaluated only at the end, which leaves training as it is)."""
    args = _parse(["--protocol", protocol])
    kw = dict(L.settings_from_args(args), eval_every=10_000)
    seeds = range(args.seed, args.seed + args.n_seeds)
    data = kit.prepare_data("embedded", inputs=args.inputs).arrays()
    final = {m: np.mean([L.run_one(protocol, m, s, *data, backend="numpy", **kw)["final_mean"] for s in seeds])
             for m in ("presynaptic", "sgd")}
    assert final["presynaptic"] > final["sgd"] + margin, final


def test_ewc_trains_at_the_split_quick_preset_and_keeps_the_first_task_better_than_sgd():
    """The split preset's lam keeps EWC's explicit penalty step stable in all three seeds."""
    args = _parse([])
    kw = dict(L.settings_from_args(args), eval_every=10_000)
    data = kit.prepare_data("embedded", inputs=args.inputs).arrays()
    first = {m: [L.run_one("split", m, s, *data, backend="numpy", **kw)["matrix"][-1][0] for s in range(3)]
             for m in ("ewc", "sgd")}
    assert np.mean(first["ewc"]) > np.mean(first["sgd"]) + 0.02, first


# -- resume ----------------------------------------------------------------------------------
def test_resume_skips_finished_runs(data, tmp_path, monkeypatch):
    kw = dict(TINY, lr=0.05)
    first = L.run_lifelong(tmp_path, "split", ["sgd", "presynaptic"], [0, 1], data, progress=False, **kw)
    files = sorted(p.name for p in (tmp_path / "runs").glob("*.json"))
    assert files == ["split_presynaptic_seed0.json", "split_presynaptic_seed1.json",
                     "split_sgd_seed0.json", "split_sgd_seed1.json"]

    def boom(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(L.run, "run_one", boom)
    again = L.run_lifelong(tmp_path, "split", ["sgd", "presynaptic"], [0, 1], data, progress=False, **kw)
    for m in first:
        assert [r["matrix"] for r in again[m]] == [r["matrix"] for r in first[m]]
    with pytest.raises(ValueError, match="other settings"):
        L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False, **dict(kw, lr=0.01))
    # a half-finished sweep: only the missing run is trained
    (tmp_path / "runs" / "split_sgd_seed1.json").unlink()
    calls = []
    monkeypatch.setattr(L.run, "run_one", lambda *a, **k: calls.append(a[:3]) or dict(first["sgd"][1]))
    L.run_lifelong(tmp_path, "split", ["sgd", "presynaptic"], [0, 1], data, progress=False, **kw)
    assert calls == [("split", "sgd", 1)]


def test_method_specific_settings_only_invalidate_their_methods(data, tmp_path, monkeypatch):
    """A deterministic run is evaluated the same under every eval_mode, so it is reused;
    a Bernoulli run saved under another eval_mode is refused; EWC/BGD settings touch only those."""
    kw = dict(TINY, lr=0.05)
    first = L.run_lifelong(tmp_path, "split", ["sgd", "ghost"], [0], data, progress=False, **kw)
    monkeypatch.setattr(L.run, "run_one", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    again = L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False,
                           **dict(kw, eval_mode="predictive"))
    assert again["sgd"][0]["matrix"] == first["sgd"][0]["matrix"]
    with pytest.raises(ValueError, match="other settings"):
        L.run_lifelong(tmp_path, "split", ["ghost"], [0], data, progress=False, **dict(kw, eval_mode="mean"))
    # baseline-only settings leave the other methods' runs valid
    again = L.run_lifelong(tmp_path, "split", ["sgd", "ghost"], [0], data, progress=False,
                           **dict(kw, ewc_lambda=5.0, bgd_eta=3.0, fisher_samples=7))
    assert again["ghost"][0]["matrix"] == first["ghost"][0]["matrix"]
    with pytest.raises(ValueError, match="other settings"):
        L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False, **dict(kw, epochs=2))


def test_runs_saved_by_older_minisyn_resume(data, tmp_path, monkeypatch):
    """Old records keep their settings under "config" and lack the data settings: they resume."""
    kw = dict(TINY, lr=0.05)
    first = L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False, **kw)
    path = tmp_path / "runs" / "split_sgd_seed0.json"
    rec = json.loads(path.read_text())
    old = {k: v for k, v in rec.items() if k not in ("settings", "key")}
    old["config"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
    path.write_text(json.dumps(old))
    monkeypatch.setattr(L.run, "run_one", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    data_settings = dict(dataset="embedded", train_limit=None, test_limit=None, subset_seed=None)
    again = L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False, data_settings=data_settings, **kw)
    assert again["sgd"][0]["matrix"] == first["sgd"][0]["matrix"]
    with pytest.raises(ValueError, match="other settings"):
        L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False, data_settings=data_settings,
                       **dict(kw, batch_size=10))


def test_data_settings_are_saved_and_checked(data, tmp_path):
    kw = dict(TINY, lr=0.05)
    ds = dict(dataset="embedded", train_limit=300, test_limit=150, subset_seed=0)
    L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False, data_settings=ds, **kw)
    saved = json.loads((tmp_path / "runs" / "split_sgd_seed0.json").read_text())["settings"]
    assert saved["train_limit"] == 300 and saved["dataset"] == "embedded" and saved["lr"] == 0.05
    with pytest.raises(ValueError, match="train_limit"):
        L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False,
                       data_settings=dict(ds, train_limit=200), **kw)


def test_runs_saved_before_inputs_existed_count_as_unit_pixels(data, tmp_path, monkeypatch):
    kw = dict(TINY, lr=0.05)
    ds = dict(dataset="embedded", train_limit=None, test_limit=None, subset_seed=None)
    L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False, data_settings=ds, **kw)
    monkeypatch.setattr(L.run, "run_one", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    again = L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False,
                           data_settings=dict(ds, inputs="unit"), **kw)
    assert again["sgd"][0]["status"] == "finished"
    with pytest.raises(ValueError, match="inputs"):
        L.run_lifelong(tmp_path, "split", ["sgd"], [0], data, progress=False,
                       data_settings=dict(ds, inputs="standardized"), **kw)


def test_run_one_trains_through_fit_and_raises_training_diverged(data, monkeypatch):
    """The one training loop (minisyn.train.fit) runs each run; a diverging loss is TrainingDiverged."""
    from minisyn import train

    calls = []
    monkeypatch.setattr(L.run, "fit", lambda *a, **k: calls.append(k) or train.fit(*a, **k))
    r = L.run_one("split", "sgd", 0, *data, lr=0.05, backend="numpy", **TINY)
    assert len(calls) == 1 and calls[0]["epochs"] == 1 and calls[0]["check_every"] == TINY["eval_every"]
    assert calls[0]["steps_per_epoch"] == r["steps"]
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="sgd, seed 0: the loss became non-finite"):
        L.run_one("split", "sgd", 0, *data, backend="numpy", **dict(TINY, lr=1e8))


def test_predictive_eval_averages_release_samples(data):
    """'predictive' averages the softmax of PREDICTIVE_SAMPLES release samples: with every p = 1
    (no noise) it equals the mean-weight accuracy; with p < 1 it differs from one sample."""
    from minisyn.backend import get_backend

    be = get_backend("numpy")
    x, y, xt, yt = data
    tasks = L.build_tasks("split", y, yt, x.shape[1], seed=0)
    td = L.DeviceTasks(be, x, xt, tasks)
    net, _, _ = L.make_method("presynaptic", [x.shape[1], 16, 2], be, 0, 0.1)
    counted = []
    orig = net.forward
    net.forward = lambda *a, **k: counted.append(a[1]) or orig(*a, **k)
    td.accuracy(net, 0, "predictive")
    n_chunks = -(-len(tasks[0].test_idx) // 2000)
    assert counted == ["sample"] * (L.PREDICTIVE_SAMPLES * n_chunks)
    net.forward = orig
    for layer in net.synaptic:
        layer.p[...] = 1.0
    assert td.accuracy(net, 0, "predictive") == td.accuracy(net, 0, "mean")
    with pytest.raises(ValueError, match="eval_mode"):
        L.run_one("split", "ghost", 0, *data, lr=0.05, backend="numpy", **dict(TINY, eval_mode="median"))


def test_report_writes_finite_outputs(data, tmp_path):
    res = L.run_lifelong(tmp_path, "split", ["sgd", "ghost"], [0, 1], data, progress=False, **dict(TINY, lr=0.05))
    table = L.report(tmp_path, "split", res, quiet=True)
    assert "EWC" not in table and "ghost" in table
    rows = list(csv.DictReader((tmp_path / "split_summary.csv").read_text().splitlines()))
    assert [r["method"] for r in rows] == ["sgd", "ghost"]
    assert all(np.isfinite(float(r["final_mean"])) and np.isfinite(float(r["final_sd"])) for r in rows)
    for stem in ("split_matrices", "split_first_task_and_final"):
        for ext in ("png", "pdf"):
            assert (tmp_path / f"{stem}.{ext}").stat().st_size > 1000


def _fake_run(method, seed, acc, final):
    curve = {"step": [0, 10, 20], "task": [0.0, 1.0, 2.0], "acc": acc}
    return {"method": method, "seed": seed, "status": "finished", "matrix": [[acc[1], 0.5], [acc[2], final]],
            "first_task": curve, "final_mean": (acc[2] + final) / 2, "seconds": 1.0}


def test_summary_figure_clips_bands_to_accuracies_and_starts_bars_at_zero(monkeypatch, tmp_path):
    """Two seeds far apart near 1.0: the SD band would pass 1; it is drawn within [0, 1]. The bar
    axis runs from 0 and a method with only diverged runs is named, not drawn."""
    figs = []
    report_module = importlib.import_module("minisyn.experiments.lifelong.report")   # L.report is the function
    monkeypatch.setattr(report_module, "save_figure", lambda fig, *a, **k: figs.append(fig))
    results = {"sgd": [_fake_run("sgd", 0, [0.5, 1.0, 1.0], 0.9), _fake_run("sgd", 1, [0.5, 0.6, 0.98], 0.92)],
               "ewc": [{"method": "ewc", "seed": 0, "status": "diverged", "error": "ewc, seed 0: ...",
                        "seconds": 0.5}]}
    L.plot_summary(results, tmp_path / "s", "split")
    curves, bars = figs[0].axes[:2]
    for band in curves.collections:
        ys = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
        assert ys.min() >= 0 and ys.max() <= 1
    assert bars.get_ylim()[0] == 0
    assert any(t.get_text() == "diverged" for t in bars.texts)
    rows = L.summarise(results)
    assert [(r["method"], r["n_seeds"], r["n_diverged"]) for r in rows] == [("sgd", 2, 0), ("ewc", 0, 1)]
    assert "diverged" in L.format_table(rows, "split")


# -- command line and demos ------------------------------------------------------------------
TINY_ARGS = ["--train-limit", "300", "--test-limit", "150", "--sizes", "16", "--epochs-per-task", "1",
             "--batch-size", "20", "--n-seeds", "2", "--fisher-samples", "10", "--bgd-samples", "2",
             "--no-progress"]


def _parse(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    L.register(sub)
    return parser.parse_args(["lifelong", *argv])


def test_cli_defaults_are_the_protocols_quick_preset_and_paper_its_own(tmp_path):
    for protocol in L.PROTOCOLS:
        args = _parse(["--protocol", protocol])
        assert args.methods == list(L.METHODS) and args.dataset == "embedded"
        kw = L.settings_from_args(args)
        q = L.QUICK_SETTINGS[protocol]
        assert kw["hidden"] == q["sizes"] and kw["lr"] == q["lr"] and kw["ewc_lambda"] == q["ewc_lambda"]
        assert args.inputs == q["inputs"] and args.n_seeds == q["n_seeds"] and kw["eval_mode"] == q["eval_mode"]
    args = _parse(["--paper", "--protocol", "permuted"])
    paper = L.settings_from_args(args)
    assert paper["hidden"] == [200, 200] and paper["epochs"] == 10 and paper["batch_size"] == 100
    assert paper["lr"] == 1e-2 and paper["n_tasks"] == 10 and paper["eval_mode"] == "predictive"
    assert args.n_seeds == 5 and args.inputs == "standardized"
    assert L.settings_from_args(_parse(["--paper"]))["lr"] == 1e-3
    given = L.settings_from_args(_parse(["--paper", "--lr", "0.2", "--eval-mode", "sample", "--inputs", "unit"]))
    assert given["lr"] == 0.2 and given["eval_mode"] == "sample"
    with pytest.raises(kit.CLIError, match="unknown method"):
        L.run_cli(_parse(["--methods", "sgd,adam", "--out", str(tmp_path)]))


@pytest.mark.parametrize("option", ["--epochs-per-task", "--batch-size", "--n-tasks", "--fisher-samples",
                                    "--bgd-samples", "--n-seeds", "--eval-every", "--sizes"])
def test_cli_refuses_zero_naming_the_option(option, tmp_path):
    """An explicit 0 is not replaced by the default: it is an error that names the option."""
    with pytest.raises(kit.CLIError, match=f"{option} must be >= 1, got 0"):
        L.run_cli(_parse([option, "0", "--out", str(tmp_path)]))


def test_a_diverging_method_is_reported_saved_and_resumed_while_the_others_finish(tmp_path, capsys, monkeypatch):
    """EWC with an enormous lam overshoots at its first penalised step: the command still ends
    with 0, the table and CSV say 'diverged', the other method's results are kept and plotted,
    and a rerun resumes the diverged runs as diverged."""
    argv = [*TINY_ARGS, "--methods", "sgd,ewc", "--ewc-lambda", "1e12", "--out", str(tmp_path)]
    assert L.run_cli(_parse(argv)) == 0
    printed = capsys.readouterr().out
    assert "diverged" in printed and "lower --ewc-lambda" in printed
    rows = {r["method"]: r for r in csv.DictReader((tmp_path / "split_summary.csv").read_text().splitlines())}
    assert rows["ewc"]["n_seeds"] == "0" and rows["ewc"]["n_diverged"] == "2" and rows["ewc"]["final_mean"] == ""
    assert rows["sgd"]["n_seeds"] == "2" and 0.5 < float(rows["sgd"]["final_mean"]) <= 1
    saved = json.loads((tmp_path / "runs" / "split_ewc_seed0.json").read_text())
    assert saved["status"] == "diverged" and "non-finite" in saved["error"]
    for stem in ("split_matrices", "split_first_task_and_final"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 1000
    monkeypatch.setattr(L.run, "run_one", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    assert L.run_cli(_parse(argv)) == 0
    assert "ewc diverged in 2 of 2" in capsys.readouterr().out


def test_every_method_diverging_still_writes_the_table(tmp_path, capsys):
    with np.errstate(all="ignore"):
        assert L.run_cli(_parse([*TINY_ARGS, "--methods", "sgd", "--n-seeds", "1", "--lr", "1e8",
                                 "--out", str(tmp_path)])) == 0
    assert "lower --lr" in capsys.readouterr().out
    assert (tmp_path / "split_summary.csv").exists() and (tmp_path / "split_first_task_and_final.png").exists()


def test_help_prints_each_default_once():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    text = L.register(sub).format_help()
    assert "(default: None)" not in text and "--test-limit" in text and "--val-fraction" not in text
    for line in text.split("\n  -"):
        assert line.count("default") <= 1, line


def _load_demo(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "demos" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name,methods", [("paper_b_fig4_lifelong", ["presynaptic", "sgd", "ewc", "bgd"]),
                                          ("paper_b_fig5a_ablations", ["presynaptic", "no-consolidation", "ghost"])])
def test_demo_quick_tiny(name, methods, tmp_path, capsys):
    demo = _load_demo(name)
    assert demo.main(["--out", str(tmp_path), *TINY_ARGS]) == 0
    rows = list(csv.DictReader((tmp_path / "split_summary.csv").read_text().splitlines()))
    assert [r["method"] for r in rows] == methods
    for r in rows:
        assert r["n_seeds"] == "2" and 0 <= float(r["final_mean"]) <= 1 and np.isfinite(float(r["final_sd"]))
    summary = json.loads((tmp_path / "split_summary.json").read_text())
    assert len(summary["rows"]) == len(methods)
    for stem in ("split_matrices", "split_first_task_and_final"):
        assert (tmp_path / f"{stem}.png").exists() and (tmp_path / f"{stem}.pdf").exists()
    assert "final mean accuracy" in capsys.readouterr().out


def test_demo_full_uses_paper_settings_and_authors_evaluation(monkeypatch):
    demo = _load_demo("paper_b_fig4_lifelong")
    seen = {}

    def spy(args):
        L.settings_from_args(args)
        seen.update(vars(args))
        return 0

    monkeypatch.setattr(L.command, "run_cli", spy)
    assert demo.main(["--full", "--data-dir", "somewhere"]) == 0
    assert seen["paper"] and seen["n_seeds"] == 5 and seen["dataset"] == "mnist"
    assert seen["eval_mode"] == "predictive"
    assert demo.main(["--full", "--eval-mode", "mean"]) == 0          # an explicit choice wins
    assert seen["eval_mode"] == "mean"
