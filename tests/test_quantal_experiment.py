"""``minisyn quantal`` and demos/paper_ab_quantal.py (MODEL.md Part C): tiny end-to-end runs,
resume, the command's options, and the quick default showing both papers' signatures."""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from minisyn.backend import Backend
from minisyn.experiments import kit, quantal

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(sizes=(784, 12, 10), epochs=1, batch_size=20, train_limit=100, fisher_examples=30, progress=False,
            log=lambda m: None)


def parser():
    p = argparse.ArgumentParser()
    quantal.register(p.add_subparsers())
    return p


def test_grid_writes_runs_tables_figures_and_resumes(tmp_path, monkeypatch):
    be = Backend("numpy", "float32")
    res = quantal.run_quantal(tmp_path, mechanisms=["calcium", "actin"], n_sites=[1, 3], backend=be, **TINY)
    assert [(r["mechanism"], r["n"]) for r in res["records"]] == [("calcium", 1), ("calcium", 3), ("actin", 1),
                                                                  ("actin", 3)]
    for rec in res["records"]:
        assert 0 <= rec["test_accuracy"]["sampled"] <= 1 and rec["energy"] > 0 and len(rec["layers"]) == 2
        assert all(-1 <= row["spearman_p"] <= 1 for row in rec["layers"])
    assert len(list((tmp_path / "runs").glob("*.npz"))) == 4
    with open(tmp_path / "quantal.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(np.isfinite(float(r["acc_sampled"])) for r in rows)
    assert json.loads((tmp_path / "quantal.json").read_text())["records"][0]["mechanism"] == "calcium"
    for stem in ("quantal_signatures", "quantal_energy"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 0 and (tmp_path / f"{stem}.pdf").stat().st_size > 0

    calls = []
    monkeypatch.setattr(quantal, "train_one", lambda *a, **k: calls.append(1))
    again = quantal.run_quantal(tmp_path, mechanisms=["calcium", "actin"], n_sites=[1, 3], backend=be, **TINY)
    assert not calls and again["records"] == res["records"]
    with pytest.raises(ValueError, match="other settings"):
        quantal.run_quantal(tmp_path, mechanisms=["calcium"], n_sites=[1], backend=be, **dict(TINY, epochs=2))


def test_command_runs_the_quick_preset_with_overrides(tmp_path, capsys):
    args = parser().parse_args(["quantal", "--mechanisms", "trafficking", "--n-sites", "2", "--epochs", "1",
                                "--train-limit", "100", "--sizes", "784,8,10", "--fisher-examples", "20",
                                "--no-progress", "--out", str(tmp_path)])
    assert args.func(args) == 0
    assert (args.dataset, args.lr, args.c) == ("embedded", quantal.QUICK["lr"], quantal.QUICK["c"])
    printed = capsys.readouterr().out
    assert "trafficking" in printed and "S(p,F)" in printed


@pytest.mark.parametrize("argv, match", [
    (["--mechanisms", "ATP"], "unknown mechanism"), (["--n-sites", "0"], "--n-sites"),
    (["--epochs", "0"], "--epochs"), (["--p-init", "1"], "--p-init"), (["--c", "-1"], "--c"),
])
def test_command_refuses_bad_options_by_name(tmp_path, argv, match):
    args = parser().parse_args(["quantal", *argv, "--train-limit", "50", "--sizes", "784,4,10",
                                "--out", str(tmp_path)])
    with pytest.raises(kit.CLIError, match=match):
        args.func(args)


def test_paper_preset_takes_mnist_and_every_mechanism():
    args = parser().parse_args(["quantal", "--paper", "--epochs", "3"])
    kit.apply_preset(args, quantal.QUICK, quantal.PAPER, use_paper=args.paper)
    assert args.dataset == "mnist" and args.mechanisms == list(quantal.MECHANISMS) and args.epochs == 3


def test_demo_runs_and_resumes(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("paper_ab_quantal", ROOT / "demos" / "paper_ab_quantal.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    argv = ["--out", str(tmp_path), "--mechanisms", "calcium", "--n-sites", "1", "--epochs", "1", "--sizes",
            "784,8,10", "--train-limit", "60", "--fisher-examples", "20", "--no-progress"]
    assert demo.main(argv) == 0 and demo.main(argv) == 0
    assert (tmp_path / "quantal_signatures.png").exists() and "calcium" in capsys.readouterr().out


@pytest.mark.slow
def test_quick_default_shows_both_signatures_under_calcium_and_their_reversal_under_membrane(tmp_path):
    """Paper A: sigma falls with the Fisher information; Paper B: p rises with it (first layer)."""
    q = {k: v for k, v in quantal.QUICK.items()}
    res = quantal.run_quantal(tmp_path, **q, backend=Backend("numpy", "float32"), progress=False,
                              log=lambda m: None)
    by = {(r["mechanism"], r["n"]): r for r in res["records"]}
    first = by[("calcium", 5)]["layers"][0]
    assert first["spearman_sigma"] < -0.3 and first["spearman_p"] > 0.3
    reversed_ = by[("membrane", 5)]["layers"][0]
    assert reversed_["spearman_sigma"] > 0 and reversed_["spearman_p"] < 0
    assert by[("calcium", 5)]["test_accuracy"]["sampled"] > 0.85
