"""The perceptron experiment of MODEL.md §B6 (Fig. 5b, c): the demo runs and
writes finite results, and a perceptron memorises a small task."""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisyn.backend import Backend
from minisyn.experiments import kit, lifelong, perceptron
from minisyn.experiments.perceptron import (LIFELONG_RULE, make_tasks, patterns_for_load, task_accuracy,
                                            train_lifelong)
from minisyn.network import Perceptron

DEMO = Path(__file__).resolve().parents[1] / "demos" / "paper_b_fig5bc_perceptron.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("fig5bc_perceptron", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_demo_writes_finite_figures_and_tables(tmp_path, capsys):
    demo = load_demo()
    out = tmp_path / "fig5bc"
    assert demo.main(["--out", str(out), "--seeds", "2", "--n-inputs", "100"]) == 0
    for name in ("fig5bc_perceptron.png", "fig5bc_perceptron.pdf", "results.json", "first_task.csv",
                 "final_accuracy.csv", "load_sweep.csv"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    for model in ("stochastic", "standard"):
        first = results["summary"][model]["first_task_after_last"]
        assert 0 <= first["mean"] <= 1 and np.isfinite(first["sd"])
        assert np.array(results["per_seed"][model]["matrix"]).shape == (2, 5, 5)
    for name in ("first_task.csv", "final_accuracy.csv", "load_sweep.csv"):
        rows = list(csv.reader((out / name).read_text().splitlines()))
        values = np.array(rows[1:], dtype=float)
        assert values.size and np.isfinite(values).all(), name
    assert len(rows) - 1 == len(demo.QUICK_LOADS)
    printed = capsys.readouterr().out
    assert "first-task accuracy at the end of task 5" in printed and "±" in printed


def test_demo_refuses_to_overwrite_results_without_force(tmp_path):
    demo = load_demo()
    (tmp_path / "results.json").write_text("{}")
    assert demo.main(["--out", str(tmp_path), "--seeds", "1", "--n-inputs", "20"]) == 2
    assert (tmp_path / "results.json").read_text() == "{}"


@pytest.mark.parametrize("stochastic", [False, True], ids=["standard", "stochastic"])
@given(n=st.integers(20, 80), groups=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_perceptron_memorises_a_single_small_task_to_full_training_accuracy(stochastic, n, groups, seed):
    """Load at most 15 / 40 of capacity: separable, learned within 60 passes (mean weights)."""
    be = Backend("numpy", "float64")
    n_patterns = 5 * groups
    xs, ys = make_tasks(1, n_patterns, n, seed)
    x, y = be.floats(xs[0]), be.floats(ys[0])
    net = Perceptron(n, be, seed=seed, stochastic=stochastic, rule_kwargs=LIFELONG_RULE)
    rng = np.random.default_rng(seed)
    for _ in range(60):
        order = rng.permutation(n_patterns)
        for start in range(0, n_patterns, 5):
            idx = be.asarray(order[start:start + 5])
            net.update(x[idx], y[idx])
        if task_accuracy(net, x, y, "mean") == 1.0:
            break
    assert task_accuracy(net, x, y, "mean") == 1.0


def test_standard_perceptron_update_is_the_averaged_rosenblatt_step():
    """§B6: m <- m + eta mean(wrong y x); from m = 0 every pattern counts as y = +1."""
    be = Backend("numpy", "float64")
    net = Perceptron(3, be, stochastic=False, lr=0.5)
    x = be.floats([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])
    y = be.floats([-1.0, 1.0])
    assert float(net.update(x, y)) == 0.5        # pattern 1 (label -1) is wrong at m = 0
    np.testing.assert_allclose(net.layer.m.value, 0.5 * (-1.0) * np.array([[1.0, -1.0, 1.0]]) / 2, rtol=1e-15)


def test_train_lifelong_reports_consistent_shapes_and_ranges():
    be = Backend("numpy", "float64")
    r = train_lifelong(n_inputs=30, n_tasks=3, n_patterns=10, passes=4, seed=1, backend=be)
    assert r["first_task"].shape == r["train_error"].shape == (12,)
    assert r["matrix"].shape == (3, 3)
    assert ((r["matrix"] >= 0) & (r["matrix"] <= 1)).all()
    assert r["mean_accuracy"] == pytest.approx(r["matrix"][-1].mean())
    assert 0.25 <= r["mean_p"] <= 1.0
    with pytest.raises(ValueError, match="multiple of the group size"):
        train_lifelong(n_inputs=30, n_patterns=12, backend=be)


def test_patterns_for_load_inverts_the_load_definition():
    assert patterns_for_load(0.25, 1000, 5) == 100      # the paper's setting: 500 patterns, capacity 2000
    assert patterns_for_load(1.0, 1000, 5) == 400
    assert patterns_for_load(1e-6, 1000, 5) == 5


def test_lifelong_rule_is_shared_and_its_p_min_is_the_perceptrons_p_init():
    """One LIFELONG_RULE (the lifelong experiment's); its p_min 0.25 equals the perceptron's p_init,
    which the perceptron takes as p_min when none is given: the results are the same either way."""
    assert perceptron.LIFELONG_RULE is lifelong.LIFELONG_RULE and LIFELONG_RULE["p_min"] == 0.25
    without = {k: v for k, v in LIFELONG_RULE.items() if k != "p_min"}
    kw = dict(n_inputs=40, n_tasks=3, n_patterns=20, passes=3, seed=2, backend=Backend("numpy", "float64"))
    a, b = train_lifelong(rule_kwargs=without, **kw), train_lifelong(**kw)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def _parse(argv):
    parser = argparse.ArgumentParser()
    perceptron.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["perceptron", *argv])


SMALL = ["--n-inputs", "40", "--n-tasks", "3", "--n-patterns", "10", "--passes", "3", "--n-seeds", "2",
         "--loads", "1/4,0.5"]


def test_command_defaults_are_the_demos_quick_mode_and_paper_the_authors_scoring():
    args = _parse([])
    assert (args.n_inputs, args.n_tasks, args.n_patterns, args.passes, args.group) == (1000, 5, 100, 25, 5)
    assert args.func is perceptron.run_cli and args.out is None and args.seeds is None
    assert kit.apply_preset(args, perceptron.QUICK_SETTINGS, perceptron.PAPER_SETTINGS) == "quick"
    assert args.loads == list(perceptron.QUICK_LOADS) and args.n_seeds == 5 and args.eval_mode == "mean"
    args = _parse(["--paper", "--n-seeds", "3"])
    kit.apply_preset(args, perceptron.QUICK_SETTINGS, perceptron.PAPER_SETTINGS, use_paper=args.paper)
    assert args.loads == list(perceptron.FULL_LOADS) and args.n_seeds == 3 and args.eval_mode == "vote"
    assert load_demo().build_parser().parse_args([]).quick


def test_consolidated_perceptron_keeps_task_1_better_at_the_quick_default():
    """Fig. 5b at the quick default (the paper's protocol, 5 seeds, mean-weight scoring): after
    task 5 the stochastic perceptron with consolidation scores higher on task 1 than the standard
    one, and so it does on average over tasks 2-5 (the curve of panel b)."""
    q = perceptron.QUICK_SETTINGS
    runs = perceptron.compare(range(q["n_seeds"]), eval_mode=q["eval_mode"], backend="numpy",
                              **perceptron.PROTOCOL)
    passes = perceptron.PROTOCOL["passes"]
    end = {m: runs[m]["matrix"][:, -1, 0].mean() for m in perceptron.MODELS}
    later = {m: runs[m]["first_task"][:, passes:].mean() for m in perceptron.MODELS}
    assert end["stochastic"] > end["standard"] + 0.04, end
    assert later["stochastic"] > later["standard"] + 0.03, later


def test_vote_scores_the_majority_of_release_samples():
    be = Backend("numpy", "float64")
    net = Perceptron(4, be, seed=0, stochastic=True)
    net.layer.m.value[...] = be.floats([[1.0, 1.0, 1.0, 1.0]])
    x, y = be.floats([[1.0, 1.0, 1.0, 1.0]]), be.floats([1.0])
    assert task_accuracy(net, x, y, "vote") == 1.0 == task_accuracy(net, x, y, "mean")
    net.layer.p[...] = 1.0                      # no release noise: every mode agrees
    y = be.floats([-1.0])
    assert task_accuracy(net, x, y, "vote") == task_accuracy(net, x, y, "sample") == 0.0
    with pytest.raises(ValueError, match="eval_mode"):
        task_accuracy(net, x, y, "median")


def test_command_writes_json_csv_and_figure(tmp_path, capsys):
    out = tmp_path / "perceptron"
    assert perceptron.run_cli(_parse([*SMALL, "--out", str(out)])) == 0
    for name in ("fig5bc_perceptron.png", "fig5bc_perceptron.pdf", "results.json", "first_task.csv",
                 "final_accuracy.csv", "load_sweep.csv"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert results["seeds"] == [0, 1] and results["loads"] == [0.25, 0.5]
    assert results["protocol"] == dict(n_inputs=40, n_tasks=3, n_patterns=10, passes=3, group=5)
    assert np.array(results["per_seed"]["stochastic"]["matrix"]).shape == (2, 3, 3)
    lines = {name: (out / name).read_text().splitlines() for name in ("first_task.csv", "final_accuracy.csv",
                                                                        "load_sweep.csv")}
    assert [len(v) - 1 for v in lines.values()] == [9, 3, 2]
    assert "first-task accuracy at the end of task 3" in capsys.readouterr().out
    with pytest.raises(kit.CLIError, match="already exists"):
        perceptron.run_cli(_parse([*SMALL, "--out", str(out)]))
    assert perceptron.run_cli(_parse([*SMALL, "--out", str(out), "--force", "--seeds", "3"])) == 0
    assert json.loads((out / "results.json").read_text())["seeds"] == [3]


@pytest.mark.parametrize("argv,message", [(["--passes", "0"], "--passes must be >= 1, got 0"),
                                          (["--n-seeds", "0"], "--n-seeds must be >= 1, got 0"),
                                          (["--n-inputs", "0"], "--n-inputs must be >= 1, got 0"),
                                          (["--n-patterns", "12"], "--n-patterns .* multiple of --group"),
                                          (["--loads", "0,1"], "--loads must be positive")])
def test_command_refuses_bad_values_naming_the_option(argv, message, tmp_path):
    with pytest.raises(kit.CLIError, match=message):
        perceptron.run_cli(_parse([*argv, "--out", str(tmp_path)]))
    assert not (tmp_path / "results.json").exists()


def test_demo_and_command_give_the_same_numbers(tmp_path):
    demo = load_demo()
    assert demo.main(["--out", str(tmp_path / "demo"), "--seeds", "2", "--n-inputs", "60"]) == 0
    assert perceptron.run_cli(_parse(["--n-seeds", "2", "--n-inputs", "60", "--out", str(tmp_path / "cli")])) == 0
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("demo", "cli"))
    assert a["per_seed"] == b["per_seed"] and a["load_sweep"] == b["load_sweep"]
