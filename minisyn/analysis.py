"""Analyses of a trained network of Bernoulli synapses (MODEL.md §B4; Figs. 2, 3).

- :func:`lesion_curve`: accuracy as synapses are removed (``m = 0``) in
  increasing order of ``p`` or in random order;
- :func:`energy_per_synapse`: ``|m|`` against ``p``;
- :func:`empirical_fisher`: the diagonal empirical Fisher information of the
  expected strengths, from single-example gradients of the log-likelihood;
- :func:`spearman`: rank correlation (e.g. of Fisher information and ``p``);
- :func:`neuron_sparsity`: important synapses per hidden neuron against a
  shuffled-``p`` baseline, one per hidden layer;
- :func:`silent_inputs` (Gaussian synapses, §A4): which inputs of each layer
  are never active, and how much of ``sum_i sigma_i^2`` their synapses hold.

The model arrays stay on the backend; the small host-side steps (ordering
synapses, statistics with scipy) work on :meth:`Backend.to_numpy` copies.
These functions analyse one network (no ensemble axis).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from minisyn.losses import softmax
from minisyn.train import accuracy

__all__ = ["lesion_curve", "energy_per_synapse", "empirical_fisher", "spearman", "neuron_sparsity",
           "silent_inputs"]


def _single(net):
    if net.lead:
        raise ValueError("the analyses of §B4 take one network, not an ensemble")


def _release_p(layer):
    """Release probabilities of a layer (1 for deterministic and Gaussian synapses)."""
    p = getattr(layer, "p", None)
    return layer.be.xp.ones_like(layer.mean_weight()) if p is None else p


def _flat_host(net, arrays):
    return np.concatenate([np.asarray(net.be.to_numpy(a), dtype=np.float64).ravel() for a in arrays])


def lesion_curve(net, x, y, fractions, order="low_p", seed=0, mode="mean"):
    """Accuracy after removing a fraction of synapses (MODEL.md §B4, Fig. 2b).

    Removing a synapse sets its expected strength ``m`` to 0. ``'low_p'``
    removes synapses in increasing order of release probability (ties broken
    at random), ``'random'`` in a random order. Each fraction lesions the
    intact network afresh; every ``m`` is restored afterwards, also when an
    error interrupts the curve.

    Parameters
    ----------
    net : MLP
    x : backend array of shape (n, n_in)
    y : backend int array of shape (n,)
    fractions : sequence of float in [0, 1]
    order : {'low_p', 'random'}
    seed : int
        Seeds the random order and the tie-breaking.
    mode : {'mean', 'sample'}
        Accuracy with mean weights or with one release sample per batch.

    Returns
    -------
    dict with ``'fraction'`` and ``'accuracy'`` (numpy arrays) and ``'n_removed'``.
    """
    _single(net)
    if order not in ("low_p", "random"):
        raise ValueError(f"order must be 'low_p' or 'random', got {order!r}")
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or ((fractions < 0) | (fractions > 1)).any():
        raise ValueError("fractions must be a 1-d sequence of numbers in [0, 1]")
    be = net.be
    rng = np.random.default_rng(seed)
    p = _flat_host(net, [_release_p(layer) for layer in net.synaptic])
    tie = rng.random(p.size)
    rank = np.lexsort((tie, p)) if order == "low_p" else rng.permutation(p.size)
    sizes = [int(np.prod(layer.mean_weight().shape)) for layer in net.synaptic]
    saved = [layer.params[0].value.copy() for layer in net.synaptic]
    acc, removed = [], []
    try:
        for f in fractions:
            k = int(round(f * p.size))
            keep = np.ones(p.size)
            keep[rank[:k]] = 0.0
            for layer, m0, part in zip(net.synaptic, saved, np.split(keep, np.cumsum(sizes)[:-1])):
                layer.params[0].value[...] = m0 * be.floats(part.reshape(m0.shape))   # m = 0 where removed
            acc.append(float(accuracy(net, x, y, mode)))
            removed.append(k)
    finally:
        for layer, m0 in zip(net.synaptic, saved):
            layer.params[0].value[...] = m0
    return {"fraction": fractions, "accuracy": np.array(acc), "n_removed": np.array(removed)}


def energy_per_synapse(net):
    """Energy ``|m_i|`` of every synapse next to its release probability (MODEL.md §B4).

    Returns
    -------
    dict of flat host arrays ``'p'`` and ``'energy'`` (one entry per synapse,
    layers in order, each layer row-major).
    """
    _single(net)
    xp = net.be.xp
    return {"p": _flat_host(net, [_release_p(layer) for layer in net.synaptic]),
            "energy": _flat_host(net, [xp.abs(layer.mean_weight()) for layer in net.synaptic])}


def empirical_fisher(net, x, y, mode="mean"):
    """Diagonal empirical Fisher information of the expected strengths (MODEL.md §B4).

    ``F_i = mean_n (d log p(y_n | x_n) / d m_i)^2``, with one backward pass per
    example: for a batch of one, the engine's cross-entropy gradient
    ``dL/dlogits = softmax(a) - onehot(y)`` is ``-d log p(y|x) / d a``, and the
    sign vanishes in the square.

    Parameters
    ----------
    net : MLP
    x : backend array of shape (n, n_in)
    y : backend int array of shape (n,)
    mode : {'mean', 'sample'}
        Mean weights, or a fresh synaptic sample for every example (then
        ``d/dm`` is taken through ``w = r m / p``, as in training).

    Returns
    -------
    list of backend arrays, one per synaptic layer, shaped like its weights.

    Notes
    -----
    Overwrites the parameters' gradients (they are zero on return).
    """
    _single(net)
    xp = net.be.xp
    n = x.shape[0]
    if n < 1:
        raise ValueError("empirical_fisher needs at least one example")
    thetas = [layer.params[0] for layer in net.synaptic]
    fisher = [xp.zeros_like(t.value) for t in thetas]
    classes = xp.arange(net.sizes[-1])
    for i in range(n):
        net.zero_grad()
        logits = net.forward(x[i:i + 1], mode)
        net.backward(softmax(logits, xp) - (classes == y[i:i + 1][:, None]).astype(logits.dtype))
        for F, t in zip(fisher, thetas):
            F += t.grad * t.grad
    net.zero_grad()
    return [F / n for F in fisher]


def spearman(a, b):
    """Spearman rank correlation of two equally long sequences (scipy.stats).

    Backend arrays are brought to the host and flattened first.

    Returns
    -------
    (rho, p_value) : tuple of float
    """
    a = np.ravel(_to_host(a))
    b = np.ravel(_to_host(b))
    if a.shape != b.shape:
        raise ValueError(f"spearman needs two sequences of the same length, got {a.size} and {b.size}")
    res = stats.spearmanr(a, b)
    return float(res.statistic), float(res.pvalue)


def _to_host(a):
    if isinstance(a, (list, tuple)):
        return np.concatenate([np.ravel(_to_host(v)) for v in a])
    if hasattr(a, "get") and not isinstance(a, np.ndarray):
        return np.asarray(a.get(), dtype=np.float64)        # CuPy or strict array: explicit door
    return np.asarray(a, dtype=np.float64)


def _neuron_counts(ps, important):
    """Important inputs and outputs of every hidden neuron, and its hidden layer.

    ``ps`` are the host release-probability matrices ``(n_out, n_in)`` of the
    layers in order (bias columns dropped). Hidden layer ``l`` receives from
    ``ps[l]`` (rows) and sends through ``ps[l + 1]`` (columns).
    """
    imp = [q >= important for q in ps]
    ins = np.concatenate([m.sum(axis=1) for m in imp[:-1]])
    outs = np.concatenate([m.sum(axis=0) for m in imp[1:]])
    layer = np.concatenate([np.full(q.shape[0], l) for l, q in enumerate(ps[:-1])])
    return ins, outs, layer


def _standardised(real, base, groups):
    """``(real - mean) / sd`` and the same for every shuffle, with the mean and SD of the
    shuffled counts of each group (hidden layer); one group: the pooled baseline.
    A group whose shuffled counts do not vary gets z = 0 where the count equals the
    mean and +-inf elsewhere."""
    z, zb = np.zeros(real.shape), np.zeros(base.shape)
    for g in np.unique(groups):
        cols = groups == g
        mean, sd = base[:, cols].mean(), base[:, cols].std()
        with np.errstate(divide="ignore", invalid="ignore"):
            z[cols] = np.where(real[cols] == mean, 0.0, (real[cols] - mean) / sd)
            zb[:, cols] = np.where(base[:, cols] == mean, 0.0, (base[:, cols] - mean) / sd)
    return z, zb


def neuron_sparsity(net, p_imp=0.9, n_shuffles=100, seed=0, per_layer=True):
    """Neuron-level sparsity of the important synapses (MODEL.md §B4, Fig. 3).

    A synapse is important when ``p >= p_imp``. For every hidden neuron count
    its important input and output synapses (neuron-to-neuron synapses only:
    bias columns are left out). The baseline shuffles ``p`` across the
    synapses of each layer ``n_shuffles`` times, which spreads the important
    synapses uniformly over neurons.

    Hidden layers differ in fan-in and fan-out (784 and 200 inputs in the
    paper's network), so their shuffled counts differ in mean and SD: pooled,
    the baseline is a mixture of one bump per layer, and the 2-SD criterion
    would measure the gap between the layers. With ``per_layer`` (the default)
    each neuron is compared with the shuffles of its own layer: the KS test and
    the 2-SD count use its count standardised by its layer's shuffled mean and
    SD, ``z = (count - mean_l) / sd_l``, and ``layers`` has the same numbers
    for every hidden layer alone. ``per_layer=False`` pools all hidden layers
    into one baseline.

    Parameters
    ----------
    net : MLP of Bernoulli synapses, at least one hidden layer
    p_imp : float
    n_shuffles : int
    seed : int
    per_layer : bool

    Returns
    -------
    dict with
        ``in_counts``, ``out_counts`` : int arrays, one entry per hidden neuron
        (layers in order); ``layer`` : the hidden layer of each (0, 1, ...);
        ``shuffled_in``, ``shuffled_out`` : int arrays ``(n_shuffles, n_hidden)``,
        each neuron's counts under the shuffles of its own layer;
        ``z_in``, ``z_out`` : the standardised counts;
        ``ks_in``, ``ks_out`` : ``(statistic, p_value)`` of the two-sample
        Kolmogorov-Smirnov test of the real against the shuffled standardised
        counts (pooled over layers after standardising);
        ``n_beyond_2sd_in``, ``n_beyond_2sd_out`` : neurons with ``|z| > 2``;
        ``shuffled_beyond_2sd_in``, ``shuffled_beyond_2sd_out`` : the same count
        in each shuffle (arrays of length ``n_shuffles``);
        ``layers`` : one dict per hidden layer with its ``n_neurons``, ``ks_in``,
        ``ks_out``, ``n_beyond_2sd_in``, ``n_beyond_2sd_out`` and the mean and SD
        of its shuffled counts;
        ``in_out_correlation`` : Pearson correlation of in- and out-counts
        (NaN where either is constant).
    """
    _single(net)
    if len(net.synaptic) < 2:
        raise ValueError("neuron_sparsity needs a network with a hidden layer")
    if int(n_shuffles) < 1:
        raise ValueError(f"n_shuffles must be >= 1, got {n_shuffles}")
    ps = []
    for layer in net.synaptic:
        q = np.asarray(net.be.to_numpy(_release_p(layer)), dtype=np.float64)
        ps.append(q[:, :layer.n_in])
    ins, outs, hidden = _neuron_counts(ps, p_imp)
    rng = np.random.default_rng(seed)
    sh_in, sh_out = [], []
    for _ in range(int(n_shuffles)):
        shuffled = [rng.permutation(q.ravel()).reshape(q.shape) for q in ps]
        a, b, _ = _neuron_counts(shuffled, p_imp)
        sh_in.append(a)
        sh_out.append(b)
    sh_in, sh_out = np.array(sh_in), np.array(sh_out)
    groups = hidden if per_layer else np.zeros_like(hidden)
    out = {"in_counts": ins, "out_counts": outs, "layer": hidden, "shuffled_in": sh_in, "shuffled_out": sh_out,
           "layers": [{"n_neurons": int((hidden == l).sum())} for l in range(len(ps) - 1)]}
    for name, real, base in (("in", ins, sh_in), ("out", outs, sh_out)):
        z, zb = _standardised(real, base, groups)
        out[f"z_{name}"] = z
        ks = stats.ks_2samp(z, zb.ravel())
        out[f"ks_{name}"] = (float(ks.statistic), float(ks.pvalue))
        out[f"n_beyond_2sd_{name}"] = int((np.abs(z) > 2).sum())
        out[f"shuffled_beyond_2sd_{name}"] = (np.abs(zb) > 2).sum(axis=1)
        for l, summary in enumerate(out["layers"]):
            cols = hidden == l
            zl, zbl = _standardised(real[cols], base[:, cols], np.zeros(cols.sum()))
            ks = stats.ks_2samp(real[cols], base[:, cols].ravel())
            summary.update({f"ks_{name}": (float(ks.statistic), float(ks.pvalue)),
                            f"n_beyond_2sd_{name}": int((np.abs(zl) > 2).sum()),
                            f"shuffled_mean_{name}": float(base[:, cols].mean()),
                            f"shuffled_sd_{name}": float(base[:, cols].std())})
    constant = ins.std() == 0 or outs.std() == 0
    out["in_out_correlation"] = float("nan") if constant else float(stats.pearsonr(ins, outs).statistic)
    return out


def silent_inputs(weights, biases, sigmas, x):
    """Inputs that are never active, layer by layer, and the noise their synapses hold.

    A synapse whose input is 0 for every example gets no gradient from the
    data term, so under a reliability cost ``c sigma^-rho`` (MODEL.md §A4)
    only the cost acts on its ``sigma``, which then grows for as long as
    training runs. ``sigma_bar = sqrt(mean_i sigma_i^2)`` is then set by
    those synapses. The inputs of layer 0 are the pixels; those of layer
    ``l > 0`` are the ReLU outputs of layer ``l - 1``, computed with the mean
    weights.

    Parameters
    ----------
    weights, sigmas : lists of host arrays of shape (n_out, n_in), one per layer
    biases : list of host arrays of shape (n_out,) (zeros for no bias)
    x : host array of shape (n, n_in of layer 0)

    Returns
    -------
    list of dict, one per layer: ``n_inputs``, ``n_silent`` (inputs that are 0
    for every row of ``x``), ``sigma2_share`` (the share of the whole
    network's ``sum_i sigma_i^2`` held by this layer's synapses from silent
    inputs), ``layer_sigma2_share`` (the share held by the whole layer),
    ``median_sigma_silent`` and ``median_sigma_active`` (NaN when empty).
    """
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    ss = [np.asarray(s, dtype=np.float64) for s in sigmas]
    bs = [np.asarray(b, dtype=np.float64) for b in biases]
    if not (len(ws) == len(ss) == len(bs)) or not ws:
        raise ValueError("weights, biases and sigmas need one entry per layer")
    h = np.asarray(x, dtype=np.float64)
    total = sum(float((s ** 2).sum()) for s in ss)
    out = []
    for i, (w, b, s) in enumerate(zip(ws, bs, ss)):
        if w.shape != s.shape or b.shape != (w.shape[0],) or h.ndim != 2 or h.shape[1] != w.shape[1]:
            raise ValueError(f"layer {i}: weights {w.shape}, sigmas {s.shape}, biases {b.shape} do not fit "
                             f"inputs of shape {h.shape}")
        silent = ~(h != 0).any(axis=0)
        out.append({
            "n_inputs": int(w.shape[1]), "n_silent": int(silent.sum()),
            "sigma2_share": float((s[:, silent] ** 2).sum() / total) if total > 0 else float("nan"),
            "layer_sigma2_share": float((s ** 2).sum() / total) if total > 0 else float("nan"),
            "median_sigma_silent": float(np.median(s[:, silent])) if silent.any() else float("nan"),
            "median_sigma_active": float(np.median(s[:, ~silent])) if (~silent).any() else float("nan"),
        })
        h = h @ w.T + b
        if i < len(ws) - 1:
            h = np.maximum(h, 0.0)
    return out
