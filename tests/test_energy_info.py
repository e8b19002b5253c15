"""The energy / information sweep of MODEL.md §B3 (Fig. 1): tiny sweeps write
finite results and resume; the fixed-release control sits at the plastic
model's mean p; the energy-at-information interpolation; the level at which
the models are compared; and, at a shortened quick preset, plastic release
needing the least energy for the same information."""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from minisyn.backend import Backend
from minisyn.experiments import energy_info, kit
from minisyn.experiments.energy_info import (QUICK_SETTINGS, comparison_level, comparison_lines,
                                             energy_at_information, run_energy_info, train_models)

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(sizes=(784, 16, 16, 10), epochs=1, batch_size=100, train_limit=300, progress=False, inputs="unit")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("energy_info")
    first = run_energy_info(out, l2s=[1e-3, 1e-1], log=lambda m: None, **TINY)
    return out, first


def test_tiny_sweep_writes_finite_tables_and_figures(sweep):
    out, first = sweep
    assert first["trained"] == 6 and first["skipped"] == 0
    for name in ("energy_info.csv", "energy_info.json", "energy_at_information.csv",
                 "fig1_energy_information.png", "fig1_energy_information.pdf"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "energy_info.csv").read_text().splitlines()))
    assert sorted(r["model"] for r in rows) == sorted(energy_info.MODELS * 2)
    for r in rows:
        for key in ("information_bits", "energy", "mean_activity", "test_accuracy", "mean_p"):
            assert np.isfinite(float(r[key])), (r["key"], key)
        assert 0 <= float(r["information_bits"]) <= np.log2(10) + 1e-6
        assert float(r["energy"]) > 0
    summary = json.loads((out / "energy_info.json").read_text())
    assert set(summary["energy_at_target"]) == set(energy_info.MODELS)
    assert len(list((out / "runs").glob("*.json"))) == 6


def test_fixed_release_records_use_the_plastic_mean_p(sweep):
    _, first = sweep
    rec = {(r["model"], r["l2"]): r for r in first["records"]}
    for l2 in (1e-3, 1e-1):
        assert rec[("fixed", l2)]["fixed_p"] == rec[("plastic", l2)]["mean_p"]
        assert rec[("fixed", l2)]["mean_p"] == pytest.approx(rec[("plastic", l2)]["mean_p"], rel=1e-6)
        assert rec[("deterministic", l2)]["mean_p"] == 1.0


def test_the_authors_settings_fix_p_at_one_value_and_train_the_deterministic_biases(tmp_path):
    res = run_energy_info(tmp_path, l2s=[0.0, 1e-1], models=("fixed", "deterministic"), fixed_release=0.4,
                          deterministic_lr=0.08, deterministic_bias=True, log=lambda m: None, plot=False, **TINY)
    rec = {(r["model"], r["l2"]): r for r in res["records"]}
    assert all(rec[("fixed", l2)]["fixed_p"] == 0.4 for l2 in (0.0, 1e-1))
    assert all(rec[("fixed", l2)]["mean_p"] == pytest.approx(0.4) for l2 in (0.0, 1e-1))
    saved = json.loads((tmp_path / "energy_info.json").read_text())["settings"]
    assert (saved["fixed_release"], saved["deterministic_lr"], saved["deterministic_bias"]) == (0.4, 0.08, True)
    be = Backend("numpy", "float32")
    x = be.floats(np.random.default_rng(0).normal(size=(200, 784)))
    y = be.asarray(np.random.default_rng(1).integers(0, 10, 200))
    _, with_bias = train_models("deterministic", be, x, y, x, y, l2s=[0.0], sizes=(784, 8, 10), epochs=1,
                                batch_size=100, bias=True)
    assert all(layer.bias for layer in with_bias.synaptic)
    with pytest.raises(ValueError, match="fixed_release"):
        run_energy_info(tmp_path / "bad", l2s=[0.0], fixed_release=1.5, log=lambda m: None, **TINY)


def test_the_authors_preset_sets_what_their_energy_code_does(tmp_path, monkeypatch):
    parser = argparse.ArgumentParser()
    energy_info.register(parser.add_subparsers(dest="command"))
    seen = {}
    monkeypatch.setattr(energy_info, "run_energy_info", lambda out, **kw: seen.update(kw) or {"records": [],
                                                                                              "trained": 0,
                                                                                              "skipped": 0})
    monkeypatch.setattr(energy_info, "print_table", lambda *a, **k: None)
    args = parser.parse_args(["energy-info", "--authors", "--out", str(tmp_path / "a")])
    assert args.func(args) == 0
    assert seen["l2s"] == (0.0, 0.001, 0.005, 0.01, 0.05, 0.1) and seen["fixed_release"] == 0.4
    assert seen["deterministic_lr"] == 0.08 and seen["deterministic_bias"] is True and seen["lr"] == 0.05
    args = parser.parse_args(["energy-info", "--out", str(tmp_path / "q")])
    assert args.func(args) == 0
    assert (seen["fixed_release"], seen["deterministic_lr"], seen["deterministic_bias"]) == (None, None, False)
    args = parser.parse_args(["energy-info", "--authors", "--paper", "--out", str(tmp_path / "b")])
    with pytest.raises(kit.CLIError, match="two presets"):
        args.func(args)


def test_rerun_resumes_without_training_and_missing_runs_are_retrained(sweep):
    out, first = sweep
    again = run_energy_info(out, l2s=[1e-3, 1e-1], log=lambda m: None, plot=False, **TINY)
    assert again["trained"] == 0 and again["skipped"] == 6
    assert [r["energy"] for r in again["records"]] == [r["energy"] for r in first["records"]]
    # delete one fixed-release run: only it is retrained, from the saved plastic mean p
    victim = next((out / "runs").glob("fixed_*"))
    victim.unlink()
    third = run_energy_info(out, l2s=[1e-3, 1e-1], log=lambda m: None, plot=False, **TINY)
    assert third["trained"] == 1
    assert victim.exists()


def test_rerun_with_other_settings_is_refused(sweep):
    out, _ = sweep
    with pytest.raises(ValueError, match="other settings"):
        run_energy_info(out, l2s=[1e-3, 1e-1], log=lambda m: None, plot=False, **dict(TINY, epochs=2))


def test_rerun_with_other_inputs_is_refused(sweep):
    out, _ = sweep
    with pytest.raises(ValueError, match="other settings"):
        run_energy_info(out, l2s=[1e-3, 1e-1], log=lambda m: None, plot=False, **dict(TINY, inputs="standardized"))
    with pytest.raises(ValueError, match="inputs"):
        run_energy_info(out, l2s=[1e-3], log=lambda m: None, plot=False, **dict(TINY, inputs="zscore"))


def test_runs_saved_with_l2_in_the_rule_gradient_are_not_resumed(sweep, tmp_path):
    """Networks saved before the L2 term became weight decay (no ``l2_mode``)
    were trained with it in the rule's gradient: a rerun must refuse them."""
    out, _ = sweep
    old = tmp_path / "old"
    (old / "runs").mkdir(parents=True)
    for path in (out / "runs").glob("*.json"):
        rec = json.loads(path.read_text())
        del rec["settings"]["l2_mode"], rec["settings"]["inputs"]
        (old / "runs" / path.name).write_text(json.dumps(rec))
    with pytest.raises(ValueError, match="other settings"):
        run_energy_info(old, l2s=[1e-3, 1e-1], log=lambda m: None, plot=False, **TINY)


def test_runs_saved_before_the_inputs_setting_resume_as_unit_inputs(sweep, tmp_path, monkeypatch):
    out, first = sweep
    old = tmp_path / "old"
    (old / "runs").mkdir(parents=True)
    for path in (out / "runs").glob("*.json"):
        rec = json.loads(path.read_text())
        del rec["settings"]["inputs"]
        (old / "runs" / path.name).write_text(json.dumps(rec))
    monkeypatch.setattr(energy_info, "train_models", lambda *a, **k: pytest.fail("retrained a saved run"))
    again = run_energy_info(old, l2s=[1e-3, 1e-1], log=lambda m: None, plot=False, **TINY)
    assert again["trained"] == 0
    assert [r["energy"] for r in again["records"]] == [r["energy"] for r in first["records"]]


def test_l2_strength_never_raises_release_probabilities_by_itself():
    """With a huge L2 strength, l2 |m| >= g_lim almost everywhere. Had the L2
    gradient reached the rule, p would rise; the data gradient alone decides."""
    be = Backend("numpy", "float64")
    x, y, xt, yt = kit.prepare_data(train_limit=200, backend=be).arrays()
    recs, net = train_models("plastic", be, x, y, xt, yt, l2s=[0.0, 5.0], sizes=(784, 8, 8, 10), epochs=1,
                             batch_size=100)
    # two steps: p = 0.25 -> 0.3025 -> 0.351 wherever |g| >= g_lim; with the
    # L2 gradient in g (l2 |m| ~ 0.1 >> g_lim) the mean p would be near 0.35
    assert recs[1]["mean_p"] < 0.27
    assert recs[1]["mean_p"] <= recs[0]["mean_p"] + 0.01
    assert recs[1]["energy"] < 0.7 * recs[0]["energy"]      # the decay did act on m


@pytest.mark.parametrize("backend_name", ["numpy", "strict"])
def test_fixed_release_p_equal_the_given_mean_and_never_move(backend_name):
    be = Backend(backend_name, "float32")
    data = kit.prepare_data(train_limit=200, backend=be).arrays()
    kw = dict(l2s=[1e-3, 1e-1], sizes=(784, 8, 8, 10), epochs=1, batch_size=100)
    plastic, pnet = train_models("plastic", be, *data, **kw)
    moved = np.concatenate([be.to_numpy(l.p).ravel() for l in pnet.synaptic])
    assert moved.min() >= 0.25 and moved.max() > 0.25          # the plastic p did move
    fixed_p = [r["mean_p"] for r in plastic]
    fixed, fnet = train_models("fixed", be, *data, fixed_p=fixed_p, **kw)
    for layer in fnet.synaptic:
        p = be.to_numpy(layer.p)
        for k, value in enumerate(fixed_p):
            np.testing.assert_allclose(p[k], np.float32(value), rtol=0, atol=0)
    assert [r["mean_p"] for r in fixed] == pytest.approx(fixed_p, rel=1e-6)


def test_fixed_release_needs_one_p_per_l2():
    be = Backend("numpy", "float32")
    data = kit.prepare_data(train_limit=100, backend=be).arrays()
    with pytest.raises(ValueError, match="fixed_p"):
        train_models("fixed", be, *data, l2s=[1e-3, 1e-2], sizes=(784, 4, 10), epochs=1, batch_size=100,
                     fixed_p=[0.5])


def test_energy_at_information_interpolates_a_hand_made_monotone_curve():
    e = [1000.0, 1.0, 100.0, 10.0]                 # unordered on purpose
    info = [3.2, 0.5, 2.5, 1.5]
    t = (3.0 - 2.5) / (3.2 - 2.5)
    got = energy_at_information(e, info, 3.0)
    assert got["status"] == "interpolated"
    assert got["energy"] == pytest.approx(10 ** (2 + t))
    lin = energy_at_information(e, info, 3.0, log_energy=False)
    assert lin["energy"] == pytest.approx(100 + t * 900)
    assert energy_at_information(e, info, 1.5)["energy"] == pytest.approx(10.0)   # exactly at a point
    assert energy_at_information(e, info, 3.3)["status"] == "not_reached"
    assert np.isnan(energy_at_information(e, info, 3.3)["energy"])
    low = energy_at_information(e, info, 0.2)
    assert low == {"energy": 1.0, "status": "below_lowest"}


def test_command_line_runs_a_tiny_sweep(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    energy_info.register(sub)
    args = parser.parse_args(["energy-info", "--l2", "1e-3", "--sizes", "784,8,10", "--epochs", "1",
                              "--train-limit", "200", "--target-bits", "0.01", "--no-progress",
                              "--out", str(tmp_path / "ei")])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    # one L2 value draws no curve: the command says it cannot compare, and what does
    assert "no information level is reached by every model" in printed
    assert "minisyn energy-info, no options" in printed
    assert (tmp_path / "ei" / "fig1_energy_information.png").exists()
    saved = json.loads((tmp_path / "ei" / "energy_info.json").read_text())
    assert saved["settings"]["inputs"] == "standardized"           # the preset's, unless told
    assert saved["settings"]["lr"] == QUICK_SETTINGS["lr"]


def test_paper_option_takes_the_paper_settings_and_explicit_values_win(tmp_path):
    parser = argparse.ArgumentParser()
    energy_info.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["energy-info", "--paper", "--epochs", "2", "--out", str(tmp_path)])
    assert kit.apply_preset(args, energy_info.QUICK_SETTINGS, energy_info.PAPER_SETTINGS, use_paper=True) == "paper"
    assert args.epochs == 2 and args.sizes == energy_info.PAPER_SETTINGS["sizes"]
    assert args.target_bits == 3.0 and args.lr == 0.05


def test_command_line_refuses_bad_values_naming_the_option(tmp_path):
    parser = argparse.ArgumentParser()
    energy_info.register(parser.add_subparsers(dest="command"))
    for option in ("--n-l2", "--ensemble-size", "--epochs", "--batch-size", "--train-limit"):
        args = parser.parse_args(["energy-info", option, "0", "--out", str(tmp_path / "ei")])
        with pytest.raises(kit.CLIError, match=f"{option} must be >= 1"):
            args.func(args)
    for option in ("--target-bits", "--lr", "--l2-min"):              # an explicit 0 is refused, not replaced
        args = parser.parse_args(["energy-info", option, "0", "--out", str(tmp_path / "ei")])
        with pytest.raises(kit.CLIError, match=f"{option} must be > 0"):
            args.func(args)


def _records(curves):
    """Records of hand-made curves: ``{model: [(energy, bits), ...]}``."""
    return [{"model": m, "energy": e, "information_bits": i} for m, pts in curves.items() for e, i in pts]


CURVES = {"plastic": [(300, 1.4), (450, 2.2), (1400, 2.6)],
          "fixed": [(500, 1.2), (1200, 2.1), (1900, 2.2)],
          "deterministic": [(400, 1.5), (600, 2.2), (1500, 2.8)]}


def test_models_are_compared_at_the_target_when_every_curve_passes_it():
    records = _records(CURVES)
    assert comparison_level(records, 2.0) == 2.0
    lines = comparison_lines(records, 2.0)
    assert lines[0].startswith("energy needed for I = 2 bits: plastic")
    assert "plastic release is the cheapest" in lines[1]


def test_an_unreached_target_falls_back_to_the_highest_level_all_pass_and_says_so():
    records = _records(CURVES)                     # fixed tops out at 2.2 bits
    assert comparison_level(records, 2.5) == 2.0
    assert comparison_level(records, 2.3) == 2.0   # multiples of a quarter bit below the target
    lines = comparison_lines(records, 2.5)
    assert "not every model's curve passes 2.5 bits" in lines[0] and "fixed: at most 2.20 bits" in lines[0]
    assert "comparing at 2 bits" in lines[0]
    assert lines[1].startswith("energy needed for I = 2 bits")


def test_a_level_reached_only_at_the_lowest_energy_does_not_count():
    records = _records(CURVES)                     # every fixed point is above 1 bit: no crossing
    assert comparison_level(records, 1.0) is None
    assert "this run cannot compare" in comparison_lines(records, 1.0)[0]


def test_plastic_release_that_is_not_cheapest_is_reported_with_the_command_that_shows_it():
    curves = dict(CURVES, plastic=[(600, 1.4), (900, 2.2), (1400, 2.6)])
    lines = comparison_lines(_records(curves), 2.0)
    assert "plastic release is not the cheapest here" in lines[-1]
    assert "minisyn energy-info, no options" in lines[-1]


def test_quick_preset_plastic_release_needs_least_energy_for_the_same_information(tmp_path):
    """Fig. 1 at the quick preset, shortened to 20 epochs and three L2 values (about 15 s):
    at 1.75 bits, which all three curves pass, plastic release needs clearly less energy than
    deterministic synapses (0.83-0.88 of it in seeds 0-2) and than fixed release (0.41-0.63)."""
    q = QUICK_SETTINGS
    with kit.blas_threads():                       # as the command runs
        res = run_energy_info(tmp_path, l2s=[1e-2, 10 ** -1.5, 1e-1], sizes=q["sizes"], epochs=20,
                              batch_size=q["batch_size"], lr=q["lr"], inputs=q["inputs"], target_bits=1.75,
                              dataset="embedded", progress=False, plot=False, log=lambda m: None)
    assert res["comparison"]["level_bits"] == 1.75
    e = res["comparison"]["energy"]
    assert e["plastic"] < 0.93 * e["deterministic"]
    assert e["plastic"] < 0.8 * e["fixed"]


def test_demo_passes_an_explicit_zero_on_and_reports_the_refusal(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("fig1_energy_information",
                                                  ROOT / "demos" / "paper_b_fig1_energy_information.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert demo.main(["--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "--epochs must be >= 1, got 0" in capsys.readouterr().err
