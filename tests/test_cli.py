"""The command line: `minisyn train` end to end on the embedded data, and its errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from minisyn.cli import main

QUICK = ["--sizes", "784,16,10", "--train-limit", "400", "--epochs", "2", "--no-progress"]


def test_train_writes_results_history_and_parameters(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--lr", "5e-3", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "finished"
    assert results["config"]["n_train"] == 400
    assert len(results["history"]["loss"]) == 2
    for mode in ("sampled", "mean", "predictive"):
        assert 0.0 <= results["test_accuracy"][mode] <= 1.0
    assert results["test_accuracy"]["mean"] > 0.5          # far above chance (0.1) after 2 epochs
    assert np.isfinite(results["sigma_bar"]) and results["sigma_bar"] > 0
    params = np.load(out / "params.npz")
    assert params["layer0.mu"].shape == (16, 785)          # the bias is the last column
    assert params["layer1.sigma"].shape == (10, 17)
    assert (out / "history.csv").read_text().startswith("epoch,")
    assert str(out) in capsys.readouterr().out


def test_bernoulli_training_saves_release_probabilities(tmp_path):
    out = tmp_path / "bern"
    assert main(["train", "--synapse", "bernoulli", "--sizes", "784,16,10", "--train-limit", "400",
                 "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    params = np.load(out / "params.npz")
    p = params["layer0.p"]
    assert p.shape == (16, 784) and p.min() >= 0.25 and p.max() <= 1.0
    assert json.loads((out / "results.json").read_text())["energy"] > 0


def test_l2_with_the_presynaptic_rule_decays_m_but_never_raises_p(tmp_path):
    """--l2 acts as weight decay (minisyn.rules): the rule's |g| >= g_lim sees
    the data gradient alone. l2 / N = 5 makes l2 |m| / N >> g_lim everywhere;
    had it reached the rule, every p would rise by four steps, to about 0.39."""
    res = {}
    for l2 in (0.0, 2000.0):
        out = tmp_path / f"l2_{l2}"
        assert main(["train", "--synapse", "bernoulli", "--sizes", "784,16,10", "--train-limit", "400",
                     "--epochs", "1", "--no-progress", "--l2", str(l2), "--out", str(out)]) == 0
        res[l2] = json.loads((out / "results.json").read_text())
    assert max(res[2000.0]["mean_release_probability"]) < 0.3
    assert res[2000.0]["energy"] < 0.5 * res[0.0]["energy"]


def test_standardized_inputs_use_the_statistics_of_the_examples_trained_on():
    from minisyn.backend import Backend
    from minisyn.experiments.kit import prepare_data

    be = Backend("numpy", "float64")
    kw = dict(download=False, train_limit=600, val_fraction=0.25, seed=0, backend=be)
    unit = prepare_data("embedded", inputs="unit", **kw)
    std = prepare_data("embedded", inputs="standardized", **kw)
    assert abs(std.x.mean()) < 1e-6 and abs(std.x.std() - 1) < 1e-6       # float32 pixels
    m, s = unit.x.mean(), unit.x.std()              # the training part only, not the held-out quarter
    np.testing.assert_allclose(std.x_test, (unit.x_test - m) / s, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(std.x_val, (unit.x_val - m) / s, rtol=1e-6, atol=1e-6)


def test_same_seed_gives_the_same_results(tmp_path):
    for name in ("a", "b"):
        assert main(["train", *QUICK, "--epochs", "1", "--out", str(tmp_path / name)]) == 0
    a, b = (json.loads((tmp_path / n / "results.json").read_text()) for n in ("a", "b"))
    assert a["history"]["loss"] == b["history"]["loss"]
    assert a["test_accuracy"] == b["test_accuracy"]


def test_existing_results_are_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text('{"keep": true}')
    assert main(["train", *QUICK, "--out", str(out)]) == 2
    assert json.loads((out / "results.json").read_text()) == {"keep": True}
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--rho", "-1"], "rho must be finite and > 0"),
    (["--c", "-0.5"], "c must be finite and >= 0"),
    (["--synapse", "bernoulli", "--p-init", "1.5"], "p_init must lie in (0, 1]"),
    (["--batch-size", "100000"], "larger than the 400 training examples"),
    (["--sizes", "100,10"], "--sizes starts with 100 inputs"),
    (["--optimizer", "presynaptic"], "needs Bernoulli synapses"),
])
def test_bad_input_names_the_problem_and_creates_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "bad"
    assert main(["train", *QUICK, *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_data_dir_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "files missing" in capsys.readouterr().err


def test_python_dash_m_minisyn_help_lists_every_option_with_defaults():
    res = subprocess.run([sys.executable, "-m", "minisyn", "train", "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    for option in ("--synapse", "--c", "--rho", "--lambda", "--optimizer", "--epochs", "--batch-size",
                   "--dataset", "--seed", "--out"):
        assert option in res.stdout
    assert "(default: 0.01)" in res.stdout
