"""``minisyn lifelong --authors``: the settings of paper B's authors' code (docs/results/differences.md),
and the two options it needs that change maths: BGD fed the minibatch-summed gradient (B16) and the
authors' ghost release probabilities (B1)."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from helpers import assert_mc_mean, f64
from minisyn.baselines import BGD
from minisyn.experiments import kit
from minisyn.experiments import lifelong as L
from minisyn.layers import BernoulliLinear
from minisyn.losses import one_hot
from minisyn.network import MLP
from minisyn.optim import Adam

TINY_ARGS = ["--train-limit", "200", "--test-limit", "100", "--sizes", "8", "--epochs-per-task", "1",
             "--batch-size", "20", "--n-seeds", "1", "--fisher-samples", "10", "--bgd-samples", "2",
             "--no-progress"]


def _parse(argv):
    parser = argparse.ArgumentParser()
    L.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["lifelong", *argv])


# -- the preset -------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["split", "permuted"])
def test_the_authors_preset_sets_what_their_code_does_and_nothing_else(protocol, tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(L.command, "run_lifelong",
                        lambda out, protocol, methods, seeds, data, **kw: seen.update(kw, seeds=seeds) or {})
    monkeypatch.setattr(L.command, "report", lambda *a, **k: None)
    args = _parse(["--authors", "--protocol", protocol, "--bgd-eta", "2", "--train-limit", "100",
                   "--out", str(tmp_path)])
    assert L.run_cli(args) == 0
    split = protocol == "split"
    assert len(seen["seeds"]) == 3 and seen["data_settings"]["inputs"] == "standardized"
    assert seen["eval_mode"] == "predictive" and seen["permute_first"] is (not split)
    assert seen["sgd_optimizer"] == ("adam" if split else "sgd") and seen["sgd_lr"] == (1e-6 if split else 1e-3)
    assert seen["sgd_bias"] is True and seen["ghost_divisor"] == "p" and seen["rule_values"] == "ablations-retuned"
    assert seen["bgd_gradient"] == "sum" and seen["bgd_sigma"] == 0.02 and seen["bgd_samples"] == 10
    assert seen["bgd_eta"] == 2.0                                                   # given: kept
    paper = L.PAPER_SETTINGS[protocol]
    changed = {k for k, v in L.AUTHORS_SETTINGS[protocol].items() if paper.get(k, "-") != v}
    assert changed == {"n_seeds", "sgd_lr", "sgd_bias", "ghost_divisor", "rule_values", "bgd_gradient",
                       "bgd_sigma"} | ({"sgd_optimizer"} if split else {"permute_first"})


def test_the_authors_preset_refuses_the_paper_preset_and_the_continuous_protocol(tmp_path):
    with pytest.raises(kit.CLIError, match="--paper and --authors"):
        L.run_cli(_parse(["--paper", "--authors", "--out", str(tmp_path)]))
    with pytest.raises(kit.CLIError, match="--authors covers the split and permuted protocols"):
        L.run_cli(_parse(["--authors", "--protocol", "continuous", "--out", str(tmp_path)]))


def test_the_other_presets_keep_minisyns_own_settings():
    for protocol in L.PROTOCOLS:
        for argv in ([], ["--paper"]):
            kw = L.settings_from_args(_parse(["--protocol", protocol, *argv]))
            assert kw["permute_first"] is False and kw["sgd_lr"] is None and kw["sgd_bias"] is False
            assert (kw["rule_values"], kw["ghost_divisor"], kw["sgd_optimizer"], kw["bgd_gradient"]) == \
                ("configs", "release_p", "sgd", "mean")


@pytest.mark.parametrize("protocol", ["split", "permuted"])
def test_a_tiny_authors_run_trains_every_method_and_saves_the_authors_settings(protocol, tmp_path):
    out = tmp_path / protocol
    extra = ["--n-tasks", "2"] if protocol == "permuted" else []
    assert L.run_cli(_parse(["--authors", "--protocol", protocol, *extra, *TINY_ARGS, "--out", str(out)])) == 0
    config = json.loads((out / f"{protocol}_config.json").read_text())
    assert config["ghost_divisor"] == "p" and config["bgd_gradient"] == "sum" and config["inputs"] == "standardized"
    for method in L.METHODS:
        run = json.loads((out / "runs" / f"{protocol}_{method}_seed0.json").read_text())
        assert run["status"] == "finished", run.get("error")
        assert 0 <= run["final_mean"] <= 1
    ghost = json.loads((out / "runs" / f"{protocol}_ghost_seed0.json").read_text())
    assert ghost["mean_p"] != pytest.approx(0.5)                        # p started at 0.5 and moved


# -- the rule values of each variant (B5) --------------------------------------------------------
def test_rule_values_give_the_ablations_and_then_presynaptic_their_retuned_values():
    for protocol in ("split", "permuted"):
        configs = {m: L.method_rule(m, protocol) for m in L.BERNOULLI_METHODS}
        assert all(rule == L.LIFELONG_RULE for rule in configs.values())
        retuned = {m: L.method_rule(m, protocol, "ablations-retuned") for m in L.BERNOULLI_METHODS}
        script = {m: L.method_rule(m, protocol, "ablation-script") for m in L.BERNOULLI_METHODS}
        assert retuned["presynaptic"] == L.LIFELONG_RULE and script["presynaptic"] != L.LIFELONG_RULE
        for m in L.BERNOULLI_METHODS:
            assert script[m] == dict(L.LIFELONG_RULE, **L.ABLATION_RULES[protocol][m])
            assert m == "presynaptic" or retuned[m] == script[m] != L.LIFELONG_RULE
    with pytest.raises(ValueError, match="re-tuned"):
        L.method_rule("ghost", "continuous", "ablations-retuned")


def test_run_one_hands_each_bernoulli_method_its_rule(monkeypatch):
    rules = {}
    real = L.run.make_method

    def spy(method, *a, rule=None, **k):
        rules[method] = rule
        return real(method, *a, rule=rule, **k)

    monkeypatch.setattr(L.run, "make_method", spy)
    data = kit.prepare_data("embedded", train_limit=100, test_limit=50, seed=0).arrays()
    for method in L.BERNOULLI_METHODS:
        L.run_one("permuted", method, 0, *data, hidden=(4,), epochs=1, batch_size=50, n_tasks=1, lr=0.05,
                  rule_values="ablations-retuned", backend="numpy")
        assert rules[method] == L.method_rule(method, "permuted", "ablations-retuned")


# -- BGD fed the minibatch-summed gradient (B16) ------------------------------------------------
def _bgd_step(batch_gradient, eta, B=8, scale_closure=1):
    """One BGD step on a small deterministic MLP (float64); returns (mu, sigma, loss)."""
    be = f64()
    rng = np.random.default_rng(3)
    x = be.floats(rng.normal(size=(B, 5)))
    targets = one_hot(be.asarray(rng.integers(0, 3, size=B)), 3, be.xp, be.dtype)
    net = MLP([5, 6, 3], "deterministic", be, seed=1)
    opt = BGD(net.params(), be, eta=eta, sigma_init=0.05, n_samples=3, seed=2, batch_gradient=batch_gradient)
    if scale_closure == 1:
        loss = opt.mlp_step(net, x, targets, B)
    else:                                       # the mean loss's gradient times scale_closure, by hand
        def closure():
            loss = net.objective(x, targets, B, mode="mean")["loss"]
            for p in net.params():
                p.grad *= scale_closure
            return loss
        loss = opt.step(closure)
    return [m.copy() for m in opt.mu], [s.copy() for s in opt.sigma], loss


def test_bgd_with_the_summed_gradient_is_bgd_on_the_summed_loss():
    """B = 8, a power of two: scaling by B is exact, so the two agree to the last bit."""
    mu_sum, sigma_sum, loss_sum = _bgd_step("sum", eta=0.5)
    mu_hand, sigma_hand, loss_hand = _bgd_step("mean", eta=0.5, scale_closure=8)
    assert loss_sum == loss_hand
    for a, b in zip(mu_sum + sigma_sum, mu_hand + sigma_hand):
        np.testing.assert_array_equal(a, b)


def test_bgd_with_the_summed_gradient_moves_mu_as_the_mean_gradient_at_eta_times_b_but_shrinks_sigma_more():
    mu_sum, sigma_sum, _ = _bgd_step("sum", eta=0.5)
    mu_big_eta, sigma_big_eta, _ = _bgd_step("mean", eta=0.5 * 8)
    for a, b in zip(mu_sum, mu_big_eta):
        np.testing.assert_array_equal(a, b)
    _, sigma_mean, _ = _bgd_step("mean", eta=0.5)
    for s_sum, s_big, s_mean in zip(sigma_sum, sigma_big_eta, sigma_mean):
        np.testing.assert_array_equal(s_big, s_mean)               # eta does not enter sigma's step
        moved_sum, moved_mean = np.abs(s_sum - 0.05), np.abs(s_mean - 0.05)
        assert np.all(moved_sum >= moved_mean) and np.any(moved_sum > 2 * moved_mean)


def test_bgd_refuses_an_unknown_batch_gradient():
    be = f64()
    with pytest.raises(ValueError, match="batch_gradient"):
        BGD(MLP([2, 2], "deterministic", be).params(), be, batch_gradient="total")


# -- the authors' ghost release probabilities (B1) ----------------------------------------------
def _ghost_layer(divisor, n_in=3, n_out=4, seed=0):
    be = f64()
    layer = BernoulliLinear(n_in, n_out, be, be.generator(seed), release_p=0.5, ghost_divisor=divisor)
    layer.p[...] = np.random.default_rng(seed).uniform(0.25, 1.0, size=layer.p.shape)   # an evolved p
    return layer


def test_the_authors_ghost_weight_has_mean_half_m_over_p():
    """E[w] = 0.5 m / p when the mask is drawn with 0.5 and the strength divided by p; minisyn's
    ghost divides by 0.5 and keeps E[w] = m."""
    for divisor, expected in (("p", lambda la: 0.5 * la.m.value / la.p), ("release_p", lambda la: la.m.value)):
        layer = _ghost_layer(divisor)
        eye = np.eye(layer.n_in)
        weights = np.stack([layer.forward(eye, "sample").T for _ in range(4000)])   # x = I reads out W
        assert_mc_mean(weights, expected(layer), name=f"E[w], divisor {divisor}")
        np.testing.assert_allclose(layer.forward(eye, "mean").T, expected(layer), rtol=1e-14)


def test_the_authors_ghost_gradient_flows_through_the_released_weight():
    """dL/dm = (r / p) dL/dw for the weight w = r m / p of the draw (the authors' autograd through
    ``mask * raw / prob``). Two layers with one seed draw the same releases: one shows its weights
    (x = I), the other is trained on x."""
    shown, trained = _ghost_layer("p"), _ghost_layer("p")
    w = shown.forward(np.eye(shown.n_in), "sample").T
    x = np.random.default_rng(1).normal(size=(6, trained.n_in))
    trained.forward(x, "sample")
    dL_da = np.ones((6, trained.n_out))
    trained.m.grad[...] = 0
    trained.backward(dL_da)
    r = (w != 0).astype(float)
    np.testing.assert_allclose(trained.m.grad, r / trained.p * (dL_da.T @ x), rtol=1e-14)


def test_the_authors_ghost_starts_at_half_and_keeps_its_lifelong_rule():
    be = f64()
    net, _, _ = L.make_method("ghost", [6, 5, 2], be, 0, 0.1, ghost_divisor="p")
    for layer in net.synaptic:
        assert layer.release_p == 0.5 and layer.ghost_divisor == "p"
        np.testing.assert_array_equal(layer.p, 0.5)                   # E[w] = m at the start
    net, _, _ = L.make_method("ghost", [6, 5, 2], be, 0, 0.1)
    assert all(la.ghost_divisor == "release_p" and float(la.p.max()) == 0.25 for la in net.synaptic)


def test_bernoulli_layers_refuse_an_unknown_ghost_divisor():
    be = f64()
    with pytest.raises(ValueError, match="ghost_divisor"):
        BernoulliLinear(2, 2, be, be.generator(0), release_p=0.5, ghost_divisor="mask")


# -- the standard model as the authors' configs (B12, B2) ----------------------------------------
def test_the_authors_standard_model_has_biases_and_moves_each_weight_by_about_adams_lr():
    be = f64()
    rng = np.random.default_rng(0)
    x = be.floats(rng.normal(size=(20, 6)))
    targets = one_hot(be.asarray(rng.integers(0, 2, size=20)), 2, be.xp, be.dtype)
    net, step, _ = L.make_method("sgd", [6, 5, 2], be, 0, 0.1, sgd_optimizer="adam", sgd_lr=1e-6, sgd_bias=True)
    assert all(layer.bias for layer in net.synaptic)
    opt = [c.cell_contents for c in step.__closure__ if isinstance(c.cell_contents, Adam)][0]
    assert opt.lr == 1e-6
    before = [p.value.copy() for p in net.params()]
    step(x, targets)
    moved = np.concatenate([np.abs(p.value - b).ravel() for p, b in zip(net.params(), before)])
    assert moved.max() <= 1e-6 * (1 + 1e-6) and moved.max() > 0.5e-6       # Adam's first step: lr sign(g)
