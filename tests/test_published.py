"""The authors' published Fig. 2/3 data and the pairing of sweep records with it
(minisyn.experiments.published; docs/results/differences.md, A4 and A6)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from minisyn.experiments import published


def record_from(row, c, shift=0.0):
    """A sweep record that reproduces a published point (accuracy shifted by ``shift`` points)."""
    return {"noise": row["noise"], "rho": row["rho"], "c": c,
            "test_accuracy": {"sampled": (row["accuracy_pct"] + shift) / 100, "mean": 0.0, "predictive": 0.0},
            "sigma_bar": 1.0, "sigma_bar_weights": row["sigma_bar_weights"]}


def test_both_versions_hold_every_rho_and_noise_setting_on_their_grids():
    head, first = published.load_published("head"), published.load_published("first_upload")
    assert len(head) == 4 * 2 * 30 and len(first) == 4 * 2 * 29
    for rows, n in ((head, 30), (first, 29)):
        assert {(r["rho_label"], r["noise"]) for r in rows} == {
            (rho, noise) for rho in ("1/2", "2/3", "4/3", "2") for noise in ("heterogeneous", "homogeneous")}
        assert sorted({int(r["k"]) for r in rows}) == list(range(n))
    for r in head:
        np.testing.assert_allclose(r["c_if_start_1e-4"], 10.0 ** (-4 + r["k"] / 4), rtol=1e-8)
        np.testing.assert_allclose(r["c_if_start_1e-3"], 10.0 * r["c_if_start_1e-4"], rtol=1e-8)
    for r in first:
        np.testing.assert_allclose(r["c"], 10.0 ** (-3 + r["k"] / 4), rtol=1e-8)
    assert all(0 < r["accuracy_pct"] <= 100 and r["sigma_bar_weights"] > 0 for r in head + first)


def test_records_pair_with_the_points_of_their_own_c_on_the_chosen_grid():
    head = published.load_published("head")
    records = [record_from(r, 10.0 ** (-4 + r["k"] / 4)) for r in head]       # the 1e-4 reading
    pairs = published.compare(records, grid="1e-4")
    assert len(pairs) == len(head)
    assert max(abs(p["delta_pct"]) for p in pairs) < 1e-9
    assert all(p["ours_sigma_bar"] == p["theirs_sigma_bar"] for p in pairs)
    # the same runs read on MODEL.md's grid meet the points one decade (4 steps) further on
    shifted = published.compare(records, grid="1e-3")
    assert len(shifted) == 4 * 2 * 26
    assert all(p["k"] >= 0 for p in shifted)
    assert np.mean([abs(p["delta_pct"]) for p in shifted]) > 3.0


def test_a_c_typed_with_fewer_digits_meets_its_grid_point_and_no_other():
    row = next(r for r in published.load_published("head")
               if r["noise"] == "heterogeneous" and r["rho"] == 0.5 and r["k"] == 26)      # c = 10^2.5
    assert [p["k"] for p in published.compare([record_from(row, 316.2277)])] == [26]
    assert [p["k"] for p in published.compare([record_from(row, 316.0)])] == [26]
    assert published.compare([record_from(row, 320.0)]) == []
    assert published.compare([record_from(row, 421.7)]) == []      # half way to the next point


def test_the_summary_leaves_out_points_at_chance_and_reports_mean_and_largest_gap():
    head = published.load_published("head")
    records = [record_from(r, r["c_if_start_1e-4"], shift=(2.0 if r["k"] % 2 else -4.0)) for r in head]
    s = published.summarize(published.compare(records, grid="1e-4"))
    above = [r for r in head if min(r["accuracy_pct"], r["accuracy_pct"] + (2.0 if r["k"] % 2 else -4.0))
             > 10 + published.CHANCE_MARGIN]
    assert s["all"]["n"] == len(above) < len(head)          # some published points sit at chance
    assert s["all"]["max_abs_delta"] == pytest.approx(4.0)
    expected = np.mean([2.0 if r["k"] % 2 else 4.0 for r in above])
    assert s["all"]["mean_abs_delta"] == pytest.approx(expected)
    assert set(s) == {"all"} | {f"{n} rho={rho:g}" for n in ("heterogeneous", "homogeneous")
                                for rho in (0.5, 2 / 3, 4 / 3, 2.0)}


def test_write_comparison_saves_the_table_the_summary_and_the_figure(tmp_path):
    head = [r for r in published.load_published("head") if r["rho"] in (0.5, 2.0)]
    records = [record_from(r, r["c_if_start_1e-4"], shift=1.0) for r in head]
    lines = []
    result = published.write_comparison(records, tmp_path, log=lines.append)
    assert set(result) == {"1e-4", "1e-3"}
    assert result["1e-4"]["all"]["mean_abs_delta"] == pytest.approx(1.0)
    assert json.loads((tmp_path / "published_comparison.json").read_text()) == result
    rows = (tmp_path / "published_comparison.csv").read_text().splitlines()
    assert rows[0].startswith("grid,noise,rho,c,k,ours_pct,theirs_pct,delta_pct")
    assert len(rows) == 1 + len(head) + 2 * 2 * 26
    assert (tmp_path / "published_comparison.png").stat().st_size > 0
    assert any("mean 1.00, largest 1.00 points" in line for line in lines)


def test_runs_with_no_published_counterpart_write_nothing(tmp_path):
    records = [{"noise": "heterogeneous", "rho": 0.5, "c": 0.123, "sigma_bar": 0.1,
                "test_accuracy": {"sampled": 0.9}}]
    assert published.write_comparison(records, tmp_path) == {}
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="grid"):
        published.compare(records, grid="1e-2")


# -- Fig. 5 ---------------------------------------------------------------------------
def _importance_like(value):
    """A spearman_table / loglog_slopes pair for a 3-layer network with every entry set from ``value``."""
    corr = [{q: {"rho": value(j, q), "p": 0.0, "n": 10} for q in ("fisher", "adam_lr", "proxy_lr", "input_rate")}
            for j in range(3)]
    slopes = [{"fitted": value(j, "slope_all"), "fitted_upper_half": value(j, "slope_upper_half"),
               "predicted": -0.4, "n": 10} for j in range(3)]
    return corr, slopes


def test_the_fig5_summary_holds_every_rho_and_layer_of_the_authors_network():
    rows = published.load_published_fig5()
    assert sorted({round(r["rho"], 4) for r in rows}) == [0.5, 0.6667, 1.3333, 2.0]
    for rho in {r["rho"] for r in rows}:
        fisher = [r for r in rows if r["rho"] == rho and r["quantity"] == "fisher"]
        assert [int(r["layer"]) for r in fisher] == [1, 2, 3]
        assert [int(r["n_synapses"]) for r in fisher] == [784 * 100, 100 * 100, 100 * 10]
        assert all(-1 <= r["spearman"] < 0 and r["slope_all"] < 0 for r in fisher)   # sigma falls with Fisher


def test_an_importance_run_pairs_with_the_published_statistics_of_its_own_rho():
    theirs = {(int(r["layer"]), r["quantity"]): r for r in published.load_published_fig5() if abs(r["rho"] - 2 / 3) < 1e-5}

    def value(j, q):                                   # the published value + 0.01 * (layer index + 1)
        if q.startswith("slope"):
            return theirs[(j + 1, "fisher")][q] + 0.01 * (j + 1)
        return theirs[(j + 1, q)]["spearman"] + 0.01 * (j + 1) if q != "adam_lr" else 0.5
    corr, slopes = _importance_like(value)
    rows = published.compare_importance(corr, slopes, 2 / 3)
    assert len(rows) == 3 * 5                           # 3 Spearman + 2 slopes per layer; Adam's rate not saved
    for r in rows:
        assert r["delta"] == pytest.approx(0.01 * r["layer"])
        assert r["ours"] - r["theirs"] == pytest.approx(r["delta"])
    assert published.compare_importance(corr, slopes, 0.7) == []          # no such rho in the data
    assert published.compare_importance(corr[:2], slopes[:2], 2 / 3) == []   # another network


def test_write_importance_comparison_saves_the_table_and_the_figure(tmp_path):
    corr, slopes = _importance_like(lambda j, q: -0.5 if q != "proxy_lr" else 0.5)
    log = []
    rows = published.write_importance_comparison(corr, slopes, 0.5, tmp_path, log=log.append)
    assert {p.name for p in tmp_path.iterdir()} >= {"published_comparison.csv", "published_comparison.json",
                                                     "published_comparison.png"}
    with open(tmp_path / "published_comparison.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows) == 15
    assert "largest gap" in log[0]
    assert published.write_importance_comparison(corr, slopes, 3.0, tmp_path / "none") == []
    assert not (tmp_path / "none").exists()


def test_several_runs_can_share_one_comparison_figure(tmp_path):
    def record(noise, c, acc):
        return {"noise": noise, "rho": 0.5, "c": c, "test_accuracy": {"sampled": acc}, "sigma_bar": 0.1,
                "sigma_bar_weights": 0.1}
    series = {"--paper": [record("heterogeneous", 1.0, 0.97), record("homogeneous", 1.0, 0.89)],
              "--authors": [record("heterogeneous", 1.0, 0.96)]}
    paths = published.plot_comparison(series, tmp_path, stem="both")
    assert {p.name for p in map(Path, paths)} >= {"both.png", "both.pdf"}
