"""Bayes by backprop (MODEL.md §A8): the closed-form KL cost, and the Fig. 7 comparison end to end."""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_grad_close, assert_mc_mean, f64, fd_atol, numerical_grad

from minisyn.backend import Backend
from minisyn.costs import EntropicCost, GaussianPriorKL, L2Cost
from minisyn.experiments import bayes, kit

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(sizes=(784, 16, 10), rhos=[0.5, 2.0], epochs=1, batch_size=20, train_limit=200, test_limit=100,
            lr=1e-2, sigma_init=1e-2, eval_samples=2, progress=False, log=lambda m: None)


def _kl_closed_form(mu, sigma, sp):
    return np.log(sp / sigma) + (sigma**2 + mu**2) / (2 * sp**2) - 0.5


# -- the KL cost ------------------------------------------------------------------------
def test_kl_gradient_by_finite_differences(backends):
    if backends == "cupy":
        pytest.skip("finite differences run on the host")
    be = Backend(backends, "float64")
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.02, 2.0, (2, 3, 4))
    sp = [0.1, 1.5]                                   # one prior per ensemble member
    cost = GaussianPriorKL(sp)
    value = lambda: be.to_numpy(cost.value(be.floats(sigma), be)).sum()  # noqa: E731
    num = numerical_grad(value, sigma)
    v, g = cost.value_and_grad(be.floats(sigma), be)
    assert_grad_close(be.to_numpy(g), num, atol=fd_atol(value()), name="dKL/dsigma")
    assert_grad_close(be.to_numpy(cost.grad(be.floats(sigma), be)), num, atol=fd_atol(value()))
    # the sigma part is the entropic cost plus sigma^2 / (2 s_p^2) (plus a constant)
    sp_b = np.array(sp)[:, None, None]
    ent = be.to_numpy(EntropicCost().grad(be.floats(sigma), be))
    np.testing.assert_allclose(be.to_numpy(g), ent + sigma / sp_b**2, rtol=1e-12)


def test_kl_value_matches_closed_form_and_monte_carlo():
    be = f64()
    rng = np.random.default_rng(1)
    mu, sigma, sp = rng.normal(0, 0.3, (3, 4)), rng.uniform(0.05, 0.8, (3, 4)), 0.4
    cost = GaussianPriorKL(sp)
    expected = _kl_closed_form(mu, sigma, sp)
    assert float(cost.kl(mu, sigma, be)) == pytest.approx(expected.sum(), rel=1e-12)
    # sigma part + mu part (L2Cost(1/s_p^2), i.e. mu^2 / (2 s_p^2)) sum to the KL
    assert isinstance(cost.mu_cost(), L2Cost) and cost.mu_cost().lam == pytest.approx(1 / sp**2)
    parts = sum(float(c.value(sigma if c.target == "sigma" else mu, be)) for c in cost.costs())
    assert parts == pytest.approx(expected.sum(), rel=1e-12)
    # Monte Carlo: KL = E_q[log q(w) - log p(w)], per synapse
    w = mu + sigma * rng.standard_normal((200_000,) + mu.shape)
    log_q = -0.5 * ((w - mu) / sigma) ** 2 - np.log(sigma)
    log_p = -0.5 * (w / sp) ** 2 - np.log(sp)
    assert_mc_mean(log_q - log_p, expected, name="KL per synapse")


def test_kl_rejects_bad_prior():
    with pytest.raises(ValueError, match="prior_sigma"):
        GaussianPriorKL(0.0)


def test_kl_through_add_costs_gives_kl_over_n_and_its_gradient(backends):
    if backends == "cupy":
        pytest.skip("finite differences run on the host")
    from minisyn.network import MLP

    be = Backend(backends, "float64")
    net = MLP((3, 2), "gaussian", be, seed=0, sigma_init=0.3)
    kl, n = GaussianPriorKL(0.5), 7
    net.zero_grad()
    value = float(be.to_numpy(net.add_costs(kl.costs(), n)))
    layer = net.synaptic[0]
    mu, sig = be.to_numpy(layer.mu.value), be.to_numpy(layer.sigma())
    assert value == pytest.approx(_kl_closed_form(mu, sig, 0.5).sum() / n, rel=1e-12)
    if backends != "numpy":
        return
    phi = layer.phi.value
    f = lambda: float(net.add_costs(kl.costs(), n))  # noqa: E731
    net.zero_grad()
    net.add_costs(kl.costs(), n)
    g_phi, g_mu = layer.phi.grad.copy(), layer.mu.grad.copy()
    assert_grad_close(g_phi, numerical_grad(f, phi), atol=fd_atol(f()), name="dKL/dphi")
    assert_grad_close(g_mu, numerical_grad(f, layer.mu.value), atol=fd_atol(f()), name="dKL/dmu")


def test_comparison_statistics_recover_a_known_power_law():
    rng = np.random.default_rng(2)
    sp = {f"sigma{i}": np.exp(rng.normal(-2, 1, (5, 7))) for i in range(2)}
    ee = {k: np.exp(0.3) * v ** 0.6 for k, v in sp.items()}
    rows = bayes.compare_sigmas(ee, sp, rho=4 / 3)
    assert [r["layer"] for r in rows] == ["0", "1", "all"]
    for r in rows:
        assert r["pearson_log"] == pytest.approx(1.0) and r["slope"] == pytest.approx(0.6)
        assert r["intercept"] == pytest.approx(0.3) and r["predicted_slope"] == pytest.approx(0.6)
    p = rng.dirichlet(np.ones(3), 50)
    y = rng.integers(0, 3, 50)
    s = bayes.compare_predictive(p, p, y, 0.5)
    assert s["pearson_p_true"] == pytest.approx(1.0) and s["nll_ee"] == s["nll_bbb"]
    assert s["agreement_argmax"] == 1.0


def test_cost_weights_are_the_s_form_unless_one_c_is_given():
    rhos = [0.5, 2.0]
    assert bayes.cost_weights(rhos, s=0.1) == pytest.approx([0.1 ** 0.5 / 0.5, 0.1 ** 2 / 2])
    assert bayes.cost_weights(rhos, s=0.1, c=0.0) == [0.0, 0.0]            # an explicit 0 is kept
    with pytest.raises(ValueError, match="s > 0"):
        bayes.cost_weights(rhos, s=0.0)


def test_likelihood_masks_keep_posteriors_well_inside_the_prior():
    bbb = {"sigma0": np.array([[0.1, 0.49, 0.51, 0.99]]), "sigma1": np.array([[0.2, 0.9]])}
    active = {0: np.array([[True, True, True, False]]), 1: np.ones((1, 2), bool)}
    m = bayes.likelihood_masks(bbb, prior_sigma=1.0, masks=active)
    assert m[0].tolist() == [[True, True, False, False]] and m[1].tolist() == [[True, False]]


def test_slope_order_is_falling_slopes_as_rho_rises():
    rows = [{"rho": r, "synapses": "likelihood", "layer": "all", "slope": v} for r, v in ((2.0, 0.5), (0.5, 0.8))]
    assert bayes.slope_order(rows) == (True, {0.5: 0.8, 2.0: 0.5})
    rows[0]["slope"] = 0.9
    assert bayes.slope_order(rows)[0] is False


# -- the experiment ------------------------------------------------------------------------
def test_tiny_experiment_writes_finite_outputs_and_resumes(tmp_path, monkeypatch):
    be = Backend("numpy", "float32")
    res = bayes.run_bayes(tmp_path, backend=be, **TINY)
    assert res["trained"] == 3 and res["skipped"] == 0
    for rec in res["records"]:
        assert rec["status"] == "finished"
        assert np.all(np.isfinite([rec["sigma_bar"], *rec["test_accuracy"].values()]))
    assert np.isfinite(res["records"][0]["kl"]) and res["records"][0]["kl"] > 0
    for r in res["sigma_rows"]:
        assert r["synapses"] in ("likelihood", "active")
        if r["synapses"] == "active":
            assert np.isfinite([r["pearson_log"], r["slope"]]).all()
            assert r["layer"] != "0" or r["n_excluded"] > 0      # the always-blank pixels are left out
    for lik, act in zip(*([r for r in res["sigma_rows"] if r["synapses"] == s] for s in ("likelihood", "active"))):
        assert (lik["rho"], lik["layer"]) == (act["rho"], act["layer"]) and lik["n_synapses"] <= act["n_synapses"]
    for r in res["predictive_rows"]:
        assert all(np.isfinite(v) for v in r.values())
    with open(tmp_path / "bayes_sigmas.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2 * 3 * 2          # rho x (2 layers, all) x (likelihood, active)
    with open(tmp_path / "bayes_predictive.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2
    summary = json.loads((tmp_path / "bayes.json").read_text())
    assert len(summary["runs"]) == 3
    for stem in ("fig7_bayes_sigmas", "fig7_bayes_slopes", "app4_fig1_predictive"):
        for ext in ("png", "pdf"):
            assert (tmp_path / f"{stem}.{ext}").stat().st_size > 0
    with np.load(next((tmp_path / "runs").glob("bbb_*.npz"))) as f:
        assert f["probs"].shape == (100, 10) and np.allclose(f["probs"].sum(-1), 1, atol=1e-5)
        # --test-limit keeps the kit's random subset of the test set (the same in every command)
        y_test = kit.prepare_data(train_limit=200, test_limit=100, seed=0).y_test
        bbb_acc = float((f["probs"].argmax(-1) == y_test).mean())
    assert res["predictive_rows"][0]["acc_bbb"] == bbb_acc

    # resume: nothing is retrained and the saved runs are untouched
    runs = sorted((tmp_path / "runs").iterdir())
    mtimes = {p.name: p.stat().st_mtime_ns for p in runs}

    def refuse(*a, **k):
        raise AssertionError("a finished run was retrained")

    monkeypatch.setattr(bayes, "train_ee", refuse)
    monkeypatch.setattr(bayes, "train_bbb", refuse)
    res2 = bayes.run_bayes(tmp_path, backend=be, plot=False, **TINY)
    assert res2["trained"] == 0 and res2["skipped"] == 3
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()} == mtimes
    assert res2["sigma_rows"] == res["sigma_rows"]
    with pytest.raises(ValueError, match="other settings"):
        bayes.run_bayes(tmp_path, backend=be, plot=False, **dict(TINY, epochs=2))


def test_quick_comparison_shows_correlated_sigmas_and_slopes_falling_with_rho(tmp_path):
    """Fig. 7b at the quick preset, smaller (784-20-10, rho 1/2 and 2; ~3 s): over the synapses whose
    posterior the data set, log sigma_EE and log sigma_post are strongly correlated, and the
    fitted slope falls as rho rises (linear model: 0.80 and 0.50)."""
    res = bayes.run_bayes(tmp_path, rhos=[0.5, 2.0], sizes=(784, 20, 10), backend=Backend("numpy", "float32"),
                          plot=False, progress=False, log=lambda m: None)
    rows = {r["rho"]: r for r in res["sigma_rows"] if r["synapses"] == "likelihood" and r["layer"] == "all"}
    assert rows[0.5]["n_synapses"] > 1000
    for r in rows.values():
        assert r["pearson_log"] > 0.5, r
    assert rows[0.5]["slope"] > rows[2.0]["slope"] + 0.15, rows
    assert 0.5 < rows[0.5]["slope"] < 1.1 and 0.2 < rows[2.0]["slope"] < 0.8, rows
    assert res["ordered"]


def _as_saved_before_the_kit(out):
    """Rewrite the runs in ``out`` as minisyn saved them before the test subset became the kit's."""
    for path in (out / "runs").glob("*.json"):
        rec = json.loads(path.read_text())
        del rec["settings"]["test_subset"]
        path.write_text(json.dumps(rec))


def test_runs_saved_before_the_kit_resume_unless_they_used_a_test_limit(tmp_path, monkeypatch):
    be = Backend("numpy", "float32")
    small = dict(TINY, sizes=(784, 4, 10), rhos=[0.5], train_limit=40, plot=False)
    bayes.run_bayes(tmp_path / "all", backend=be, **dict(small, test_limit=None))
    bayes.run_bayes(tmp_path / "first", backend=be, **dict(small, test_limit=20))
    _as_saved_before_the_kit(tmp_path / "all")
    _as_saved_before_the_kit(tmp_path / "first")
    monkeypatch.setattr(bayes, "train_ee", lambda *a, **k: pytest.fail("retrained a saved run"))
    monkeypatch.setattr(bayes, "train_bbb", lambda *a, **k: pytest.fail("retrained a saved run"))
    # every test example, in order: the same data either way, so the runs resume
    assert bayes.run_bayes(tmp_path / "all", backend=be, **dict(small, test_limit=None))["trained"] == 0
    # the first N test examples then, a random N now: the saved predictions belong to other examples
    with pytest.raises(ValueError, match="test_subset: saved 'first', now 'random'"):
        bayes.run_bayes(tmp_path / "first", backend=be, **dict(small, test_limit=20))


def test_experiment_runs_on_the_strict_backend(tmp_path):
    be = Backend("strict", "float64")
    res = bayes.run_bayes(tmp_path, backend=be, plot=False,
                          **dict(TINY, sizes=(784, 4, 10), rhos=[0.5], train_limit=40, test_limit=20))
    assert res["trained"] == 2
    assert all(np.isfinite(r["slope"]) for r in res["sigma_rows"])


def test_ee_and_bbb_start_from_the_same_network():
    """Same seed: the same initial means (the comparison is paired synapse by synapse)."""
    from minisyn.network import MLP

    be = f64()
    lone = MLP((784, 8, 10), "gaussian", be, seed=5, sigma_init=1e-2)
    ens = MLP((784, 8, 10), "gaussian", be, seed=[5, 5], ensemble=2, sigma_init=1e-2)
    for a, b in zip(lone.synaptic, ens.synaptic):
        np.testing.assert_array_equal(a.mu.value, b.mu.value[1])


def test_command_line(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    bayes.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bayes", "--rho", "1/2", "--sizes", "784,4,10", "--epochs", "1", "--train-limit", "40",
                              "--test-limit", "20", "--eval-samples", "2", "--out", str(tmp_path), "--no-progress"])
    assert args.rho == [0.5] and args.prior_sigma is None           # unset: the preset fills it
    assert args.func(args) == 0
    assert args.prior_sigma == bayes.QUICK_SETTINGS["prior_sigma"] and args.epochs == 1
    assert "trained 2" in capsys.readouterr().out
    for bad, message in ((["--epochs", "0"], "--epochs must be >= 1"), (["--test-limit", "0"], "--test-limit must"),
                         (["--rho", "0,2"], "--rho values must be > 0"), (["--prior-sigma", "0"], "--prior-sigma"),
                         (["--adam-b2", "1"], "--adam-b2 must lie in")):
        args = parser.parse_args(["bayes", "--out", str(tmp_path / "bad"), *bad])
        with pytest.raises(kit.CLIError, match=message):
            args.func(args)
    with pytest.raises(SystemExit):                        # bayes compares on the test set: no validation split
        parser.parse_args(["bayes", "--val-fraction", "0.1"])


def test_demo_quick_form_runs(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("fig7_bayes", ROOT / "demos" / "paper_a_fig7_bayes.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    rc = demo.main(["--out", str(tmp_path), "--no-progress", "--rho", "0.5,2", "--sizes", "784,8,10",
                    "--epochs", "1", "--train-limit", "100", "--test-limit", "50", "--eval-samples", "2"])
    assert rc == 0
    assert (tmp_path / "fig7_bayes_slopes.png").exists() and (tmp_path / "app4_fig1_predictive.pdf").exists()
    assert "r(p_true)" in capsys.readouterr().out
