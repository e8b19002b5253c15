"""Milliseconds per training step of minisyn's two reference networks.

A training step is ``net.zero_grad(); net.objective(xb, targets, N, costs);
opt.step()`` on random MNIST-shaped minibatches (uniform [0, 1) inputs):

  gaussian-weights  784-100-100-10, batch 20, Adam 5e-4, PowerLawCost(1e-2, 0.5) + L1Cost(1e-4)
  gaussian-local    the same with the local reparameterisation scheme
  bernoulli-presyn  784-200-200-10, batch 100, presynaptic rule (lr 0.05), no bias

each in float32 and float64 on numpy (and CuPy where a GPU is usable). Repeats
interleave every configuration, so the ratios come from the same conditions;
the table shows the median over repeats.

    python benchmarks/bench_step.py             # full table
    python benchmarks/bench_step.py --quick     # fewer steps and repeats
    python benchmarks/bench_step.py --profile   # where a Gaussian step spends its time
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (N_TRAIN, backends, bernoulli_job, blas_limit, gaussian_job,  # noqa: E402
                    interleaved, machine_line)
from minisyn.backend import Backend  # noqa: E402
from minisyn.losses import cross_entropy  # noqa: E402


def table(args):
    bes, note = backends(want_gpu=not args.no_gpu)
    runs = [(be, label, None) for be, label in bes]
    if args.one_thread_too:       # the numpy columns again with BLAS capped at one thread
        runs += [(be, label + " 1thr", 1) for be, label in bes if be.name == "numpy"]
    jobs, cols = [], []
    for be, label, threads in runs:
        cols.append(label)
        for job in (gaussian_job(be, "weights"), gaussian_job(be, "local"), bernoulli_job(be)):
            job.name, job.blas_threads = f"{job.name}|{label}", threads
            jobs.append(job)
    med, _ = interleaved(jobs, args.steps, args.repeats, args.warmup)
    print(machine_line())
    print(f"# ms per training step, median of {args.repeats} interleaved repeats of "
          f"{args.steps} steps after {args.warmup} warm-up steps")
    rows = ("gaussian-weights", "gaussian-local", "bernoulli-presyn")
    suffixes = [""] + ([" 1thr"] if args.one_thread_too else [])   # f64/f32 ratio per thread setting
    head = (f"{'network':<18}" + "".join(f"{c:>{max(15, len(c) + 2)}}" for c in cols)
            + "".join(f"{'f64/f32' + s:>14}" for s in suffixes))
    print(head)
    print("-" * len(head))
    for r in rows:
        ms = {c: 1e3 * med[f"{r}|{c}"] for c in cols}
        ratios = [ms["numpy/float64" + s] / ms["numpy/float32" + s] for s in suffixes]
        print(f"{r:<18}" + "".join(f"{ms[c]:>{max(15, len(c) + 2)}.3f}" for c in cols)
              + "".join(f"{q:>14.2f}" for q in ratios))
    if note:
        print(f"# {note}")


def phases(job, steps):
    """Median ms of each part of a step, timed through the public API."""
    net, opt = job.net, job.opt
    xb, targets = job.data[0]
    xp = net.be.xp
    parts = {"zero_grad": [], "forward": [], "cross-entropy": [], "backward": [],
             "costs": [], "optimizer": []}
    for _ in range(steps):
        t = [time.perf_counter()]
        net.zero_grad(); t.append(time.perf_counter())
        logits = net.forward(xb); t.append(time.perf_counter())
        _, g = cross_entropy(logits, targets, xp); t.append(time.perf_counter())
        net.backward(g); t.append(time.perf_counter())
        net.add_costs(job.costs, N_TRAIN, cached=True); t.append(time.perf_counter())  # as objective
        opt.step(); t.append(time.perf_counter())
        for k, (a, b) in zip(parts, zip(t, t[1:])):
            parts[k].append(1e3 * (b - a))
    return {k: statistics.median(v) for k, v in parts.items()}


def matmul_floor(dtype, steps, batch=20, sizes=(784, 100, 100, 10)):
    """Median ms of the nine matrix products of one step alone (3 per layer, bias column included)."""
    rng = np.random.default_rng(0)
    mats = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        x = rng.random((batch, n_in + 1)).astype(dtype)
        w = rng.random((n_out, n_in + 1)).astype(dtype)
        d = rng.random((batch, n_out)).astype(dtype)
        mats.append((x, w, d))
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        for x, w, d in mats:
            x @ w.T, d.T @ x, d @ w
        ts.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(ts)


def profile(args):
    be = Backend("numpy", "float32")
    print(machine_line())
    for scheme in ("weights", "local"):
        job = gaussian_job(be, scheme)
        job.run(args.warmup)
        prof = cProfile.Profile()
        prof.enable()
        job.run(args.profile_steps)
        prof.disable()
        print(f"\n## cProfile, Gaussian 784-100-100-10 '{scheme}', numpy float32, {args.profile_steps} steps "
              f"(tottime = time in the function itself; numpy operators and ufuncs are not "
              f"functions to cProfile, so their time lands in the Python function that calls them)")
        stats = pstats.Stats(prof, stream=sys.stdout).strip_dirs().sort_stats("tottime")
        stats.print_stats(args.top)
        ph = phases(job, args.profile_steps)
        total = sum(ph.values())
        print(f"## phases of a '{scheme}' step (median ms, no profiler): total {total:.3f} ms")
        for k, v in ph.items():
            print(f"   {k:<14}{v:8.3f} ms  {100 * v / total:5.1f}%")
    floor = matmul_floor(np.float32, args.profile_steps)
    print(f"## the 9 matrix products of a step alone (numpy float32): {floor:.3f} ms")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=50, help="timed steps per repeat (default 50)")
    ap.add_argument("--repeats", type=int, default=9, help="interleaved repeats (default 9)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    ap.add_argument("--quick", action="store_true", help="--steps 20 --repeats 5 --warmup 5")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="cap numpy's BLAS threads for the whole run (threadpoolctl); default: as is")
    ap.add_argument("--one-thread-too", action="store_true",
                    help="add numpy columns with BLAS capped at 1 thread (needs threadpoolctl)")
    ap.add_argument("--no-gpu", action="store_true", help="skip CuPy even where a GPU is usable")
    ap.add_argument("--profile", action="store_true", help="cProfile and phase breakdown of a Gaussian step")
    ap.add_argument("--profile-steps", type=int, default=300, help="steps profiled (default 300)")
    ap.add_argument("--top", type=int, default=18, help="functions listed by --profile (default 18)")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.warmup = 20, 5, 5
        args.profile_steps = min(args.profile_steps, 100)
    with blas_limit(args.blas_threads):
        if args.blas_threads:
            print(f"# BLAS capped at {args.blas_threads} thread(s) for the whole run")
        if args.profile:
            profile(args)
        else:
            table(args)


if __name__ == "__main__":
    main()
