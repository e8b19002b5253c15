"""How many networks an ensemble can hold: memory per member, memory available.

The sweep commands (``minisyn sweep``, ``minisyn energy-info``) train their
networks in ensembles of at most ``--ensemble-size`` members. Before they
start, :func:`fit_ensemble_size` lowers that number where the machine could not
hold it: an ensemble may use at most half of the memory available to each
worker process (host memory on the CPU backends, free device memory with
CuPy), at the per-member estimate of :func:`member_bytes`.
"""
from __future__ import annotations

import os

import numpy as np

from minisyn.layers import synapse_type

__all__ = ["member_bytes", "available_memory", "fit_ensemble_size"]

def member_bytes(sizes, batch_size, dtype="float32", synapse="gaussian", noise="heterogeneous", bias=True):
    """An upper estimate of the bytes one ensemble member needs while it trains.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, e.g. ``(784, 100, 100, 10)``.
    batch_size : int
    dtype : str or numpy dtype
    synapse : str
        A registered synapse type; its ``arrays_per_synapse`` gives the count
        of weight-shaped arrays a step keeps per member.
    noise : {'heterogeneous', 'homogeneous'}
        For types whose count depends on it (Gaussian synapses).
    bias : bool
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or min(sizes) < 1 or int(batch_size) < 1:
        raise ValueError(f"need at least two layer widths >= 1 and batch_size >= 1, got {sizes}, {batch_size}")
    counts = synapse_type(synapse).arrays_per_synapse
    per_synapse = counts.get(noise, counts.get(None))
    if per_synapse is None:
        raise ValueError(f"unknown noise setting {noise!r} for {synapse} synapses: choose from {tuple(counts)}")
    itemsize = np.dtype(dtype).itemsize
    synapses = sum((a + int(bias)) * b for a, b in zip(sizes[:-1], sizes[1:]))
    # pre-activations, outputs, their gradients and masks, local-scheme moments:
    # a generous 8 arrays of (batch, width + 1) per layer after the input (the
    # input minibatch itself is shared by the members)
    activations = 8 * int(batch_size) * sum(n + 1 for n in sizes[1:])
    return itemsize * (per_synapse * synapses + activations)


def available_memory(backend):
    """Bytes available for new arrays: free device memory with CuPy, else
    the host's available memory (``MemAvailable`` on Linux); ``None`` if unknown."""
    if backend.name == "cupy":
        free, _ = backend.xp.cuda.runtime.memGetInfo()
        return int(free) + int(backend.xp.get_default_memory_pool().free_bytes())
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def fit_ensemble_size(requested, per_member, backend, workers=1, available=None, share=0.5):
    """The ensemble size to use: ``requested``, lowered to fit in memory.

    An ensemble may use ``share`` of the memory available to each of
    ``workers`` processes. Returns ``(size, message)``; ``message`` says why
    the size was lowered (``None`` if it was not).

    Raises
    ------
    MemoryError
        If not even one network fits.
    """
    requested = int(requested)
    if requested < 1:
        raise ValueError(f"ensemble size must be >= 1, got {requested}")
    if available is None:
        available = available_memory(backend)
    if available is None:                                   # unknown: trust the request
        return requested, None
    budget = share * available / max(1, int(workers))
    fits = int(budget // per_member)
    if fits < 1:
        raise MemoryError(
            f"one network needs about {per_member / 2**20:.0f} MiB while training, but only "
            f"{budget / 2**20:.0f} MiB ({share:.0%} of the {available / 2**20:.0f} MiB available"
            f"{f', shared by {workers} workers' if workers > 1 else ''}) can be used: "
            "use fewer workers, smaller layers or a machine with more memory")
    if fits >= requested:
        return requested, None
    return fits, (f"ensemble size lowered from {requested} to {fits}: a network needs about "
                  f"{per_member / 2**20:.1f} MiB while training and {budget / 2**20:.0f} MiB can be used "
                  f"({share:.0%} of the {available / 2**20:.0f} MiB available"
                  f"{f' to each of {workers} workers' if workers > 1 else ''})")
