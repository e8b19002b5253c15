"""`minisyn importance`: its quick preset shows Fig. 5's signs, and the log-log slope of sigma
against the Fisher estimate is fitted per layer beside the linear model's (MODEL.md §A6, §A7)."""
import argparse
import json

import numpy as np
import pytest

from minisyn.backend import Backend
from minisyn.experiments import importance, kit
from minisyn.theory import predicted_slopes

from helpers import MNIST_DIR, needs_mnist


def test_quick_preset_puts_sigma_against_fisher_negative_and_against_adam_lr_positive(tmp_path):
    """The quick preset's training (10 + 2 epochs from sigma 1e-2 at lr 1e-3) on 1,000 embedded
    digits and a narrower network: in every layer, Spearman's rho of sigma with the Fisher
    estimate is below -0.5 and with Adam's learning rate above +0.5 (§A6; measured about -0.8
    to -0.9 and +0.9 to +1.0). The paper's sigma_init and lr at this length give layer 1 the
    opposite signs (docs/results/importance.md)."""
    res = importance.run_importance(tmp_path, sizes=(784, 32, 32, 10), train_limit=1000,
                                    backend=Backend("numpy", "float32"), progress=False, plot=False,
                                    log=lambda m: None)
    assert res["results"]["settings"]["epochs"] == importance.QUICK["epochs"]
    assert len(res["correlations"]) == 3
    for row in res["correlations"]:
        assert row["fisher"]["rho"] < -0.5
        assert row["adam_lr"]["rho"] > 0.5


def test_loglog_slope_recovers_the_exponent_of_a_power_law():
    """sigma = k H^(-1/(2+rho)) exactly (the linear model's optimum, §A7): the fit returns the
    predicted slope; inactive inputs and zero Fisher values are left out of the fit."""
    rng = np.random.default_rng(0)
    rho = 2 / 3
    fisher = 10.0 ** rng.uniform(-8, -2, size=(5, 40))
    fisher[:, :3] = 0.0                                          # never-active inputs
    rate = np.where(np.arange(40) < 3, 0.0, 0.5)
    sigma = 0.3 * np.where(fisher > 0, fisher, 1.0) ** predicted_slopes(rho)[1]
    layer = {"sigma": sigma, "fisher": fisher, "input_rate": np.broadcast_to(rate, sigma.shape)}
    (fit,) = importance.loglog_slopes([layer], rho)
    assert fit["n"] == 5 * 37
    assert fit["predicted"] == pytest.approx(-1 / (2 + rho))
    assert fit["fitted"] == pytest.approx(fit["predicted"], abs=1e-9)
    assert fit["fitted_upper_half"] == pytest.approx(fit["predicted"], abs=1e-9)
    assert np.exp(fit["intercept"]) == pytest.approx(0.3, rel=1e-9)
    layer["fisher"] = np.where(fisher > 0, 1e-3, 0.0)              # one value: no line
    assert np.isnan(importance.loglog_slopes([layer], rho)[0]["fitted"])


def test_upper_half_fit_ignores_the_synapses_of_rarely_active_inputs():
    """Below the median Fisher, sigma is set to a constant (as where the cost alone pushed it
    and training stopped): the fit over all synapses flattens, the upper half's does not."""
    rng = np.random.default_rng(1)
    fisher = 10.0 ** rng.uniform(-8, -2, size=(4, 50))
    sigma = 0.3 * fisher ** -0.4
    low = fisher < np.median(fisher)
    sigma[low] = 10.0
    layer = {"sigma": sigma, "fisher": fisher, "input_rate": np.full(sigma.shape, 0.5)}
    (fit,) = importance.loglog_slopes([layer], 0.5)
    assert fit["fitted_upper_half"] == pytest.approx(-0.4, abs=1e-9)
    assert abs(fit["fitted"] - -0.4) > 0.1


def test_the_slope_of_every_layer_is_saved_and_printed_beside_the_prediction(tmp_path, capsys):
    res = importance.run_importance(tmp_path, sizes=(784, 8, 10), epochs=1, extra_epochs=1, train_limit=100, rho=2,
                                    backend=Backend("numpy", "float32"), progress=False, plot=False,
                                    log=lambda m: None)
    saved = json.loads((tmp_path / "importance.json").read_text())
    slopes = saved["loglog_slope_sigma_vs_fisher"]
    assert set(slopes) == {"layer1", "layer2"}
    for fit, row in zip(slopes.values(), res["slopes"]):
        assert fit["fitted"] == row["fitted"] and fit["n"] == row["n"]
        assert fit["predicted"] == pytest.approx(-0.25) and np.isfinite(fit["fitted"]) and fit["n"] > 2
    importance.print_slopes(res["slopes"])
    printed = capsys.readouterr().out
    assert "log-log slope of sigma against the Fisher estimate" in printed and "-0.250" in printed


def test_presets_fill_only_the_options_left_unset():
    parser = argparse.ArgumentParser()
    importance.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["importance"])
    assert kit.apply_preset(args, importance.QUICK, importance.PAPER, use_paper=args.paper) == "quick"
    assert (args.epochs, args.extra_epochs, args.lr, args.sigma_init) == (10, 2, 1e-3, 1e-2)
    args = parser.parse_args(["importance", "--paper", "--epochs", "0"])
    kit.apply_preset(args, importance.QUICK, importance.PAPER, use_paper=args.paper)
    assert (args.epochs, args.extra_epochs, args.lr, args.sigma_init) == (0, 10, 5e-4, 1e-4)


def test_frozen_accumulation_changes_nothing_and_records_the_whole_objectives_gradient():
    """The authors' Fig. 5 code: no step during accumulation; g = d(CE + costs / N)/d mu (A12)."""
    from minisyn.costs import L1Cost, PowerLawCost
    from minisyn.losses import one_hot
    from minisyn.network import MLP
    from minisyn.optim import Adam

    be = Backend("numpy", "float64")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    net = MLP((6, 5, 5, 3), "gaussian", be, seed=1, sigma_init=0.05, relu_after=(False, True, True))
    opt = Adam(net.params(), 1e-2, be)
    costs = [PowerLawCost(1e-2, 0.5), L1Cost(0.5)]
    before = [p.value.copy() for p in net.params()]
    stats = importance.accumulate_importance(net, opt, x, y, epochs=1, batch_size=40, costs=costs, frozen=True)
    assert all((p.value == b).all() for p, b in zip(net.params(), before))
    # one batch of all 40 examples: the Fisher is g^2 of one whole-objective gradient, drawn with the
    # noise the next draw of a fresh generator with the same seed gives
    twin = MLP((6, 5, 5, 3), "gaussian", be, seed=1, sigma_init=0.05, relu_after=(False, True, True))
    twin.zero_grad()
    twin.objective(x, one_hot(y, 3, np, be.dtype), 40, costs)
    for layer, got in zip(twin.synaptic, stats):
        g = layer.mu.grad[..., :layer.n_in]
        np.testing.assert_allclose(got["fisher"], g * g, rtol=1e-12, atol=1e-300)
    ce_only = MLP((6, 5, 5, 3), "gaussian", be, seed=1, sigma_init=0.05, relu_after=(False, True, True))
    ce_only.zero_grad()
    ce_only.objective(x, one_hot(y, 3, np, be.dtype), 40)
    g_ce = ce_only.synaptic[0].mu.grad[..., :6]
    assert np.abs(stats[0]["fisher"] - g_ce * g_ce).max() > 1e-6        # the L1 cost's gradient is in it


def test_the_authors_preset_sets_what_their_fig5_code_does(monkeypatch, tmp_path):
    parser = argparse.ArgumentParser()
    importance.register(parser.add_subparsers(dest="command"))
    seen = {}

    def fake(out, **kw):
        seen.update(kw)
        return {"correlations": [], "slopes": [], "results": {}}

    monkeypatch.setattr(importance, "run_importance", fake)
    monkeypatch.setattr(importance, "print_slopes", lambda slopes: None)
    args = parser.parse_args(["importance", "--authors", "--epochs", "3", "--out", str(tmp_path / "a")])
    assert args.func(args) == 0
    assert (seen["epochs"], seen["extra_epochs"], seen["lr"], seen["sigma_init"], seen["lam"]) == \
        (3, 10, 1e-4, 1e-4, 0.01)
    assert seen["inputs"] == "standardized" and seen["frozen"] is True
    assert seen["relu_after"] == (False, True, True) and seen["backend"].dtype == np.float64
    args = parser.parse_args(["importance", "--out", str(tmp_path / "q")])
    assert args.func(args) == 0
    assert (seen["lam"], seen["inputs"], seen["frozen"], seen["relu_after"]) == (1e-4, "unit", False, None)
    args = parser.parse_args(["importance", "--authors", "--paper", "--out", str(tmp_path / "b")])
    with pytest.raises(kit.CLIError, match="two presets"):
        args.func(args)


@needs_mnist
def test_a_run_of_the_authors_network_on_mnist_is_set_beside_their_fig5_data(tmp_path):
    kw = dict(epochs=0, extra_epochs=1, train_limit=100, rho=2 / 3, dataset="mnist", data_dir=MNIST_DIR,
              download=False, backend=Backend("numpy", "float32"), progress=False, plot=False, log=lambda m: None)
    res = importance.run_importance(tmp_path / "authors_net", sizes=(784, 100, 100, 10), **kw)
    saved = json.loads((tmp_path / "authors_net" / "importance.json").read_text())
    rows = saved["published_fig5"]
    assert len(rows) == 15 and (tmp_path / "authors_net" / "published_comparison.csv").is_file()
    fisher = [r for r in rows if r["statistic"] == "spearman_fisher"]
    assert [r["ours"] for r in fisher] == pytest.approx([row["fisher"]["rho"] for row in res["correlations"]])
    importance.run_importance(tmp_path / "other_net", sizes=(784, 8, 10), **kw)
    assert not (tmp_path / "other_net" / "published_comparison.csv").exists()
    assert "published_fig5" not in json.loads((tmp_path / "other_net" / "importance.json").read_text())
