"""The experiment kit: one data preparation, one run store, option parsing shared by every command."""
from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from minisyn.cli import build_parser, main
from minisyn.experiments import kit


# -- option values -------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [("0.5", 0.5), ("2/3", 2 / 3), (" 4/3 ", 4 / 3), ("1e-3", 1e-3)])
def test_fraction_reads_decimals_and_fractions(text, value):
    assert kit.fraction(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["two", "1/0", "1/2/3", ""])
def test_fraction_rejects_what_is_not_a_number(text):
    with pytest.raises(argparse.ArgumentTypeError, match="fraction"):
        kit.fraction(text)


def test_floats_reads_a_comma_separated_list_with_fractions():
    assert kit.floats("1/2,2/3,2") == pytest.approx([0.5, 2 / 3, 2.0])


@pytest.mark.parametrize("command", [["train"], ["sweep"], ["importance"], ["bayes"]])
def test_rho_takes_a_fraction_in_every_command(command):
    args = build_parser().parse_args([*command, "--rho", "2/3"])
    assert np.ravel(args.rho)[0] == pytest.approx(2 / 3)


@pytest.mark.parametrize("command", ["sweep", "importance"])
def test_relu_after_reads_zeros_and_ones_in_every_command_that_places_relus(command):
    assert kit.bools("0, 1,1") == (False, True, True)
    with pytest.raises(argparse.ArgumentTypeError, match="0s and 1s"):
        kit.bools("1,2")
    args = build_parser().parse_args([command, "--relu-after", "1,1,0"])
    assert args.relu_after == (True, True, False)


def test_help_states_each_default_once(capsys):
    for command in ("train", "sweep", "lifelong", "energy-info", "importance", "bayes", "analyse", "perceptron"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = capsys.readouterr().out
        assert "(default: None)" not in text, command
        options = re.split(r"\n  (?=-)", text)[1:]          # one entry per option
        assert len(options) > 5
        for entry in options:
            assert " ".join(entry.split()).count("(default:") <= 1, (command, entry)


# -- data ----------------------------------------------------------------------------
def test_subset_is_a_seeded_random_choice_and_none_keeps_everything():
    keep = kit.subset(100, 10, seed=3)
    assert len(set(keep)) == 10 and keep.max() < 100
    np.testing.assert_array_equal(keep, kit.subset(100, 10, seed=3))
    assert not np.array_equal(keep, kit.subset(100, 10, seed=4))
    assert not np.array_equal(keep, kit.subset(100, 10, seed=3, part="test"))   # its own stream
    np.testing.assert_array_equal(kit.subset(7, None, seed=0), np.arange(7))
    with pytest.raises(ValueError, match="train_limit must be >= 1"):
        kit.subset(10, 0, seed=0)


def test_prepare_data_keeps_the_subset_rows_of_the_data_set():
    from minisyn import datasets

    ds = datasets.load_dataset("embedded")
    data = kit.prepare_data("embedded", train_limit=50, test_limit=20, seed=5)
    keep = kit.subset(len(ds.y_train), 50, 5)
    np.testing.assert_array_equal(data.y, ds.y_train[keep])
    np.testing.assert_array_equal(data.x, datasets.preprocess(ds.x_train[keep]))
    np.testing.assert_array_equal(data.y_test, ds.y_test[kit.subset(len(ds.y_test), 20, 5, "test")])
    assert data.n_train == 50 and data.n_features == 784


class _Stop(Exception):
    pass


COMMANDS_WITH_TRAIN_LIMIT = [
    ["train"], ["sweep"], ["importance"], ["lifelong"], ["energy-info"], ["analyse"], ["bayes"],
]


@pytest.mark.parametrize("command", COMMANDS_WITH_TRAIN_LIMIT, ids=lambda c: c[0])
def test_train_limit_and_seed_select_the_same_examples_in_every_command(command, monkeypatch, tmp_path):
    """Each command's data go through kit.prepare_data, which takes one subset rule."""
    seen = {}
    real = kit.prepare_data

    def spy(*args, **kwargs):
        data = real(*args, **kwargs)
        seen["x"], seen["y"], seen["inputs"] = np.asarray(data.x), np.asarray(data.y), kwargs.get("inputs", "unit")
        raise _Stop

    monkeypatch.setattr(kit, "prepare_data", spy)
    with pytest.raises(_Stop):
        main([*command, "--train-limit", "40", "--seed", "7", "--out", str(tmp_path / "o"), "--no-progress"])
    expected = real("embedded", train_limit=40, seed=7, inputs=seen["inputs"])   # the command's own scaling
    np.testing.assert_array_equal(seen["y"], expected.y)
    np.testing.assert_array_equal(seen["x"], expected.x)


# -- the run store -------------------------------------------------------------------------
def test_run_store_resumes_a_run_saved_with_the_same_settings(tmp_path):
    store = kit.RunStore(tmp_path, force=False)
    assert store.load("a", {"lr": 0.1}) is None
    store.save("a", {"acc": 0.9}, {"lr": 0.1, "sizes": (3, 2)})
    rec = kit.RunStore(tmp_path).load("a", {"lr": 0.1, "sizes": [3, 2]})       # tuples and lists alike
    assert rec["acc"] == 0.9 and rec["key"] == "a"
    assert kit.RunStore(tmp_path, force=True).load("a", {"lr": 0.1, "sizes": [3, 2]}) is None


def test_run_store_refuses_a_run_saved_with_other_settings_and_says_which(tmp_path):
    kit.RunStore(tmp_path).save("a", {}, {"lr": 0.1, "epochs": 2})
    with pytest.raises(ValueError, match=r"epochs: saved 2, now 3.*--force"):
        kit.RunStore(tmp_path).load("a", {"lr": 0.1, "epochs": 3})


def test_run_store_reads_settings_added_later_through_defaults_and_skips_ignored_ones(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "old.json").write_text(json.dumps({"config": {"lr": 0.1, "ewc": 5}}))
    store = kit.RunStore(tmp_path, defaults={"inputs": "unit"})
    assert store.load("old", {"lr": 0.1, "ewc": 9, "inputs": "unit"}, ignore=("ewc",)) is not None
    with pytest.raises(ValueError, match="inputs"):
        store.load("old", {"lr": 0.1, "ewc": 5, "inputs": "standardized"})


def test_run_store_counts_a_run_with_arrays_only_when_both_files_exist(tmp_path):
    store = kit.RunStore(tmp_path)
    store.save("a", {"v": 1}, {}, arrays={"w": np.arange(3.0)})
    rec, arrays = store.load("a", {}, arrays=True)
    np.testing.assert_array_equal(arrays["w"], np.arange(3.0))
    (tmp_path / "runs" / "a.npz").unlink()
    assert store.load("a", {}, arrays=True) is None


def test_a_damaged_run_file_is_named_in_the_error(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "a.json").write_text("{not json")
    with pytest.raises(ValueError, match="a.json is not valid JSON"):
        kit.RunStore(tmp_path).load("a", {})
