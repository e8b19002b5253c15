"""Projection of the first paper's full trade-off sweep from measured epochs.

The sweep (MODEL.md §A6; paper A, Figs. 2-3) is 4 rho x 30 c x 2 noise
settings = 240 networks, 50 MNIST epochs each (60,000 examples, batch 20, so
3,000 steps an epoch), then a test evaluation with 10 samples. This script
times *one whole epoch and that evaluation* through the code the sweep runs
(``minisyn.experiments.tradeoff.train_ensemble``), for each noise setting,
with the ensemble size K the sweep would use, on one BLAS thread per process:

- one process alone, and
- two processes at once (the sweep's ``--workers 2`` on a 2-core machine),
  each training the same ensemble: their wall time gives the throughput of
  the pair.

The evaluation is timed apart from the training: the sweep evaluates each
network once, after its 50 epochs.

The projection is then 120 heterogeneous and 120 homogeneous networks x 50
epochs at the measured per-network epoch times, plus one evaluation each
(two at a time with two processes). Members of an ensemble share
one rho and one seed, as in ``minisyn sweep``; the 30 values of c split into
ensembles of 16 and 14, which this script counts as 30 / K ensembles of K.

Data: MNIST from ``--data-dir`` (IDX files), or, by default, random arrays of
MNIST's shape (60,000 x 784 training and 10,000 x 784 test inputs), which cost
the same to train on.

    python benchmarks/bench_sweep.py [--quick] [--ks 1 16] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_line  # noqa: E402
from minisyn.backend import Backend, cupy_available  # noqa: E402
from minisyn.experiments import kit, tradeoff  # noqa: E402

NETWORKS_PER_NOISE, EPOCHS = 120, 50
SIZES = (784, 100, 100, 10)


def arrays(be, args):
    """(x, y, x_test, y_test) on ``be``: MNIST from --data-dir or random MNIST-shaped data."""
    if args.data_dir:
        return kit.prepare_data("mnist", data_dir=args.data_dir, download=False, train_limit=args.train_limit,
                                inputs="standardized", backend=be).arrays()
    rng = np.random.default_rng(0)
    n = args.train_limit or 60_000
    x = be.floats(rng.random((n, 784), dtype=np.float32))
    xt = be.floats(rng.random((10_000, 784), dtype=np.float32))
    y = be.asarray(rng.integers(0, 10, n))
    yt = be.asarray(rng.integers(0, 10, 10_000))
    return x, y, xt, yt


def one_epoch(be, data, noise, K):
    """(training seconds, evaluation seconds) of one epoch of an ensemble of K (rho 1/2)."""
    cs = list(np.logspace(-3, 4.25, K)) if K > 1 else [1e-2]
    t0 = time.perf_counter()
    rec = tradeoff.train_ensemble(be, *data, noise=noise, cs=cs, rhos=[0.5] * K, sizes=SIZES, epochs=1,
                                  batch_size=20, lr=1e-4, lam=1e-4, seed=0, sigma_init=1e-2,
                                  eval_samples=10)[0]
    be.synchronize()
    wall = time.perf_counter() - t0
    return rec["train_seconds"], wall - rec["train_seconds"]


_DATA = {}


def _child(noise, K, conn):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        conn.send(one_epoch(_DATA["be"], _DATA["data"], noise, K))
    conn.close()


def pair(be, data, noise, K):
    """Wall seconds until two forked processes have each trained the same epoch."""
    _DATA.update(be=be, data=data)
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    t0 = time.perf_counter()
    for _ in range(2):
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_child, args=(noise, K, send))
        p.start()
        pipes.append(recv)
        procs.append(p)
    each = [r.recv() for r in pipes]
    for p in procs:
        p.join()
    return time.perf_counter() - t0, each


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 16],
                    help="ensemble sizes to time (default 1 16; the sweep's default is 16)")
    ap.add_argument("--data-dir", default=None, help="MNIST IDX folder (default: random MNIST-shaped data)")
    ap.add_argument("--train-limit", type=int, default=None,
                    help="examples per epoch (default 60,000); the projection scales to 60,000")
    ap.add_argument("--no-pair", action="store_true", help="skip the two-process runs")
    ap.add_argument("--quick", action="store_true", help="--train-limit 3000 --ks 1 4")
    args = ap.parse_args(argv)
    if args.quick:
        args.train_limit, args.ks = 3000, [1, 4]
    if args.train_limit is not None and args.train_limit < 20:
        ap.error("--train-limit must be at least one batch (20)")
    scale = 60_000 / (args.train_limit or 60_000)
    print(machine_line())
    from threadpoolctl import threadpool_limits

    be = Backend("numpy", "float32")
    data = arrays(be, args)
    print(f"# one epoch = {data[0].shape[0]} examples / batch 20; the test evaluation (10,000 examples x 10 "
          f"samples) runs once a network, after its 50 epochs; "
          f"{'MNIST' if args.data_dir else 'random MNIST-shaped data'}; numpy float32, 1 BLAS thread a process")
    if scale != 1:
        print(f"# epoch times below are scaled x{scale:g} to 60,000 examples")
    print(f"{'noise':>14}{'K':>4}{'s/epoch':>10}{'s/net-epoch':>13}{'eval s/net':>12}"
          f"{'pair s/net-epoch':>18}{'pair speedup':>14}")
    rows = {}
    for K in args.ks:
        for noise in tradeoff.NOISES:
            with threadpool_limits(limits=1, user_api="blas"):
                one_epoch(be, tuple(a[:200] for a in data), noise, K)          # warm-up: buffers, caches
                train_s, eval_s = one_epoch(be, data, noise, K)
            alone = train_s * scale / K                                        # per network and epoch
            line = f"{noise:>14}{K:>4}{train_s * scale:>10.1f}{alone:>13.3f}{eval_s / K:>12.2f}"
            per_pair = None
            if not args.no_pair:
                wall, _ = pair(be, data, noise, K)
                # two ensembles of K trained and evaluated in `wall`; the evaluation's share is
                # taken off as measured alone (a slight overestimate of the training time)
                per_pair = max(wall - eval_s, 1e-9) * scale / (2 * K)
                line += f"{per_pair:>18.3f}{alone / per_pair:>14.2f}"
            print(line, flush=True)
            rows[noise, K] = (alone, per_pair, eval_s / K)
    print(f"\n# Projection: {NETWORKS_PER_NOISE} heterogeneous + {NETWORKS_PER_NOISE} homogeneous networks, "
          f"each {EPOCHS} epochs and one evaluation, at the times above")
    for K in args.ks:
        het, hom = rows["heterogeneous", K], rows["homogeneous", K]
        evals = NETWORKS_PER_NOISE * (het[2] + hom[2])
        one = (NETWORKS_PER_NOISE * EPOCHS * (het[0] + hom[0]) + evals) / 3600
        text = f"K={K:<3} one process: {one:5.1f} h"
        if het[1] is not None:
            two = (NETWORKS_PER_NOISE * EPOCHS * (het[1] + hom[1]) + evals / 2) / 3600
            text += f"   two processes (--workers 2): {two:5.1f} h"
        print(text)
    ok, reason = cupy_available()
    print("# GPU: " + ("a GPU is visible, but this script times the CPU only; see bench_ensemble.py"
                       if ok else f"no GPU could be used, so there is no GPU projection ({reason})"))


if __name__ == "__main__":
    main()
