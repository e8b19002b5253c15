"""`minisyn train`'s presets, its noise report and its warnings (MODEL.md §A4-§A6)."""
import argparse
import json

import pytest

from minisyn.cli import main
from minisyn.experiments import train as train_command

SMALL = ["--sizes", "784,32,32,10", "--train-limit", "2000", "--no-progress"]


def _args(*argv):
    parser = argparse.ArgumentParser()
    train_command.register(parser.add_subparsers(dest="command"))
    return train_command.settings_from_args(parser.parse_args(["train", *argv]))


def test_quick_preset_spreads_sigma_over_synapses_and_lowers_it_at_active_inputs(tmp_path, capsys):
    """The default settings (quick preset) on 2,000 embedded digits and a narrower network:
    in every layer sigma spans a factor above 2 between its 10th and 90th percentiles, and
    falls with the input rate (§A6), and no warning is printed. With the paper's sigma_init
    and lr, 10 epochs move every sigma alike (a spread of about 1.0: test below)."""
    out = tmp_path / "quick"
    assert main(["train", *SMALL, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["preset"] == "quick"
    for layer in results["noise"]["layers"]:
        assert layer["sigma_p90"] > 2 * layer["sigma_p10"]
        assert layer["spearman_input_rate"] < -0.2
    assert results["noise"]["layers"][0]["spearman_input_rate"] < -0.5
    assert results["warnings"] == []
    assert results["noise"]["cost_to_data_gradient"] < 1
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    assert "Spearman correlation of sigma with the input rate" in captured.out


def test_the_papers_start_in_a_short_run_warns_twice_and_names_the_options(tmp_path, capsys):
    """sigma_init 1e-4 at lr 5e-4 for 40 steps: the cost dominates the loss and every phi
    moved at Adam's per-step limit; each warning is one line naming --sigma-init and --lr."""
    out = tmp_path / "paper"
    assert main(["train", "--paper", "--epochs", "2", "--sizes", "784,16,10", "--train-limit", "400",
                 "--no-progress", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["sigma_init"] == 1e-4 and results["config"]["lr"] == 5e-4
    assert results["noise"]["cost_to_data_gradient"] > 10 * train_command.COST_GRADIENT_RATIO
    assert results["noise"]["share_at_step_limit"] == 1.0
    for layer in results["noise"]["layers"]:
        assert layer["sigma_p90"] < 1.05 * layer["sigma_p10"]          # no spread
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(err) == 2 and err == results["warnings"]
    assert "dominates the loss" in err[0] and "Adam's per-step limit" in err[1]
    for line in err:
        assert "--sigma-init" in line and "--lr" in line and "--epochs" in line


def test_a_dominating_cost_that_is_small_in_the_loss_is_not_reported():
    """The first warning needs both: the cost is most of the loss, and its gradient outweighs the data's."""
    report = {"layers": [{"sigma_p10": 1e-2, "sigma_p90": 1e-1}], "cost_to_data_gradient": 100.0}
    settings = dict(sigma_init=1e-4, lr=5e-4, epochs=10, c=1e-2)
    assert train_command.warnings_from_report(report, {"loss": [1.0], "cost": [0.2]}, settings) == []
    assert len(train_command.warnings_from_report(report, {"loss": [1.0], "cost": [0.9]}, settings)) == 1
    report["cost_to_data_gradient"] = 0.5
    assert train_command.warnings_from_report(report, {"loss": [1.0], "cost": [0.9]}, settings) == []


def test_warnings_name_the_quick_values_or_the_current_ones():
    """Below the quick preset, a warning names the preset's value; at or above it, the current one."""
    report = {"layers": [{"sigma_p10": 1e-2, "sigma_p90": 1e-2}], "cost_to_data_gradient": 100.0,
              "share_at_step_limit": 1.0, "step_limit": 1.25}
    history = {"loss": [1.0], "cost": [0.9]}
    low = train_command.warnings_from_report(report, history, dict(sigma_init=1e-4, lr=5e-4, epochs=2, c=1e-2))
    assert len(low) == 2 and all("--sigma-init 0.01" in w and "--lr 0.003" in w and "--epochs 10" in w for w in low)
    high = train_command.warnings_from_report(report, history, dict(sigma_init=0.1, lr=1e-2, epochs=20, c=1e-2))
    assert all("--sigma-init (now 0.1)" in w and "--lr (now 0.01)" in w and "--epochs (now 20)" in w for w in high)


def test_presets_fill_only_the_options_left_unset():
    quick = _args()
    assert (quick.epochs, quick.sigma_init, quick.lr, quick.preset) == (10, 1e-2, 3e-3, "quick")
    paper = _args("--paper")
    assert (paper.epochs, paper.sigma_init, paper.lr, paper.preset) == (50, 1e-4, 5e-4, "paper")
    mixed = _args("--paper", "--lr", "1e-3", "--epochs", "3")
    assert (mixed.epochs, mixed.sigma_init, mixed.lr) == (3, 1e-4, 1e-3)
    assert _args("--sigma-init", "0").sigma_init == 0.0             # an explicit 0 is kept (and refused later)
    assert _args("--synapse", "bernoulli").lr == 0.05                 # other types keep their own lr
    assert _args("--optimizer", "sgd").lr == 0.05


def test_help_says_what_each_preset_is(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for phrase in ("--paper", "quick", "sigma_init 0.01", "lr 0.003", "0.0001", "0.0005", "50 epochs"):
        assert phrase in text


def test_sigma_init_zero_is_refused_by_name(tmp_path, capsys):
    assert main(["train", *SMALL, "--sigma-init", "0", "--out", str(tmp_path / "z")]) == 2
    assert "sigma" in capsys.readouterr().err
