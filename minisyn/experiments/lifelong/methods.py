"""Methods of lifelong learning (MODEL.md §B5; Figs. 4 and 5a): a network and its update per method.

- ``presynaptic``: Bernoulli synapses and the presynaptic rule with
  consolidation (``m <- m - eta (1 - p) g``, ``p`` frozen at ``p >= p_freeze``),
  the lifelong values of §B2 (:data:`LIFELONG_RULE`);
- ``sgd``: deterministic synapses, plain SGD (the "standard" model; or Adam,
  at its own learning rate and with trainable biases, as the authors' code);
- ``ewc``: deterministic synapses, SGD on the cross-entropy plus the EWC
  penalty :class:`minisyn.baselines.EWC` (Fisher stored after each task);
- ``bgd``: deterministic network whose weights are the means of
  :class:`minisyn.baselines.BGD` (Zeno et al. 2018);
- ``no-consolidation`` (ablation): Bernoulli synapses and presynaptic
  plasticity, but no ``(1 - p)`` factor and no freezing;
- ``ghost`` (ablation): ``p`` evolves by §B2 and scales the learning rate, but
  the forward pass releases with a fixed probability 0.5; the released
  strength is divided by 0.5 (``E[w] = m``), or, as the authors' code, by the
  evolving ``p``, which then starts at 0.5 (``E[w] = 0.5 m / p``;
  :class:`minisyn.layers.BernoulliLinear`, ``ghost_divisor``).

Every network has no biases (§B1), except the standard model's with
``sgd_bias``. The presynaptic rule takes the lifelong values of §B2
(:data:`LIFELONG_RULE`), or, for each variant, the values the authors
re-tuned for their ablations (:data:`ABLATION_RULES`, :func:`method_rule`).
"""
from __future__ import annotations

from minisyn.baselines import BGD, EWC
from minisyn.network import MLP
from minisyn.optim import SGD, Adam
from minisyn.rules import PresynapticRule

__all__ = ["METHODS", "BERNOULLI_METHODS", "LIFELONG_RULE", "ABLATION_RULES", "RULE_VALUES", "GHOST_DIVISORS",
           "GHOST_RELEASE_P", "SGD_OPTIMIZERS", "PAPER_LR", "METHOD_SETTINGS", "unused_settings", "method_rule",
           "make_method"]

#: method name -> (label for tables and figures, colour)
METHODS = {
    "presynaptic": ("presynaptic consolidation", "C1"),
    "sgd": ("standard (deterministic SGD)", "C7"),
    "ewc": ("EWC", "C0"),
    "bgd": ("BGD", "C2"),
    "no-consolidation": ("no consolidation (ablation)", "C3"),
    "ghost": ("ghost release p=0.5 (ablation)", "C4"),
}
BERNOULLI_METHODS = ("presynaptic", "no-consolidation", "ghost")

#: Presynaptic-rule values for lifelong learning (MODEL.md §B2, the authors' configs); also the
#: stochastic perceptron's (§B6, :mod:`minisyn.experiments.perceptron`).
LIFELONG_RULE = dict(d_up=0.0520, d_down=0.0516, g_lim=1e-3, p_min=0.25, p_freeze=0.9353, lr_factor=True)
#: The rule values the authors re-tuned for each variant of their ablation runs (Fig. 5a), "full"
#: included (presynaptic-stochasticity@ba8e41c exp_ablation_split-mnist.sh lines 13-17 and
#: exp_ablation_perm-mnist.sh lines 13-17; docs/results/differences.md, B5). Their variants
#: "full", "no_freeze_no_learning_mod" and "fixed_probs 0.5" are minisyn's presynaptic,
#: no-consolidation and ghost (make_method adds no-consolidation's p_freeze 1 and no factor); their
#: "no_freeze", "no_learning_mod" and "no_normalise" have no minisyn method.
ABLATION_RULES = {
    "split": {"presynaptic": dict(d_down=0.0624703, d_up=0.05835393, p_freeze=0.94452875),
              "no-consolidation": dict(d_down=0.09587958, d_up=0.01798108),
              "ghost": dict(d_down=0.09833934, d_up=0.09764242, p_freeze=0.9466155)},
    "permuted": {"presynaptic": dict(d_down=0.04021639, d_up=0.04460148, p_freeze=0.94791622),
                 "no-consolidation": dict(d_down=0.02954858, d_up=0.09202317),
                 "ghost": dict(d_down=0.05188978, d_up=0.0571483, p_freeze=0.92943784)},
}
#: Which rule values each Bernoulli method takes (:func:`method_rule`): 'configs', LIFELONG_RULE for
#: every variant (the authors' etc/dyn_*.json, their Fig. 4 runs); 'ablations-retuned', the
#: ablations' own ABLATION_RULES, presynaptic keeping LIFELONG_RULE; 'ablation-script',
#: ABLATION_RULES for every variant, presynaptic included (the runs behind Fig. 5a).
RULE_VALUES = ("configs", "ablations-retuned", "ablation-script")
#: What the ghost ablation divides a released strength by (:class:`minisyn.layers.BernoulliLinear`).
GHOST_DIVISORS = ("release_p", "p")
#: The fixed forward release probability of the ghost ablation (§B5; the authors' --fixed_probs 0.5).
GHOST_RELEASE_P = 0.5
#: Optimisers of the standard (deterministic) model, by name.
SGD_OPTIMIZERS = {"sgd": SGD, "adam": Adam}
#: Learning rate of the expected strengths (§B2): 1e-3 for Split, 1e-2 for Permuted MNIST.
PAPER_LR = {"split": 1e-3, "permuted": 1e-2, "continuous": 1e-2}

#: Settings that only change the runs of some methods: a saved run of any other method stays valid
#: when they change (so e.g. a new --ewc-lambda retrains EWC alone).
METHOD_SETTINGS = {
    "eval_mode": BERNOULLI_METHODS,
    "rule": BERNOULLI_METHODS,
    "rule_values": BERNOULLI_METHODS,
    "ghost_divisor": ("ghost",),
    "sgd_optimizer": ("sgd",),
    "sgd_lr": ("sgd",),
    "sgd_bias": ("sgd",),
    "ewc_lambda": ("ewc",),
    "fisher_samples": ("ewc",),
    "bgd_eta": ("bgd",),
    "bgd_sigma": ("bgd",),
    "bgd_samples": ("bgd",),
    "bgd_gradient": ("bgd",),
}


def unused_settings(method):
    """The names of :data:`METHOD_SETTINGS` that ``method`` does not use."""
    return [name for name, users in METHOD_SETTINGS.items() if method not in users]


def method_rule(method, protocol, rule_values="configs", rule=None):
    """The presynaptic-rule values of a Bernoulli ``method`` on ``protocol`` (one of :data:`RULE_VALUES`).

    ``rule`` (default :data:`LIFELONG_RULE`), updated with the method's
    :data:`ABLATION_RULES` where ``rule_values`` gives it re-tuned values.
    """
    if rule_values not in RULE_VALUES:
        raise ValueError(f"rule_values must be one of {RULE_VALUES}, got {rule_values!r}")
    rule = dict(LIFELONG_RULE if rule is None else rule)
    if rule_values == "ablation-script" or (rule_values == "ablations-retuned" and method != "presynaptic"):
        if protocol not in ABLATION_RULES:
            raise ValueError(f"the authors re-tuned the rule for {', '.join(ABLATION_RULES)} only, not {protocol!r}")
        rule.update(ABLATION_RULES[protocol][method])
    return rule


def make_method(method, sizes, be, seed, lr, *, rule=None, ewc_lambda=100.0, fisher_mode="mean",
                bgd_eta=1.0, bgd_sigma=0.02, bgd_samples=10, bgd_gradient="mean", ghost_divisor="release_p",
                sgd_optimizer="sgd", sgd_lr=None, sgd_bias=False):
    """Network and update for one method; returns ``(net, step, on_task_end)``.

    ``step(x, onehot)`` does one training step on a minibatch and returns a
    dict with ``'loss'`` (the cross-entropy; and ``'logits'`` except for BGD),
    the ``update`` of :func:`minisyn.train.fit`; ``on_task_end(x, y)`` is
    called with a task's training data after it (EWC's consolidation).

    ``bgd_gradient``: :class:`minisyn.baselines.BGD`'s ``batch_gradient``;
    ``ghost_divisor``: one of :data:`GHOST_DIVISORS` (with ``'p'``, ``p``
    starts at the release probability 0.5, as the authors' ``prob_init``, so
    that ``E[w] = m`` at the start); ``sgd_optimizer`` (one of
    :data:`SGD_OPTIMIZERS`), ``sgd_lr`` (default ``lr``) and ``sgd_bias``
    (trainable biases) set up the standard model alone.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    if sgd_optimizer not in SGD_OPTIMIZERS:
        raise ValueError(f"sgd_optimizer must be one of {tuple(SGD_OPTIMIZERS)}, got {sgd_optimizer!r}")
    rule = dict(LIFELONG_RULE if rule is None else rule)
    if method in BERNOULLI_METHODS:
        if method == "no-consolidation":
            rule.update(lr_factor=False, p_freeze=1.0)
        ghost = method == "ghost"
        net = MLP(sizes, "bernoulli", be, seed=seed, bias=False,
                  p_init=GHOST_RELEASE_P if ghost and ghost_divisor == "p" else rule["p_min"],
                  release_p=GHOST_RELEASE_P if ghost else None, ghost_divisor=ghost_divisor)
        opt = PresynapticRule(net.synaptic, lr, be, **rule)
    elif method == "sgd":
        net = MLP(sizes, "deterministic", be, seed=seed, bias=bool(sgd_bias))
        opt = SGD_OPTIMIZERS[sgd_optimizer](net.params(), lr if sgd_lr is None else sgd_lr, be)
    else:
        net = MLP(sizes, "deterministic", be, seed=seed, bias=False)
        opt = SGD(net.params(), lr, be)
    ewc = EWC(ewc_lambda, mode=fisher_mode) if method == "ewc" else None
    bgd = BGD(net.params(), be, eta=bgd_eta, sigma_init=bgd_sigma, n_samples=bgd_samples,
              seed=int(seed) * 1000 + 7, batch_gradient=bgd_gradient) if method == "bgd" else None

    def step(x, targets):
        net.zero_grad()
        if bgd is not None:
            return {"loss": bgd.mlp_step(net, x, targets, x.shape[0])}
        out = net.objective(x, targets, x.shape[0])
        if ewc is not None and ewc.anchors:
            ewc.add_grad(net)
        opt.step()
        return out

    def on_task_end(x, y):
        if ewc is not None:
            ewc.consolidate(net, x, y)

    return net, step, on_task_end
