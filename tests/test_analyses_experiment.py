"""The analyses of a trained plastic Bernoulli network (MODEL.md §B4; Figs. 2, 3):
a tiny network gives finite tables and figures, lesioning nothing keeps the
accuracy, saved parameters load back, the command line runs, and at the quick
preset lowest-p-first lesions stay far above random ones."""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from minisyn.backend import Backend
from minisyn.experiments import analyses, kit
from minisyn.analysis import lesion_curve
from minisyn.experiments.analyses import (lesion_verdict, load_network, p_value_text, run_analyses, sizes_from_state,
                                          train_plastic)
from minisyn.network import MLP
from minisyn.train import accuracy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained():
    be = Backend("numpy", "float32")
    x, y, xt, yt = kit.prepare_data(train_limit=300, backend=be).arrays()
    net, _ = train_plastic(be, x, y, sizes=(784, 16, 16, 10), epochs=1)
    return be, net, x, y, xt, yt


def test_analyses_write_finite_tables_and_figures(trained, tmp_path):
    be, net, x, y, xt, yt = trained
    res = run_analyses(net, xt, yt, x[:20], y[:20], tmp_path, fractions=(0.0, 0.5, 0.8, 0.95), lesion_seeds=2,
                       n_shuffles=10)
    for name in ("analyses.json", "lesion.csv", "p_histogram.csv", "energy_vs_p.csv", "fisher_vs_p.csv",
                 "neuron_counts.csv", "fig2_analyses.png", "fig2_analyses.pdf", "fig3_sparsity.png",
                 "fig3_sparsity.pdf"):
        assert (tmp_path / name).stat().st_size > 0, name
    saved = json.loads((tmp_path / "analyses.json").read_text())
    assert saved["p_summary"]["n_synapses"] == 784 * 16 + 16 * 16 + 16 * 10
    assert sum(saved["p_histogram"]["counts"]) == saved["p_summary"]["n_synapses"]
    rows = np.array([r for r in csv.reader((tmp_path / "lesion.csv").read_text().splitlines())][1:], float)
    assert rows.shape == (4, 5) and np.isfinite(rows).all()
    assert np.isfinite(res["fisher_vs_p"]["spearman"]["rho"]) and 0 <= res["fisher_vs_p"]["spearman"]["p_value"] <= 1
    ns = res["neuron_sparsity"]
    assert ns["n_hidden"] == 32 and 0 <= ns["ks_in"]["p_value"] <= 1
    assert [layer["n_neurons"] for layer in ns["layers"]] == [16, 16]     # one baseline per hidden layer
    assert res["fisher_vs_p"]["n_examples"] == 20
    counts = list(csv.DictReader((tmp_path / "neuron_counts.csv").read_text().splitlines()))
    assert [int(r["hidden_layer"]) for r in counts] == [0] * 16 + [1] * 16


def test_lesion_of_no_synapse_keeps_the_unlesioned_accuracy(trained, tmp_path):
    be, net, x, y, xt, yt = trained
    m_before = [be.to_numpy(layer.m.value).copy() for layer in net.synaptic]
    res = run_analyses(net, xt, yt, x[:5], y[:5], tmp_path, fractions=(0.0, 0.9), lesion_seeds=2, n_shuffles=5,
                       plot=False)
    intact = float(accuracy(net, xt, yt, "mean"))
    assert res["lesion"]["low_p_runs"][:, 0] == pytest.approx([intact] * 2)
    assert res["lesion"]["random_runs"][:, 0] == pytest.approx([intact] * 2)
    assert res["test_accuracy"]["mean"] == pytest.approx(intact)
    for layer, m0 in zip(net.synaptic, m_before):              # every m restored
        np.testing.assert_array_equal(be.to_numpy(layer.m.value), m0)


def test_saved_parameters_load_back(trained, tmp_path):
    be, net, *_ = trained
    np.savez(tmp_path / "params.npz", **net.state())
    loaded = load_network(tmp_path / "params.npz", be)
    assert loaded.sizes == [784, 16, 16, 10]
    for a, b in zip(net.synaptic, loaded.synaptic):
        np.testing.assert_array_equal(be.to_numpy(a.p), be.to_numpy(b.p))
        np.testing.assert_array_equal(be.to_numpy(a.m.value), be.to_numpy(b.m.value))


def test_sizes_from_state_detects_biases_and_rejects_other_networks():
    be = Backend("numpy", "float32")
    assert sizes_from_state(MLP((20, 7, 5, 3), "bernoulli", be, bias=True).state()) == ([20, 7, 5, 3], True)
    assert sizes_from_state(MLP((20, 7, 3), "bernoulli", be).state()) == ([20, 7, 3], False)
    with pytest.raises(ValueError, match="Bernoulli"):
        sizes_from_state(MLP((20, 7, 3), "gaussian", be).state())


def test_analyses_run_on_the_strict_backend(tmp_path):
    be = Backend("strict", "float32")
    x, y, xt, yt = kit.prepare_data(train_limit=100, backend=be).arrays()
    net, _ = train_plastic(be, x, y, sizes=(784, 6, 6, 10), epochs=1)
    res = run_analyses(net, xt[:200], yt[:200], x[:5], y[:5], tmp_path, fractions=(0.0, 0.5), lesion_seeds=1,
                       n_shuffles=5, plot=False)
    assert np.isfinite(res["lesion"]["low_p_mean"]).all()


def test_command_line_trains_then_analyses_a_loaded_network(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    analyses.register(sub)
    common = ["--train-limit", "200", "--fisher-examples", "10", "--lesion-seeds", "1", "--n-shuffles", "5",
              "--no-progress"]
    args = parser.parse_args(["analyse", "--sizes", "784,8,8,10", "--epochs", "1", "--out", str(tmp_path / "a"),
                              *common])
    assert args.func(args) == 0
    assert "Fisher vs p" in capsys.readouterr().out
    params = tmp_path / "a" / "params.npz"
    assert params.exists()
    args = parser.parse_args(["analyse", "--params", str(params), "--out", str(tmp_path / "b"), *common])
    assert args.func(args) == 0
    saved = json.loads((tmp_path / "b" / "analyses.json").read_text())
    assert saved["extra"]["params"] == str(params)
    # a second run into the same folder is refused without --force
    with pytest.raises(kit.CLIError, match="results.json already exists"):
        args.func(args)


def test_command_line_refuses_bad_values_naming_the_option(tmp_path):
    parser = argparse.ArgumentParser()
    analyses.register(parser.add_subparsers(dest="command"))
    for bad, message in ((["--fisher-examples", "0"], "--fisher-examples must be >= 1"),
                         (["--n-shuffles", "0"], "--n-shuffles must be >= 1"), (["--p-imp", "0"], "--p-imp"),
                         (["--train-limit", "0"], "--train-limit must be >= 1")):
        args = parser.parse_args(["analyse", "--out", str(tmp_path), *bad])
        with pytest.raises(kit.CLIError, match=message):
            args.func(args)
    with pytest.raises(SystemExit):                        # the analyses hold out no validation set
        parser.parse_args(["analyse", "--val-fraction", "0.1"])


def test_demo_passes_an_explicit_zero_on_and_reports_the_refusal(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("fig2_fig3_analyses", ROOT / "demos" / "paper_b_fig2_fig3_analyses.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert demo.main(["--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "--epochs must be >= 1, got 0" in capsys.readouterr().err


def test_p_values_that_underflow_are_written_as_a_bound():
    assert p_value_text(0.0) == "p < 1e-300"
    assert p_value_text(9.4e-31) == "p = 9.4e-31"


def test_lesion_verdict_says_when_low_p_lesions_are_not_above_random():
    res = {"lesion": {"area_low_p": 0.61, "area_random": 0.60}}
    line = lesion_verdict(res)
    assert "not clearly above random" in line and "minisyn analyse, no options" in line
    res = {"lesion": {"area_low_p": 0.80, "area_random": 0.60}}
    assert lesion_verdict(res).startswith("lowest-p-first lesions keep more accuracy")


def test_quick_preset_lowest_p_first_lesions_stay_far_above_random():
    """Fig. 2b at the quick preset (about 10 s of one core): with 80 % and 90 % of the
    synapses removed, lowest p first keeps 0.85 and 0.83 accuracy, random orders 0.39 and 0.34."""
    q = analyses.QUICK_SETTINGS
    be = Backend("numpy", "float32")
    with kit.blas_threads():                       # as the command runs
        x, y, xt, yt = kit.prepare_data(q["dataset"], inputs=q["inputs"], backend=be).arrays()
        net, _ = train_plastic(be, x, y, sizes=q["sizes"], epochs=q["epochs"], batch_size=q["batch_size"],
                               lr=q["lr"], l2=q["l2"])
        fractions = (0.8, 0.9)
        low = lesion_curve(net, xt, yt, fractions, "low_p", seed=0)["accuracy"]
        rnd = np.array([lesion_curve(net, xt, yt, fractions, "random", seed=s)["accuracy"] for s in range(3)])
    assert (low > rnd.max(axis=0) + 0.2).all(), (low, rnd)
    assert low[0] > 0.7
