"""Smoke tests of the closed-form demos (demos/fig1c_*, fig4_*, fig_linear_theory, fig_bound)."""
from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

DEMOS = Path(__file__).resolve().parents[1] / "demos"
OUTPUTS = {
    "paper_a_fig1c_reliability_costs": ("costs.csv",),
    "paper_a_fig4_two_synapses": ("samples.csv",),
    "paper_a_fig_linear_theory": ("sigmas.csv",),
    "paper_a_fig_bound": ("bound.csv",),
}


def load_demo(name):
    spec = importlib.util.spec_from_file_location(f"demo_{name}", DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numbers(obj):
    """Every number in a JSON document."""
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in numbers(v)]
    return [obj] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_demo_writes_figures_and_finite_data(name, tmp_path, capsys):
    out = tmp_path / name
    assert load_demo(name).main(["--out", str(out)]) == 0
    for ext in ("png", "pdf"):
        assert (out / f"{name}.{ext}").stat().st_size > 1000
    values = numbers(json.loads((out / "results.json").read_text()))
    assert values and all(math.isfinite(v) for v in values)
    for table in OUTPUTS[name]:
        rows = list(csv.reader((out / table).read_text().splitlines()))
        data = np.array(rows[1:], dtype=float)
        assert data.shape[0] > 10 and data.shape[1] == len(rows[0])
        assert np.isfinite(data).all()
    assert "saved in" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_demo_refuses_to_overwrite_results_without_force(name, tmp_path, capsys):
    (tmp_path / "results.json").write_text("{}")
    assert load_demo(name).main(["--out", str(tmp_path)]) == 2
    assert (tmp_path / "results.json").read_text() == "{}"
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_demo_help_prints_each_default_once(name, capsys):
    with pytest.raises(SystemExit) as exc:
        load_demo(name).main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert f"(default: runs/{name})" in text
    assert "(default: %" not in text
    for line in text.splitlines():
        assert line.count("default") <= 1, line


@pytest.mark.parametrize("name, option", [("paper_a_fig1c_reliability_costs", "--mu"), ("paper_a_fig4_two_synapses", "--rho"),
                                          ("paper_a_fig4_two_synapses", "--seed"), ("paper_a_fig_linear_theory", "--c"),
                                          ("paper_a_fig_linear_theory", "--seed"), ("paper_a_fig_bound", "--s")])
def test_demo_refuses_a_bad_value_naming_the_option(name, option, tmp_path, capsys):
    out = tmp_path / "out"
    assert load_demo(name).main(["--out", str(out), option, "-1"]) == 2
    assert option in capsys.readouterr().err
    assert not out.exists()


def test_demo_options_take_fractions(tmp_path):
    r = load_demo("paper_a_fig4_two_synapses").main(["--out", str(tmp_path), "--rho", "2/3", "--c", "1/20"])
    assert r == 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rho"] == pytest.approx(2 / 3) and saved["c"] == pytest.approx(0.05)


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_demo_uses_the_installed_kit_not_the_cli(name):
    source = (DEMOS / f"{name}.py").read_text()
    assert "minisyn.cli" not in source and "sys.path" not in source


def test_linear_theory_fitted_slopes_match_minus_one_over_two_plus_rho():
    fits = load_demo("paper_a_fig_linear_theory").fit_slopes()
    assert [f["rho"] for f in fits.values()] == pytest.approx([1 / 2, 2 / 3, 4 / 3, 2])
    for f in fits.values():
        assert abs(f["fitted_slope_hessian"] - (-1 / (2 + f["rho"]))) < 0.03
        assert abs(f["fitted_slope_posterior"] - 2 / (2 + f["rho"])) < 0.03


def test_fig1c_fitted_slopes_are_minus_rho():
    demo = load_demo("paper_a_fig1c_reliability_costs")
    curves = demo.cost_curves(np.logspace(-1, 0.5, 20))
    for cur in curves.values():
        assert cur["slope"] == pytest.approx(-cur["rho"], rel=1e-9)


def test_fig4_heterogeneous_noise_has_lower_expected_cost(tmp_path):
    r = load_demo("paper_a_fig4_two_synapses").run(tmp_path, h=(10.0, 0.5), c=0.05, rho=2.0)
    assert r["expected_cost_heterogeneous"] < r["expected_cost_homogeneous"]
    assert r["total_cost_heterogeneous"] < r["total_cost_homogeneous"]


def test_fig_bound_gap_is_never_negative_and_zero_at_s(tmp_path):
    r = load_demo("paper_a_fig_bound").run(tmp_path, s=0.5)
    assert min(r["min_gap"].values()) >= -1e-12
    assert max(abs(g) for g in r["gap_at_sigma_equal_s"].values()) <= 1e-12
