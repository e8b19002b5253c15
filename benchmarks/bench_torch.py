"""The Gaussian network in idiomatic PyTorch eager, timed against minisyn's step.

Same model as minisyn's Gaussian MLP: 784-100-100-10, heterogeneous
``sigma = softplus(phi)``, one weight sample per minibatch ``w = mu + sigma xi``
(bias synapses too), objective ``softmax CE + (c sum sigma^-rho + lambda sum|mu|) / N``
with c = 1e-2, rho = 0.5, lambda = 1e-4, N = 60,000; Adam lr 5e-4, batch 20,
float32. The torch model starts from minisyn's initial mu and phi, so the two
first-step losses agree up to the (sigma = 1e-4) noise: a check that both
compute the same objective.

torch uses as many threads as numpy's BLAS (read through threadpoolctl).
Repeats interleave the two; medians are shown. torch is not a dependency of
minisyn: without it this script says so and exits 0.

    python benchmarks/bench_torch.py [--quick] [--steps 50] [--repeats 9]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import N_TRAIN, blas_limit, blas_threads, gaussian_job, machine_line  # noqa: E402
from minisyn.backend import Backend  # noqa: E402

C, RHO, LAM = 1e-2, 0.5, 1e-4


def torch_model(torch, state):
    """Per-layer (mu_w, phi_w, mu_b, phi_b) leaf tensors from minisyn's state (bias = last column)."""
    F = torch.nn.functional
    layers = []
    for i in range(3):
        mu, sigma = state[f"layer{i}.mu"], state[f"layer{i}.sigma"]
        phi = np.log(np.expm1(sigma.astype(np.float64))).astype(np.float32)   # softplus^-1
        layers.append([torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(a)))
                       for a in (mu[:, :-1], phi[:, :-1], mu[:, -1], phi[:, -1])])

    def objective(x, y):
        h, reliability, magnitude = x, 0.0, 0.0
        for i, (mu_w, phi_w, mu_b, phi_b) in enumerate(layers):
            sig_w, sig_b = F.softplus(phi_w), F.softplus(phi_b)
            w = mu_w + sig_w * torch.randn_like(mu_w)       # one weight sample per minibatch
            b = mu_b + sig_b * torch.randn_like(mu_b)
            h = F.linear(h, w, b)
            if i < len(layers) - 1:
                h = F.relu(h)
            reliability = reliability + sig_w.pow(-RHO).sum() + sig_b.pow(-RHO).sum()
            magnitude = magnitude + mu_w.abs().sum() + mu_b.abs().sum()
        return F.cross_entropy(h, y) + (C * reliability + LAM * magnitude) / N_TRAIN

    return [p for group in layers for p in group], objective


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=50, help="timed steps per repeat (default 50)")
    ap.add_argument("--repeats", type=int, default=9, help="interleaved repeats (default 9)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="cap numpy's BLAS threads (threadpoolctl) and give torch the same count")
    ap.add_argument("--quick", action="store_true", help="--steps 20 --repeats 5 --warmup 5")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.warmup = 20, 5, 5
    try:
        import torch
    except ImportError as err:
        print(f"torch is not importable ({err}): skipping the PyTorch comparison")
        return 0

    with blas_limit(args.blas_threads):
        print(machine_line())
        threads, desc = blas_threads()
        if threads is None:
            threads = os.cpu_count()
            print(f"# {desc}; torch gets os.cpu_count() = {threads} threads instead")
        torch.set_num_threads(threads)
        print(f"# torch {torch.__version__} (MKL: {torch.backends.mkl.is_available()}), "
              f"{torch.get_num_threads()} threads (numpy BLAS: {desc})")

        job = gaussian_job(Backend("numpy", "float32"), "weights")
        params, objective = torch_model(torch, job.net.state())
        opt = torch.optim.Adam(params, lr=5e-4)
        data = [(torch.from_numpy(x), torch.from_numpy(t.argmax(-1))) for x, t in job.data]
        torch.manual_seed(0)

        def torch_step(i):
            x, y = data[i % len(data)]
            opt.zero_grad()
            loss = objective(x, y)
            loss.backward()
            opt.step()
            return loss

        xb, tb = job.data[0]                      # first-step losses on the same minibatch
        ours = float(job.net.objective(xb, tb, N_TRAIN, job.costs)["loss"])
        job.net.zero_grad()
        with torch.no_grad():
            theirs = float(objective(*data[0]))
        agree = "agree" if abs(ours - theirs) < 1e-3 * abs(ours) else "DISAGREE"
        print(f"# first-step loss: minisyn {ours:.6f}, torch {theirs:.6f}: {agree} "
              f"(same init, independent noise)")

        def run_torch(steps):
            t0 = time.perf_counter()
            for i in range(steps):
                torch_step(i)
            return time.perf_counter() - t0

        runners = {"minisyn (numpy)": job.run, "torch eager": run_torch}
        for run in runners.values():
            run(args.warmup)
        times = {k: [] for k in runners}
        for r in range(args.repeats):
            for name in (list(runners) if r % 2 == 0 else list(runners)[::-1]):
                times[name].append(1e3 * runners[name](args.steps) / args.steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"# Gaussian 784-100-100-10, batch 20, Adam 5e-4, float32; ms per step, median of "
          f"{args.repeats} interleaved repeats of {args.steps} steps")
    for name, ms in med.items():
        print(f"{name:<18}{ms:10.3f} ms/step")
    print(f"{'torch / minisyn':<18}{med['torch eager'] / med['minisyn (numpy)']:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
