"""Network-steps per second of the Gaussian MLP against ensemble size K.

``MLP(784-100-100-10, 'gaussian', ensemble=K, seed=list(range(K)))`` in
float32, Adam 5e-4, batch 20, a per-member reliability cost
``PowerLawCost(c, 0.5)`` with K values of c (log-spaced 1e-3..1e-1) plus
``L1Cost(1e-4)``; every member sees the same (20, 784) minibatch. Members are
seeded 0..K-1 ("distinct"), or all with seed 0 ("shared", as the trade-off
sweep seeds them: one noise draw then serves every member). One ensemble
step advances K networks, so network-steps/s = K x ensemble-steps/s. Repeats
interleave the K values; medians are shown. A lone network (ensemble=None) is
timed alongside as a reference.

Memory: tracemalloc, in a separate untimed pass per K. "state" is what the
network, Adam's moments and the minibatches hold after construction; "step
peak" is the most the steps allocated on top of that. tracemalloc sees
numpy's array buffers (it does not see OpenBLAS's internal workspace, nor GPU
memory).

A 2-2-2-2 network's step, timed against the lone network's, measures the
fixed cost of a step (Python, the calls into numpy): the most an ensemble
could save if it shared nothing but that.

The script ends with a projection of the first paper's full sweep: 240
networks x 50 epochs x 3000 steps (60,000 examples / batch 20).

    python benchmarks/bench_ensemble.py [--quick] [--ks 1 2 4 8 16 32]
"""
from __future__ import annotations

import argparse
import os
import sys
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import gaussian_job, interleaved, machine_line  # noqa: E402
from minisyn.backend import Backend, cupy_available  # noqa: E402

SWEEP_NETWORKS, SWEEP_EPOCHS, STEPS_PER_EPOCH = 240, 50, 60_000 // 20


def make_job(be, K, threads, shared=False):
    """Gaussian job for ensemble size K (None: a lone network); ``shared``: one seed for all members."""
    c = 1e-2 if K is None else np.logspace(-3, -1, K)    # one c per member
    job = gaussian_job(be, "weights", ensemble=K, c=c, shared_seed=shared)
    job.name = "lone" if K is None else f"K={K}" + (" shared" if shared else "")
    job.blas_threads = threads
    return job


def overhead(be, args):
    """(ms per step of the 784-100-100-10 network, ms per step of a 2-2-2-2 one): the second
    is the step's fixed cost (Python, calls into numpy), which an ensemble shares."""
    full = make_job(be, None, args.blas_threads)
    tiny = gaussian_job(be, "weights", sizes=(2, 2, 2, 2))
    tiny.name, tiny.blas_threads = "tiny", args.blas_threads
    med, _ = interleaved([full, tiny], 200, args.repeats, 20)
    return 1e3 * med["lone"], 1e3 * med["tiny"]


def memory(be, K, threads, steps, shared=False):
    """(state MB, step-peak MB) of numpy allocations, by tracemalloc."""
    tracemalloc.start()
    job = make_job(be, K, threads, shared)
    job.run(1)                                   # first-step allocations count as state
    state, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    job.run(steps)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return state / 2**20, (peak - state) / 2**20


def sweep(be, args):
    """Print the table; return the best network-steps/s with distinct seeds and with one shared seed."""
    ks = [None] + args.ks
    cases = [(K, False) for K in ks] + [(K, True) for K in args.ks if K > 1]
    jobs = [make_job(be, K, args.blas_threads, shared) for K, shared in cases]
    steps = {j.name: max(args.min_steps, round(args.network_steps / (K or 1))) for j, (K, _) in zip(jobs, cases)}
    med, _ = interleaved(jobs, steps, args.repeats, args.warmup)
    base = 1 / med["K=1"]                        # network-steps/s at K=1
    print(f"\n# {be}: median of {args.repeats} interleaved repeats, "
          f"about {args.network_steps} network-steps each (at least {args.min_steps} ensemble steps)")
    print("# seeds: 'distinct' = members seeded 0..K-1; 'shared' = one seed for all, as in the sweep "
          "(one noise draw serves every member)")
    print(f"{'K':>6}{'seeds':>10}{'ms/ens-step':>13}{'ms/net-step':>13}{'net-steps/s':>13}{'vs K=1':>8}"
          f"{'state MB':>10}{'step peak MB':>14}")
    best = {False: 0.0, True: 0.0}
    for j, (K, shared) in zip(jobs, cases):
        k = K or 1
        rate = k / med[j.name]
        best[shared] = max(best[shared], rate)
        mem = "" if be.name != "numpy" else "%10.1f%14.1f" % memory(be, K, args.blas_threads, 3, shared)
        kind = "-" if K is None or K == 1 else ("shared" if shared else "distinct")
        print(f"{'lone' if K is None else K:>6}{kind:>10}{1e3 * med[j.name]:>13.3f}{1e3 * med[j.name] / k:>13.3f}"
              f"{rate:>13.1f}{rate / base:>8.2f}{mem}")
    best[True] = max(best[True], best[False])
    if be.name == "numpy":
        full, tiny = overhead(be, args)
        print(f"# fixed cost of a step (a 2-2-2-2 network): {tiny:.3f} ms of the {full:.3f} ms of a lone "
              f"784-100-100-10 step; an ensemble that shared all of it and nothing else could reach "
              f"{full / (full - tiny):.2f}x the network-steps/s of K=1")
    return best


def projection(label, rate):
    total = SWEEP_NETWORKS * SWEEP_EPOCHS * STEPS_PER_EPOCH
    hours = total / rate / 3600
    print(f"# {label}: {total:.3g} network-steps / {rate:.0f} network-steps/s = {hours:.1f} hours "
          f"({hours / 24:.1f} days)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32], help="ensemble sizes")
    ap.add_argument("--network-steps", type=int, default=256,
                    help="network-steps per timed block (ensemble steps = this / K; default 256)")
    ap.add_argument("--min-steps", type=int, default=4, help="at least this many ensemble steps a block")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved repeats (default 7)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed ensemble steps first (default 3)")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="cap numpy's BLAS threads (threadpoolctl); default: leave as is")
    ap.add_argument("--quick", action="store_true", help="--network-steps 64 --repeats 3")
    ap.add_argument("--no-gpu", action="store_true", help="skip CuPy even where a GPU is usable")
    args = ap.parse_args(argv)
    if 1 not in args.ks:
        ap.error("--ks must include 1 (the ratios are to K=1)")
    if args.quick:
        args.network_steps, args.repeats = 64, 3
    print(machine_line())
    if args.blas_threads:
        print(f"# BLAS capped at {args.blas_threads} thread(s) while timing")
    cpu = sweep(Backend("numpy", "float32"), args)
    print(f"\n# Projection of the first paper's sweep ({SWEEP_NETWORKS} networks x {SWEEP_EPOCHS} epochs "
          f"x {STEPS_PER_EPOCH} steps), from the best measured rate with the sweep's shared seed, one process "
          f"(bench_sweep.py projects from measured epochs, both noise settings, one and two processes):")
    projection("this CPU, numpy float32", cpu[True])
    ok, reason = cupy_available()
    if ok and not args.no_gpu:
        projection("GPU, cupy float32", sweep(Backend("cupy", "float32"), args)[True])
    else:
        print(f"# GPU: no GPU could be used, so there is no GPU projection ({reason})")


if __name__ == "__main__":
    main()
