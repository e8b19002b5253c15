"""Helpers shared by the benchmark scripts (not part of minisyn).

Only minisyn's public classes are used: ``Backend``, ``MLP``,
``make_optimizer``, the costs and ``one_hot``.
"""
from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time

import numpy as np

from minisyn.backend import Backend
from minisyn.costs import L1Cost, PowerLawCost
from minisyn.losses import one_hot
from minisyn.network import MLP
from minisyn.train import make_optimizer

N_TRAIN = 60_000          # MNIST training-set size: the N dividing the costs
GAUSS_SIZES = (784, 100, 100, 10)
BERN_SIZES = (784, 200, 200, 10)


def batches(be, batch, n_batches=8, lead=(), seed=0, classes=10, inputs=784):
    """A few random MNIST-shaped minibatches: uniform [0, 1) inputs, one-hot targets."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        x = be.floats(rng.random(lead + (batch, inputs)))
        y = be.asarray(rng.integers(0, classes, size=lead + (batch,)))
        out.append((x, one_hot(y, classes, be.xp, be.dtype)))
    return out


class Job:
    """A network, its update rule, costs and minibatches: one 'training step' at a time."""

    def __init__(self, name, net, opt, costs, data):
        self.name, self.net, self.opt, self.costs, self.data = name, net, opt, costs, data
        self.i = 0
        self.blas_threads = None    # if set, run() caps numpy's BLAS threads (threadpoolctl)

    def step(self):
        xb, targets = self.data[self.i % len(self.data)]
        self.i += 1
        self.net.zero_grad()
        self.net.objective(xb, targets, N_TRAIN, self.costs)
        self.opt.step()

    def run(self, steps):
        """Seconds for ``steps`` steps (synchronising a GPU at the end)."""
        be = self.net.be
        with blas_limit(self.blas_threads):
            be.synchronize()
            t0 = time.perf_counter()
            for _ in range(steps):
                self.step()
            be.synchronize()
            return time.perf_counter() - t0


def blas_limit(threads):
    """A context capping numpy's BLAS threads (a no-op for None)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=threads, user_api="blas")


def gaussian_job(be, scheme="weights", batch=20, ensemble=None, c=1e-2, seed=0, shared_seed=False,
                 sizes=GAUSS_SIZES):
    """Gaussian MLP 784-100-100-10, Adam 5e-4, PowerLawCost(c, 0.5) + L1Cost(1e-4).

    An ensemble's members get seeds 0..K-1, or all ``seed`` with ``shared_seed``
    (as in the trade-off sweep: they then share one noise draw a step).
    """
    seeds = seed if ensemble is None else ([seed] * ensemble if shared_seed else list(range(ensemble)))
    net = MLP(sizes, "gaussian", be, seed=seeds, ensemble=ensemble, scheme=scheme)
    opt = make_optimizer(net, "adam", 5e-4)
    costs = [PowerLawCost(c, 0.5), L1Cost(1e-4)]
    name = f"gaussian-{scheme}" if ensemble is None else f"gaussian K={ensemble}"
    return Job(name, net, opt, costs, batches(be, batch, seed=seed, inputs=sizes[0], classes=sizes[-1]))


def bernoulli_job(be, batch=100, seed=0):
    """Bernoulli MLP 784-200-200-10, presynaptic rule (lr 0.05), no costs."""
    net = MLP(BERN_SIZES, "bernoulli", be, seed=seed)
    opt = make_optimizer(net, "presynaptic", 0.05)
    return Job("bernoulli-presyn", net, opt, [], batches(be, batch, seed=seed))


def interleaved(jobs, steps, repeats, warmup):
    """Median seconds per step of each job; repeats interleave the jobs.

    ``steps`` is an int or a dict ``{job.name: steps}``.
    """
    per = steps if isinstance(steps, dict) else {j.name: steps for j in jobs}
    for j in jobs:
        j.run(warmup)
    times = {j.name: [] for j in jobs}
    for r in range(repeats):
        order = jobs if r % 2 == 0 else jobs[::-1]      # alternate the order too
        for j in order:
            times[j.name].append(j.run(per[j.name]) / per[j.name])
    return {name: statistics.median(ts) for name, ts in times.items()}, times


def blas_threads():
    """(threads, description) of the BLAS numpy uses, through threadpoolctl if installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None, "threadpoolctl not installed: BLAS thread count unknown"
    for info in threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            desc = (f"{info['internal_api']} {info.get('version')} ({info.get('architecture')} kernels, "
                    f"{info.get('threading_layer')}), {info['num_threads']} threads")
            return info["num_threads"], desc
    return None, "threadpoolctl found no BLAS loaded by numpy"


def machine_line():
    """One line describing where the numbers come from."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    _, blas = blas_threads()
    coretype = os.environ.get("OPENBLAS_CORETYPE", "unset")
    return (f"# {model}, {os.cpu_count()} logical CPUs; numpy {np.__version__}; BLAS: {blas}; "
            f"OPENBLAS_CORETYPE={coretype}")


def backends(dtypes=("float32", "float64"), want_gpu=True):
    """The (Backend, label) pairs to run, and a note if the GPU is skipped."""
    from minisyn.backend import cupy_available

    out = [(Backend("numpy", d), f"numpy/{d}") for d in dtypes]
    ok, reason = cupy_available()
    if not want_gpu:
        return out, "GPU benchmarks not requested"
    if ok:
        out += [(Backend("cupy", d), f"cupy/{d}") for d in dtypes]
        return out, None
    return out, f"GPU benchmarks skipped: {reason}"
