"""One lifelong run (a protocol, a method, a seed) and a resumable set of runs (MODEL.md §B5).

Per run the result is the accuracy matrix ``acc[i, j]`` (test accuracy on task
``j`` after task ``i``), the first task's test accuracy every ``eval_every``
steps, and the final mean accuracy ``mean_j acc[-1, j]``. Training is
:func:`minisyn.train.fit` over the run's stream of minibatches (one "epoch":
the whole task sequence); the evaluations happen in its ``on_step`` hook.
Each finished run is saved as ``<out>/runs/<protocol>_<method>_seed<seed>.json``
(:class:`minisyn.experiments.kit.RunStore`); running again skips the runs
already saved. Data stay on the host (numpy) until they are moved to the
backend once; all model arithmetic runs through ``be.xp``.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from minisyn.backend import get_backend
from minisyn.experiments import kit
from minisyn.experiments.lifelong.methods import (BERNOULLI_METHODS, METHODS, PAPER_LR, make_method, method_rule,
                                                  unused_settings)
from minisyn.experiments.lifelong.tasks import (EVAL_MODES, DeviceTasks, batch_stream, build_tasks,
                                                continuous_schedule, scores_for, transition_starts)
from minisyn.train import TrainingDiverged, fit

__all__ = ["DIVERGED_ADVICE", "OLD_RUN_DEFAULTS", "run_key", "run_one", "run_lifelong"]


#: What to change when a method's loss becomes non-finite (the one line a diverged run reports).
DIVERGED_ADVICE = {
    "ewc": "EWC's penalty step overshoots where lr * lam * F > 2 for a synapse (F summed over the tasks so "
           "far): lower --ewc-lambda or --lr",
    "bgd": "lower --bgd-eta (or --bgd-sigma)",
}


#: Settings added after some runs were saved, with the value those runs used (run_one's defaults).
OLD_RUN_DEFAULTS = {"rule_values": "configs", "ghost_divisor": "release_p", "sgd_optimizer": "sgd", "sgd_lr": None,
                    "sgd_bias": False, "bgd_gradient": "mean"}


def run_key(protocol, method, seed):
    """The run's name in ``<out>/runs/``."""
    return f"{protocol}_{method}_seed{int(seed)}"


def run_one(protocol, method, seed, x_train, y_train, x_test, y_test, *, hidden=(100, 100), epochs=5,
            batch_size=100, lr=None, n_tasks=10, permute_first=False, transition=None, eval_every=None,
            eval_mode="sample", eval_limit=None, rule=None, rule_values="configs", ghost_divisor="release_p",
            sgd_optimizer="sgd", sgd_lr=None, sgd_bias=False, ewc_lambda=100.0, fisher_samples=200,
            bgd_eta=1.0, bgd_sigma=0.06, bgd_samples=10, bgd_gradient="mean", backend=None, progress=False):
    """Train one method on one protocol; returns a result dict of host numbers.

    Parameters
    ----------
    protocol : {'split', 'permuted', 'continuous'}
    method : one of :data:`METHODS`
    seed : int
        Seeds the initial weights, the synaptic noise, the example order and
        (Permuted) the pixel permutations.
    x_train, x_test : host arrays ``(n, d)`` (pixels in [0, 1], or standardised)
    y_train, y_test : host int arrays
    hidden : hidden widths (the paper: 200, 200)
    epochs : passes through each task's training examples (the paper: 10)
    lr : learning rate of SGD and of the rule's expected strengths (default: §B2's 1e-3 / 1e-2)
    transition : steps of a continuous transition (default: half the steps of a task)
    eval_every : steps between evaluations of the first task (default: ~10 per task); the loss
        is checked for divergence at the same steps
    eval_mode : 'sample' (one release sample, the stochastic network as it runs), 'mean'
        (w = m) or 'predictive' (argmax of the softmax averaged over ``PREDICTIVE_SAMPLES``
        release samples, as the authors' code evaluates); deterministic networks and BGD's
        mean weights are always evaluated as they are
    eval_limit : test examples of the first task used for the curve (None: all)
    rule, rule_values : the presynaptic rule's values (default :data:`LIFELONG_RULE`) and which
        methods take the authors' re-tuned ones (:func:`method_rule`)
    ghost_divisor, sgd_optimizer, sgd_lr, sgd_bias, bgd_gradient : see :func:`make_method`
    fisher_samples : training examples of a task in EWC's Fisher information

    Returns
    -------
    dict with ``matrix`` (n_tasks x n_tasks), ``first_task`` (``step``, ``task``
    (fractional task index), ``acc``), ``final_mean``, ``mean_p``, ``seconds``.

    Raises
    ------
    minisyn.train.TrainingDiverged
        When the loss becomes NaN or infinite; the message names the method, the seed,
        the step and what to lower (:data:`DIVERGED_ADVICE`).
    """
    be = get_backend(backend)
    t0 = time.perf_counter()
    x_train, x_test = np.asarray(x_train, np.float32), np.asarray(x_test, np.float32)
    tasks = build_tasks(protocol, y_train, y_test, x_train.shape[1], seed, n_tasks, permute_first)
    n_out = 2 if protocol == "split" else 10
    sizes = [x_train.shape[1], *[int(h) for h in hidden], n_out]
    lr = PAPER_LR[protocol] if lr is None else float(lr)
    if method in BERNOULLI_METHODS:
        rule = method_rule(method, protocol, rule_values, rule)
    net, step, on_task_end = make_method(
        method, sizes, be, seed, lr, rule=rule, ewc_lambda=ewc_lambda, bgd_eta=bgd_eta, bgd_sigma=bgd_sigma,
        bgd_samples=bgd_samples, bgd_gradient=bgd_gradient, ghost_divisor=ghost_divisor,
        sgd_optimizer=sgd_optimizer, sgd_lr=sgd_lr, sgd_bias=sgd_bias)
    dev = DeviceTasks(be, x_train, x_test, tasks)
    K = len(tasks)
    steps_per_task = [int(epochs) * (len(t.train_idx) // int(batch_size)) for t in tasks]
    if min(steps_per_task) < 1:
        raise ValueError(f"a task has fewer than batch_size={batch_size} training examples")
    if protocol == "continuous":
        S = min(steps_per_task)
        T = S // 2 if transition is None else int(transition)
        shares = continuous_schedule(K, S, T)
        row_after = transition_starts(K, S, T)
    else:
        shares = np.concatenate([np.tile(np.eye(K)[k], (s, 1)) for k, s in enumerate(steps_per_task)])
        row_after = list(np.cumsum(steps_per_task))
    total = shares.shape[0]
    eval_every = max(1, min(steps_per_task) // 10) if eval_every is None else max(1, int(eval_every))
    if eval_mode not in EVAL_MODES:
        raise ValueError(f"eval_mode must be one of {', '.join(EVAL_MODES)}, got {eval_mode!r}")
    mode = eval_mode if method in BERNOULLI_METHODS else "mean"
    first_limit = None if eval_limit is None else int(eval_limit)

    def first_acc():
        if first_limit is None:
            return dev.accuracy(net, 0, mode)
        x, y = dev.task_arrays(0, first_limit, test=True)
        return be.scalar((scores_for(net, x, mode).argmax(axis=-1) == y).mean())

    matrix = np.full((K, K), np.nan)
    curve = {"step": [0], "task": [0.0], "acc": [first_acc()]}
    nominal = np.concatenate([[0], np.cumsum(steps_per_task)]) if protocol != "continuous" \
        else np.arange(K + 1) * shares.shape[0] // K
    row = 0

    def on_step(s, out):
        """The first task's accuracy every ``eval_every`` steps; a matrix row (and EWC's
        consolidation) where a task ends."""
        nonlocal row
        if s % eval_every == 0 or s == total:
            k = int(np.searchsorted(nominal, s, side="right")) - 1
            frac = k + (s - nominal[min(k, K - 1)]) / max(1, nominal[min(k + 1, K)] - nominal[min(k, K - 1)])
            curve["step"].append(s)
            curve["task"].append(float(min(frac, K)))
            curve["acc"].append(first_acc())
        while row < K and s == row_after[row]:
            matrix[row] = [dev.accuracy(net, j, mode) for j in range(K)]
            if row < K - 1:
                on_task_end(*dev.task_arrays(row, fisher_samples))
            row += 1

    rng = np.random.default_rng([int(seed), 31])
    stream = batch_stream(tasks, shares, int(batch_size), rng)
    try:
        fit(net, step, lambda epoch: (dev.batch(parts) for parts in stream), epochs=1, steps_per_epoch=total,
            n_classes=n_out, check_every=eval_every, progress=progress, on_step=on_step)
    except TrainingDiverged as err:
        where = str(err).partition(":")[0]                 # "the loss became non-finite at step s"
        raise TrainingDiverged(f"{method}, seed {seed}: {where}; {DIVERGED_ADVICE.get(method, 'lower --lr')}",
                               err.history) from None
    mean_p = None
    if method in BERNOULLI_METHODS:
        ps = [be.to_numpy(layer.p) for layer in net.synaptic]
        mean_p = float(sum(p.sum() for p in ps) / sum(p.size for p in ps))
    return {"matrix": matrix.tolist(), "first_task": curve, "final_mean": float(np.mean(matrix[-1])),
            "mean_p": mean_p, "steps": int(total), "steps_per_task": steps_per_task,
            "task_names": [t.name for t in tasks], "seconds": time.perf_counter() - t0}


def run_lifelong(out, protocol, methods, seeds, data, *, force=False, progress=True, data_settings=None,
                 **kwargs):
    """Every (method, seed) run of one protocol; saved as ``<out>/runs/<key>.json``, resumed on rerun.

    Parameters
    ----------
    data : ``(x_train, y_train, x_test, y_test)`` host arrays
    data_settings : dict, optional
        What chose ``data`` (data set, limits, input scaling), saved with each run and checked
        on resume. A run saved without them (by an older minisyn) is read as made with the ones
        given now, except ``inputs``: such a run saw [0, 1] pixels (``'unit'``).
    kwargs
        Go to :func:`run_one` (``backend`` aside, they form the saved settings). A saved run
        made with other settings is a ``ValueError`` unless ``force``; settings that a method
        does not use (:data:`METHOD_SETTINGS`) are not compared.

    A run whose loss becomes non-finite is saved too, as ``status: "diverged"`` with the
    ``error`` line (and resumed as such); the other runs go on.

    Returns ``{method: [result per seed]}``; each result has ``status`` ``"finished"`` or
    ``"diverged"``.
    """
    from tqdm.auto import tqdm

    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}: choose from {', '.join(METHODS)}")
    data_settings = dict(data_settings or {})
    defaults = dict(data_settings, **OLD_RUN_DEFAULTS)
    if "inputs" in defaults:
        defaults["inputs"] = "unit"        # runs saved before --inputs existed saw [0, 1] pixels
    store = kit.RunStore(out, force=force, defaults=defaults)
    settings = dict(OLD_RUN_DEFAULTS, **{k: v for k, v in kwargs.items() if k != "backend"})
    settings.update(data_settings)
    results, older = {m: [] for m in methods}, []
    bar = tqdm([(m, s) for m in methods for s in seeds], desc=f"lifelong {protocol}", unit="run",
               disable=not progress)
    for m, s in bar:
        key = run_key(protocol, m, s)
        saved = store.load(key, settings, ignore=unused_settings(m))
        if saved is not None:
            if "settings" not in saved:
                older.append(key)
            results[m].append(saved)
            continue
        bar.set_postfix(method=m, seed=s)
        t0 = time.perf_counter()
        try:
            r = dict(run_one(protocol, m, s, *data, progress=False, **kwargs), status="finished")
        except TrainingDiverged as err:
            r = {"status": "diverged", "error": str(err), "seconds": time.perf_counter() - t0}
        r.update(protocol=protocol, method=m, seed=int(s))
        results[m].append(store.save(key, r, settings))
    if older and data_settings:
        print(f"note: {len(older)} run(s) in {store.dir} ({older[0]}, ...) were saved by an older minisyn, which did "
              "not record the data (--dataset, --train-limit, --test-limit; its subsets differ from today's): they "
              "are resumed as made with today's; --force retrains them", file=sys.stderr)
    return results
