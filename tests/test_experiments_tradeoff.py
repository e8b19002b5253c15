"""The tradeoff sweep (Figs. 2, 3) and the importance analysis (Fig. 5): tiny end-to-end runs."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from minisyn.backend import Backend
from minisyn.experiments import importance, kit, tradeoff

from helpers import MNIST_DIR, needs_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(sizes=(784, 16, 10), epochs=1, batch_size=20, train_limit=100, lr=5e-3, lam=1e-4,
            sigma_init=1e-2, eval_samples=2, progress=False, log=lambda m: None)


def _demo(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "demos" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sweep_writes_runs_csv_figures_and_resumes(tmp_path, monkeypatch):
    be = Backend("numpy", "float32")
    said = []
    res = tradeoff.run_sweep(tmp_path, rhos=[0.5], cs=[1e-2, 1e1], backend=be, **dict(TINY, log=said.append))
    assert res["trained"] == 4 and res["skipped"] == 0
    # 5 steps: sigma cannot follow c, and the sweep says so in one line with the options that fix it
    (flat,) = [m for m in said if "does not follow c" in m]
    assert "--epochs" in flat and "--adam-b2" in flat and len(res["summary"]["sigma_bar_not_following_c"]) == 2
    runs = sorted((tmp_path / "runs").glob("*.json"))
    assert len(runs) == 4
    for rec in res["records"]:
        vals = [rec["sigma_bar"], rec["reliability_cost"], *rec["test_accuracy"].values()]
        assert np.all(np.isfinite(vals)), rec
        assert 0 <= rec["test_accuracy"]["sampled"] <= 1 and rec["sigma_bar"] > 0
    assert {r["noise"] for r in res["records"]} == {"heterogeneous", "homogeneous"}
    with open(tmp_path / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(np.isfinite(float(r["acc_sampled"])) for r in rows)
    for stem in ("fig2_accuracy_sigma_vs_c", "fig3_tradeoffs"):
        for ext in ("png", "pdf"):
            assert (tmp_path / f"{stem}.{ext}").stat().st_size > 0

    # resume: the same call trains nothing and leaves the run files untouched
    mtimes = {p.name: p.stat().st_mtime_ns for p in runs}
    calls = []
    monkeypatch.setattr(tradeoff, "train_ensemble", lambda *a, **k: calls.append(1) or [])
    res2 = tradeoff.run_sweep(tmp_path, rhos=[0.5], cs=[1e-2, 1e1], backend=be, **TINY)
    assert res2["trained"] == 0 and not calls
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")} == mtimes
    assert [r["key"] for r in res2["records"]] == [r["key"] for r in res["records"]]
    # other settings into the same folder are refused, not mixed
    with pytest.raises(ValueError, match="other settings"):
        tradeoff.run_sweep(tmp_path, rhos=[0.5], cs=[1e-2, 1e1], backend=be, **dict(TINY, epochs=2))


def test_standardized_inputs_are_part_of_the_resume_key(tmp_path, monkeypatch):
    be = Backend("numpy", "float32")
    res = tradeoff.run_sweep(tmp_path, rhos=[0.5], cs=[1e-2], noises=("homogeneous",), backend=be,
                             inputs="standardized", plot=False, **TINY)
    (rec,) = res["records"]
    assert rec["settings"]["inputs"] == "standardized" and np.isfinite(rec["sigma_bar"])
    with pytest.raises(ValueError, match="other settings"):
        tradeoff.run_sweep(tmp_path, rhos=[0.5], cs=[1e-2], noises=("homogeneous",), backend=be, plot=False,
                           inputs="unit", **TINY)
    with pytest.raises(ValueError, match="inputs must be one of"):
        tradeoff.run_sweep(tmp_path / "x", rhos=[0.5], cs=[1e-2], backend=be, inputs="zscore", **TINY)
    # a run saved before the settings existed counts as [0, 1] pixels and Adam's b2 = 0.999, and is reused
    path = next((tmp_path / "runs").glob("*.json"))
    old = json.loads(path.read_text())
    del old["settings"]["inputs"], old["settings"]["adam_b2"]
    path.write_text(json.dumps(old))
    monkeypatch.setattr(tradeoff, "train_ensemble", lambda *a, **k: pytest.fail("retrained a saved run"))
    again = tradeoff.run_sweep(tmp_path, rhos=[0.5], cs=[1e-2], noises=("homogeneous",), backend=be,
                               plot=False, **dict(TINY, inputs="unit", adam_b2=0.999))
    assert again["trained"] == 0


def test_quick_sweep_shows_accuracy_falling_sigma_rising_and_heterogeneous_ahead(tmp_path):
    """Fig. 2 at the quick preset, smaller (784-20-10, rho 1/2, three c, 3 epochs; ~3 s): accuracy
    falls and sigma_bar rises with c in both noise settings, and heterogeneous noise keeps its
    accuracy where homogeneous noise loses it."""
    res = tradeoff.run_sweep(tmp_path, rhos=[0.5], cs=[1e-3, 1e-1, 1e1], sizes=(784, 20, 10), epochs=3,
                             backend=Backend("numpy", "float32"), plot=False, progress=False, log=lambda m: None)
    acc, sbar = {}, {}
    for noise in tradeoff.NOISES:
        rows = sorted((r for r in res["records"] if r["noise"] == noise), key=lambda r: r["c"])
        acc[noise] = np.array([r["test_accuracy"]["sampled"] for r in rows])
        sbar[noise] = np.array([r["sigma_bar"] for r in rows])
        assert np.all(np.diff(sbar[noise]) > 0) and sbar[noise][-1] > 3 * sbar[noise][0], (noise, sbar[noise])
        assert acc[noise][0] > acc[noise][-1] + 0.1, (noise, acc[noise])
    assert acc["heterogeneous"][0] > 0.8                       # it learns at small c
    assert np.max(acc["heterogeneous"] - acc["homogeneous"]) > 0.25, acc
    assert res["summary"]["sigma_bar_not_following_c"] == []


def _sweep_parser_recording(monkeypatch):
    """The sweep's parser, with ``run_sweep`` replaced by one that records its arguments in ``seen``."""
    import argparse

    parser = argparse.ArgumentParser()
    tradeoff.register(parser.add_subparsers(dest="command"))
    seen = {}
    monkeypatch.setattr(tradeoff, "run_sweep", lambda out, **kw: seen.update(kw) or {"records": [], "trained": 0,
                                                                                     "skipped": 0})
    return parser, seen


def test_sweep_presets_fill_only_the_options_not_given(tmp_path, monkeypatch):
    parser, seen = _sweep_parser_recording(monkeypatch)
    args = parser.parse_args(["sweep", "--out", str(tmp_path / "q")])
    assert args.func(args) == 0
    q = tradeoff.QUICK_SETTINGS
    assert {k: seen[k] for k in ("rhos", "c_max", "n_c", "epochs", "lr", "sigma_init", "adam_b2", "inputs")} == \
        {k: q[k] for k in ("rhos", "c_max", "n_c", "epochs", "lr", "sigma_init", "adam_b2", "inputs")}
    args = parser.parse_args(["sweep", "--paper", "--epochs", "2", "--adam-b2", "0", "--out", str(tmp_path / "p")])
    assert args.func(args) == 0
    pp = tradeoff.PAPER_SETTINGS
    assert seen["epochs"] == 2 and seen["adam_b2"] == 0.0                 # given: kept, 0 included
    assert seen["n_c"] == pp["n_c"] and seen["lr"] == pp["lr"] and seen["sizes"] == pp["sizes"]


def test_the_authors_preset_sets_what_their_code_does_and_nothing_else(tmp_path, monkeypatch):
    parser, seen = _sweep_parser_recording(monkeypatch)
    args = parser.parse_args(["sweep", "--authors", "--lambda", "0.5", "--out", str(tmp_path / "a")])
    assert args.func(args) == 0
    assert seen["relu_after"] == (False, True, True) and seen["homogeneous_cost"] == "authors"
    assert seen["c_min"] == 1e-4 and seen["c_max"] == 10 ** 3.25 and seen["n_c"] == 30
    assert seen["lam"] == 0.5 and seen["backend"].dtype == np.float64        # given: kept
    changed = {k for k, v in tradeoff.AUTHORS_SETTINGS.items() if tradeoff.PAPER_SETTINGS.get(k, "-") != v}
    assert changed == {"c_min", "c_max", "lam", "relu_after", "homogeneous_cost", "dtype"}
    with pytest.raises(kit.CLIError, match="--paper and --authors"):
        args = parser.parse_args(["sweep", "--authors", "--paper", "--out", str(tmp_path / "b")])
        args.func(args)


def test_the_authors_homogeneous_cost_is_the_single_cost_at_twice_c(tmp_path):
    kw = dict(TINY, sizes=(784, 8, 8, 10), rhos=[0.5], noises=["homogeneous"], relu_after=(False, True, True),
              plot=False, backend=Backend("numpy", "float64"), ensemble_size=2)
    authors = tradeoff.run_sweep(tmp_path / "a", cs=[1e-2, 1e-1], homogeneous_cost="authors", **kw)["records"]
    single = tradeoff.run_sweep(tmp_path / "s", cs=[2e-2, 2e-1], homogeneous_cost="single", **kw)["records"]
    for a, s in zip(authors, single):
        assert a["sigma_bar"] == s["sigma_bar"] and a["test_accuracy"] == s["test_accuracy"]
    plain = tradeoff.run_sweep(tmp_path / "p", cs=[1e-2, 1e-1], homogeneous_cost="single", **kw)["records"]
    assert all(a["sigma_bar"] != p["sigma_bar"] for a, p in zip(authors, plain))
    # sigma_bar over the weights only: a homogeneous network's sigma is one number either way
    assert all(r["sigma_bar_weights"] == pytest.approx(r["sigma_bar"], rel=1e-12) for r in authors)
    with pytest.raises(ValueError, match="relu_after"):
        tradeoff.run_sweep(tmp_path / "x", cs=[1e-2], **dict(kw, relu_after=(True,)))
    saved = json.loads((tmp_path / "a" / "sweep.json").read_text())["settings"]
    assert saved["relu_after"] == [False, True, True] and saved["homogeneous_cost"] == "authors"


def test_sigma_bar_over_the_weights_leaves_the_bias_synapses_out(tmp_path):
    rec = tradeoff.run_sweep(tmp_path, cs=[1e-3], rhos=[0.5], noises=["heterogeneous"], plot=False,
                             **dict(TINY, sigma_init=1e-3, epochs=2))["records"][0]
    assert rec["sigma_bar_weights"] != rec["sigma_bar"]
    assert rec["reliability_cost_weights"] < rec["reliability_cost"]
    row = next(csv.DictReader((tmp_path / "sweep.csv").read_text().splitlines()))
    assert float(row["sigma_bar_weights"]) == rec["sigma_bar_weights"]


def test_standardized_data_are_unit_inputs_shifted_and_scaled():
    be = Backend("numpy", "float64")
    x, y, xt, yt = kit.prepare_data(train_limit=200, seed=1, backend=be).arrays()
    xs, ys, xts, yts = kit.prepare_data(train_limit=200, seed=1, inputs="standardized", backend=be).arrays()
    m, s = x.mean(), x.std()
    np.testing.assert_allclose(xs, (x - m) / s, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(xts, (xt - m) / s, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(ys, y)


def test_a_pixel_that_is_always_zero_gets_no_data_gradient_on_sigma_unless_standardized():
    """Why heterogeneous sigma_bar is inflated on [0, 1] MNIST (docs/tradeoff-and-importance.md)."""
    from minisyn.network import MLP
    from minisyn.losses import one_hot

    be = Backend("numpy", "float64")
    rng = np.random.default_rng(0)
    x = rng.random((30, 6))
    x[:, 0] = 0.0                                     # a dead pixel
    targets = one_hot(rng.integers(0, 3, 30), 3, np, np.float64)
    grads = {}
    for name, xin in (("unit", x), ("standardized", (x - x.mean()) / x.std())):
        net = MLP((6, 5, 3), "gaussian", be, seed=2, sigma_init=0.1)
        net.zero_grad()
        net.objective(xin, targets, 30)               # data term only: no costs
        grads[name] = net.synaptic[0].phi.grad[:, 0]    # phi of the synapses from the dead pixel
    assert np.all(grads["unit"] == 0.0)
    assert np.all(np.abs(grads["standardized"]) > 0)


def test_ensemble_member_equals_lone_network(tmp_path):
    """Member k of an ensemble (its own c and rho) gives the results of that network trained alone."""
    from minisyn.costs import L1Cost, PowerLawCost, reported_reliability_cost, sigma_bar
    from minisyn.network import MLP
    from minisyn.optim import Adam
    from minisyn.train import evaluate, train

    be = Backend("numpy", "float64")
    x, y, xt, yt = kit.prepare_data(train_limit=60, seed=3, backend=be).arrays()
    xt, yt = xt[:200], yt[:200]
    cs, rhos = [1e-2, 3.0], [0.5, 2.0]
    kw = dict(sizes=(784, 8, 10), epochs=1, batch_size=20, lr=1e-2, lam=1e-3, seed=3, eval_samples=3,
              sigma_init=1e-2)
    for noise in tradeoff.NOISES:
        recs = tradeoff.train_ensemble(be, x, y, xt, yt, noise=noise, cs=cs, rhos=rhos, **kw)
        for k in range(2):
            net = MLP(kw["sizes"], "gaussian", be, seed=3, noise=noise, sigma_init=1e-2)
            opt = Adam(net.params(), kw["lr"], be)
            train(net, opt, x, y, epochs=1, batch_size=20, costs=[PowerLawCost(cs[k], rhos[k]), L1Cost(1e-3)],
                  seed=3, progress=False)
            test = evaluate(net, xt, yt, samples=3)
            assert recs[k]["test_accuracy"] == pytest.approx(test, abs=0)
            assert recs[k]["sigma_bar"] == pytest.approx(float(sigma_bar(net.sigmas(), be)), rel=1e-10)
            rel = float(reported_reliability_cost(net.sigmas(), rhos[k], be))
            assert recs[k]["reliability_cost"] == pytest.approx(rel, rel=1e-10)


def test_importance_correlations_and_files(tmp_path):
    be = Backend("numpy", "float32")
    res = importance.run_importance(tmp_path, sizes=(784, 12, 10), epochs=1, extra_epochs=1, train_limit=100,
                                    lr=1e-2, sigma_init=1e-2, backend=be, progress=False, log=lambda m: None)
    assert len(res["correlations"]) == 2
    for row in res["correlations"]:
        for q in importance.QUANTITIES:
            assert np.isfinite(row[q]["rho"]) and -1 <= row[q]["rho"] <= 1 and row[q]["n"] > 2
    layer = res["stats"][0]
    assert layer["fisher"].shape == (12, 784) and np.all(layer["fisher"] >= 0)
    # an input pixel never active gets no gradient: zero Fisher, zero input rate
    dead = layer["input_rate"][0] == 0
    assert dead.any() and np.all(layer["fisher"][:, dead] == 0)
    saved = json.loads((tmp_path / "importance.json").read_text())
    assert set(saved["spearman"]) == {"layer1", "layer2"}
    assert (tmp_path / "importance.npz").exists()
    assert (tmp_path / "fig5_importance.png").stat().st_size > 0 and (tmp_path / "fig5_importance.pdf").exists()


def test_importance_on_standardized_inputs_sees_every_pixel(tmp_path):
    be = Backend("numpy", "float32")
    res = importance.run_importance(tmp_path, sizes=(784, 12, 10), epochs=1, extra_epochs=1, train_limit=100,
                                    lr=1e-2, sigma_init=1e-2, backend=be, progress=False, log=lambda m: None,
                                    inputs="standardized")
    layer = res["stats"][0]
    # a dead pixel is now the constant -m/s: a nonzero input rate and a nonzero gradient
    # (a hidden unit that never fires still gets none: check every pixel's column)
    assert np.all(layer["input_rate"] > 0) and np.all(layer["fisher"].max(axis=0) > 0)
    assert res["correlations"][0]["fisher"]["n"] == int((layer["fisher"] > 0).sum())
    saved = json.loads((tmp_path / "importance.json").read_text())
    assert saved["settings"]["inputs"] == "standardized"


def test_accumulate_importance_records_the_training_steps_it_continues():
    """The accumulation is training (minisyn.train.train, same example order) with reads in
    between: the cross-entropy gradient and input before the costs are added, Adam's learning
    rate after each step. The same steps written out by hand give the same numbers, bit for bit."""
    from minisyn.costs import L1Cost, PowerLawCost
    from minisyn.losses import one_hot
    from minisyn.network import MLP
    from minisyn.optim import Adam

    be = Backend("numpy", "float64")
    x, y = kit.prepare_data(train_limit=70, seed=2, backend=be).arrays()[:2]
    costs = [PowerLawCost(1e-2, 0.5), L1Cost(1e-4)]
    nets = [MLP((784, 6, 10), "gaussian", be, seed=4, sigma_init=1e-2) for _ in range(2)]
    opts = [Adam(net.params(), 1e-2, be) for net in nets]
    stats = importance.accumulate_importance(nets[0], opts[0], x, y, epochs=2, batch_size=20, costs=costs, seed=3)

    net, opt = nets[1], opts[1]
    acc = [{k: 0.0 for k in ("g2", "absg", "x", "lr")} for _ in net.synaptic]
    order_rng, steps = np.random.default_rng(3), 0
    for _ in range(2):
        order = order_rng.permutation(70)
        for s in range(70 // 20):
            idx = order[s * 20:(s + 1) * 20]
            net.zero_grad()
            net.objective(x[idx], one_hot(y[idx], 10, np, be.dtype), 70)
            for layer, a in zip(net.synaptic, acc):
                a["g2"] = a["g2"] + layer.mu.grad ** 2
                a["absg"] = a["absg"] + np.abs(layer.mu.grad)
                a["x"] = a["x"] + np.abs(layer.last_input).mean(axis=0)
            net.add_costs(costs, 70, cached=True)
            opt.step()
            for layer, a in zip(net.synaptic, acc):
                a["lr"] = a["lr"] + opt.effective_lr(layer.mu)
            steps += 1
    for got, layer, a in zip(stats, net.synaptic, acc):
        n_in = layer.n_in
        np.testing.assert_array_equal(got["mu"], layer.mu.value[:, :n_in])
        np.testing.assert_array_equal(got["fisher"], (a["g2"] / steps)[:, :n_in])
        np.testing.assert_array_equal(got["mean_abs_grad"], (a["absg"] / steps)[:, :n_in])
        np.testing.assert_array_equal(got["adam_lr"], (a["lr"] / steps)[:, :n_in])
        np.testing.assert_array_equal(got["input_rate"][0], (a["x"] / steps)[:n_in])


def test_importance_command_refuses_bad_values_and_an_earlier_result(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    importance.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "imp"
    args = parser.parse_args(["importance", "--extra-epochs", "0", "--out", str(out)])
    with pytest.raises(kit.CLIError, match="--extra-epochs must be >= 1"):
        args.func(args)
    out.mkdir()
    (out / "importance.json").write_text("{}")
    args = parser.parse_args(["importance", "--out", str(out), "--no-progress"])
    with pytest.raises(kit.CLIError, match="importance.json already exists"):
        args.func(args)


def test_sweep_command_refuses_bad_values_naming_the_option(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    tradeoff.register(parser.add_subparsers(dest="command"))
    for option, value in (("--workers", "0"), ("--n-c", "0"), ("--epochs", "0"), ("--train-limit", "0")):
        args = parser.parse_args(["sweep", option, value, "--out", str(tmp_path / "s")])
        with pytest.raises(kit.CLIError, match=f"{option} must be >= 1"):
            args.func(args)
    args = parser.parse_args(["sweep", "--sizes", "700,8,10", "--train-limit", "40", "--out", str(tmp_path / "s"),
                              "--no-progress"])
    with pytest.raises(kit.CLIError, match="--sizes starts with 700 inputs"):
        args.func(args)
    with pytest.raises(SystemExit):                    # the sweep measures on the test set: no validation split
        parser.parse_args(["sweep", "--val-fraction", "0.1"])


def test_cli_subcommands_registered(tmp_path):
    from minisyn.cli import main

    out = tmp_path / "sw"
    assert main(["sweep", "--sizes", "784,8,10", "--epochs", "1", "--train-limit", "40", "--n-c", "1",
                 "--rho", "2/3", "--noise", "homogeneous", "--eval-samples", "1", "--out", str(out),
                 "--no-progress"]) == 0
    assert len(list((out / "runs").glob("*.json"))) == 1
    assert main(["importance", "--sizes", "784,8,10", "--epochs", "1", "--extra-epochs", "1", "--train-limit",
                 "40", "--out", str(tmp_path / "imp"), "--no-progress"]) == 0
    assert (tmp_path / "imp" / "importance.json").exists()


def test_demos_quick_smoke(tmp_path, capsys):
    d23 = _demo("paper_a_fig2_fig3_tradeoff")
    assert d23.main(["--out", str(tmp_path / "f23"), "--n-c", "2", "--rho", "0.5", "--epochs", "1", "--sizes",
                     "784,8,10", "--train-limit", "40", "--no-progress", "--inputs", "standardized"]) == 0
    assert (tmp_path / "f23" / "fig3_tradeoffs.png").exists()
    assert json.loads((tmp_path / "f23" / "sweep.json").read_text())["settings"]["inputs"] == "standardized"
    assert d23.FULL == tradeoff.PAPER_SETTINGS and d23.QUICK == tradeoff.QUICK_SETTINGS
    d5 = _demo("paper_a_fig5_importance")
    assert d5.main(["--out", str(tmp_path / "f5"), "--epochs", "1", "--extra-epochs", "1", "--sizes", "784,8,10",
                    "--train-limit", "40", "--no-progress"]) == 0
    assert (tmp_path / "f5" / "fig5_importance.png").exists()
    for mod in (d23, d5):
        with pytest.raises(SystemExit):
            mod.build_parser().parse_args(["--help"])


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_two_worker_processes_give_the_same_networks_as_one(tmp_path):
    be = Backend("numpy", "float64")
    settings = dict(TINY, plot=False)
    one = tradeoff.run_sweep(tmp_path / "one", rhos=[0.5], cs=[1e-2, 1e1], backend=be, ensemble_size=1,
                             **settings)
    two = tradeoff.run_sweep(tmp_path / "two", rhos=[0.5], cs=[1e-2, 1e1], backend=be, ensemble_size=1,
                             workers=2, **settings)
    assert two["trained"] == 4
    for a, b in zip(one["records"], two["records"]):
        assert a["key"] == b["key"]
        assert a["test_accuracy"] == b["test_accuracy"]
        assert a["sigma_bar"] == pytest.approx(b["sigma_bar"], rel=1e-12)
    assert len(list((tmp_path / "two" / "runs").glob("*.json"))) == 4


@needs_mnist
def test_a_sweep_of_the_authors_network_on_mnist_is_compared_with_the_published_data(tmp_path):
    lines = []
    result = tradeoff.run_sweep(tmp_path, cs=[1e-4, 1e-3], rhos=[0.5], noises=["heterogeneous"], dataset="mnist",
                                data_dir=MNIST_DIR, download=False, **dict(TINY, sizes=(784, 100, 100, 10),
                                                                          train_limit=200, log=lines.append))
    compared = result["summary"]["published_comparison"]
    assert compared["1e-4"]["all"]["pairs"] == 2 and compared["1e-3"]["all"]["pairs"] == 1
    rows = list(csv.DictReader((tmp_path / "published_comparison.csv").read_text().splitlines()))
    assert [(r["grid"], float(r["c"]), int(r["k"])) for r in rows] == [("1e-4", 1e-4, 0), ("1e-4", 1e-3, 4),
                                                                      ("1e-3", 1e-3, 0)]
    ours = {r["c"]: 100 * r["test_accuracy"]["sampled"] for r in result["records"]}
    assert all(float(r["ours_pct"]) == pytest.approx(ours[float(r["c"])]) for r in rows)
    assert (tmp_path / "published_comparison.png").is_file()
