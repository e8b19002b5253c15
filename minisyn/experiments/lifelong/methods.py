"""Methods of lifelong learning (MODEL.md §B5; Figs. 4 and 5a): a network and its update per method.

- ``presynaptic``: Bernoulli synapses and the presynaptic rule with
  consolidation (``m <- m - eta (1 - p) g``, ``p`` frozen at ``p >= p_freeze``),
  the lifelong values of §B2 (:data:`LIFELONG_RULE`);
- ``sgd``: deterministic synapses, plain SGD (the "standard" model);
- ``ewc``: deterministic synapses, SGD on the cross-entropy plus the EWC
  penalty :class:`minisyn.baselines.EWC` (Fisher stored after each task);
- ``bgd``: deterministic network whose weights are the means of
  :class:`minisyn.baselines.BGD` (Zeno et al. 2018);
- ``no-consolidation`` (ablation): Bernoulli synapses and presynaptic
  plasticity, but no ``(1 - p)`` factor and no freezing;
- ``ghost`` (ablation): ``p`` evolves by §B2 and scales the learning rate, but
  the forward pass releases with a fixed probability 0.5.

Every network has no biases (§B1).
"""
from __future__ import annotations

from minisyn.baselines import BGD, EWC
from minisyn.network import MLP
from minisyn.optim import SGD
from minisyn.rules import PresynapticRule

__all__ = ["METHODS", "BERNOULLI_METHODS", "LIFELONG_RULE", "PAPER_LR", "METHOD_SETTINGS", "unused_settings",
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
#: Learning rate of the expected strengths (§B2): 1e-3 for Split, 1e-2 for Permuted MNIST.
PAPER_LR = {"split": 1e-3, "permuted": 1e-2, "continuous": 1e-2}

#: Settings that only change the runs of some methods: a saved run of any other method stays valid
#: when they change (so e.g. a new --ewc-lambda retrains EWC alone).
METHOD_SETTINGS = {
    "eval_mode": BERNOULLI_METHODS,
    "rule": BERNOULLI_METHODS,
    "ewc_lambda": ("ewc",),
    "fisher_samples": ("ewc",),
    "bgd_eta": ("bgd",),
    "bgd_sigma": ("bgd",),
    "bgd_samples": ("bgd",),
}


def unused_settings(method):
    """The names of :data:`METHOD_SETTINGS` that ``method`` does not use."""
    return [name for name, users in METHOD_SETTINGS.items() if method not in users]


def make_method(method, sizes, be, seed, lr, *, rule=None, ewc_lambda=100.0, fisher_mode="mean",
                bgd_eta=1.0, bgd_sigma=0.02, bgd_samples=10):
    """Network and update for one method; returns ``(net, step, on_task_end)``.

    ``step(x, onehot)`` does one training step on a minibatch and returns a
    dict with ``'loss'`` (the cross-entropy; and ``'logits'`` except for BGD),
    the ``update`` of :func:`minisyn.train.fit`; ``on_task_end(x, y)`` is
    called with a task's training data after it (EWC's consolidation).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    rule = dict(LIFELONG_RULE if rule is None else rule)
    if method in BERNOULLI_METHODS:
        if method == "no-consolidation":
            rule.update(lr_factor=False, p_freeze=1.0)
        net = MLP(sizes, "bernoulli", be, seed=seed, bias=False, p_init=rule["p_min"],
                  release_p=0.5 if method == "ghost" else None)
        opt = PresynapticRule(net.synaptic, lr, be, **rule)
    else:
        net = MLP(sizes, "deterministic", be, seed=seed, bias=False)
        opt = SGD(net.params(), lr, be)
    ewc = EWC(ewc_lambda, mode=fisher_mode) if method == "ewc" else None
    bgd = BGD(net.params(), be, eta=bgd_eta, sigma_init=bgd_sigma, n_samples=bgd_samples,
              seed=int(seed) * 1000 + 7) if method == "bgd" else None

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
