"""Array backends: numpy (default), CuPy (GPU), and a strict CPU stand-in.

Model code never calls ``numpy`` on model arrays. Every numerical function
receives a :class:`Backend` and works through its array module ``be.xp``; the
only way back to the host is :meth:`Backend.to_numpy` (used at the edges: for
saving, plotting and printing).

Choose the backend with :func:`use_backend` or the environment variables
``MINISYN_BACKEND`` (``numpy``, ``cupy`` or ``strict``) and ``MINISYN_DTYPE``
(``float32`` or ``float64``). The ``strict`` backend runs on numpy but, like
CuPy, refuses implicit conversion to numpy arrays: the whole training path is
tested on it so that CuPy-only failures show up on machines without a GPU.

Randomness: every backend makes seeded generators (:meth:`Backend.generator`).
An ensemble of K independent networks draws from K generators, one per member
(:class:`GeneratorStack`), so member k of an ensemble sees exactly the random
numbers a lone network with the same seed would see.
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys

import numpy as np

from minisyn import strict

__all__ = [
    "Backend",
    "Generator",
    "GeneratorStack",
    "available_backends",
    "get_backend",
    "use_backend",
    "cupy_available",
]

_DTYPES = {"float32": np.float32, "float64": np.float64}


def cupy_available():
    """Return ``(ok, reason)``: whether CuPy is installed and sees a GPU.

    CuPy is looked up without importing it where it is not installed.
    """
    if importlib.util.find_spec("cupy") is None:
        return False, "CuPy is not installed (pip install 'minisyn[gpu]')"
    try:
        import cupy

        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA driver missing, no device, ...
        return False, f"CuPy cannot reach a GPU: {err}"
    if n < 1:
        return False, "CuPy found no CUDA device"
    return True, f"{n} CUDA device(s)"


def available_backends():
    """Names of the backends usable on this machine."""
    names = ["numpy", "strict"]
    if cupy_available()[0]:
        names.append("cupy")
    return names


class Generator:
    """A seeded random generator producing arrays of one backend.

    Parameters
    ----------
    backend : Backend
    seed : int or None
    """

    def __init__(self, backend, seed=None):
        self.backend = backend
        self.seed = seed
        xp = backend.xp
        # CuPy's long-stable RandomState has dtype-aware draws; numpy and the
        # strict stand-in use the modern Generator (which also fills ``out``).
        self._legacy = backend.name == "cupy"
        self._rng = xp.random.RandomState(seed) if self._legacy else xp.random.default_rng(seed)

    def normal(self, shape, out=None):
        """Standard normal samples of the backend dtype, shape ``shape``.

        In float32 on the CPU the samples come from the Box-Muller transform
        of uniform draws, ``r = sqrt(-2 log(1 - u1))``,
        ``(r cos 2 pi u2, r sin 2 pi u2)``: exact standard normals, faster
        than numpy's ziggurat sampler in float32 (whose sin and cos are
        vectorised; drawing noise dominates a Gaussian-synapse step).
        ``1 - u1 >= 2^-24`` bounds float32 samples by 5.77 (a tail of
        probability 8e-9 is cut off). float64 uses numpy's ziggurat sampler;
        CuPy its own.
        """
        dtype = self.backend.dtype if out is None else out.dtype
        shape = tuple(out.shape if out is not None else shape)
        if not self._legacy and np.dtype(dtype) == np.float64:
            if out is not None:
                return self._rng.standard_normal(out=out, dtype=dtype)
            return self._rng.standard_normal(shape, dtype=dtype)
        if self._legacy:
            draw = self._rng.standard_normal(shape, dtype=dtype)
            if out is None:
                return draw
            out[...] = draw
            return out
        xp = self.backend.xp
        n = math.prod(shape)
        h = (n + 1) // 2
        u = self._uniform32(2 * h)
        r = xp.negative(u[:h], out=u[:h])
        xp.log1p(r, out=r)                         # log(1 - u1), finite: 1 - u1 > 0
        r *= -2.0
        xp.sqrt(r, out=r)                          # radius sqrt(-2 log(1 - u1))
        theta = u[h:]
        theta *= 2.0 * np.pi                       # angle 2 pi u2
        # write straight into ``out`` where it is contiguous and n is even
        direct = out is not None and n == 2 * h and out.flags.c_contiguous
        z = out.reshape(n) if direct else xp.empty(2 * h, dtype=dtype)
        xp.cos(theta, out=z[:h])
        xp.sin(theta, out=z[h:])
        z[:h] *= r
        z[h:] *= r
        if direct:
            return out
        z = z[:n].reshape(shape)
        if out is None:
            return z
        out[...] = z
        return out

    def _uniform32(self, n):
        """``n`` float32 uniforms on [0, 1), as numpy's ``random(n, dtype=float32)``.

        numpy makes each from 32 random bits, ``(bits >> 8) * 2^-24``, taking
        the low and then the high half of each 64-bit output of the bit
        generator. Here the 64-bit outputs are drawn in one block
        (``random_raw``) and converted with three array passes, which is
        faster. From the same state and for even ``n`` the numbers are
        numpy's, bit for bit (on a little-endian machine: the low half comes
        first in memory).
        """
        if sys.byteorder != "little":
            return self._rng.random(n, dtype=np.float32)
        raw = self._rng.bit_generator.random_raw((n + 1) // 2)
        bits = raw.view(np.uint32)[:n]
        bits >>= 8
        u = bits.astype(np.float32)
        u *= np.float32(2.0**-24)
        return self.backend.asarray(u)

    def uniform(self, shape, out=None):
        """Uniform samples on [0, 1) of the backend dtype, shape ``shape``."""
        dtype = self.backend.dtype if out is None else out.dtype
        if self._legacy:
            draw = self._rng.random_sample(tuple(shape), dtype=dtype)
        elif np.dtype(dtype) == np.float32:
            shape = tuple(shape if out is None else out.shape)
            draw = self._uniform32(math.prod(shape)).reshape(shape)
        elif out is not None:
            return self._rng.random(out=out, dtype=dtype)
        else:
            return self._rng.random(tuple(shape), dtype=dtype)
        if out is None:
            return draw
        out[...] = draw
        return out


class GeneratorStack:
    """K generators for an ensemble; draws for member k come from generator k.

    A draw of shape ``(K, *rest)`` stacks K draws of shape ``rest``, so an
    ensemble member's noise does not depend on the other members.

    Members with the same seed share one generator and one draw: their
    numbers would be equal anyway (each is the stream a lone network with
    that seed sees), so they are drawn once. When every member has the same
    seed (as in the trade-off sweep, where members differ only in their
    hyperparameters), a draw is one draw of shape ``rest`` broadcast to
    ``(K, *rest)`` (a read-only view), which saves the noise of K - 1 networks.
    """

    def __init__(self, backend, seeds):
        self.backend = backend
        self.seeds = [int(s) for s in seeds]
        unique = {s: Generator(backend, s) for s in dict.fromkeys(self.seeds)}
        self.members = [unique[s] for s in self.seeds]    # one generator per distinct seed
        self._unique = list(unique.values())

    def __len__(self):
        return len(self.members)

    @property
    def shared(self):
        """True when every member has the same seed (draws are broadcast views)."""
        return len(self._unique) == 1

    def _draw(self, method, shape, out):
        K = len(self.members)
        if shape[0] != K:
            raise ValueError(f"ensemble draw needs leading axis {K}, got shape {shape}")
        xp = self.backend.xp
        if len(self._unique) == 1:                        # one seed: one draw for all members
            one = getattr(self._unique[0], method)(shape[1:])
            if out is None:
                return xp.broadcast_to(one, shape)
            out[...] = one
            return out
        if out is None:
            out = xp.empty(shape, dtype=self.backend.dtype)
        first = {}
        for k, g in enumerate(self.members):
            if id(g) in first:                            # a repeated seed: copy its draw
                out[k] = out[first[id(g)]]
            else:
                first[id(g)] = k
                getattr(g, method)(shape[1:], out=out[k])
        return out

    def normal(self, shape, out=None):
        return self._draw("normal", tuple(shape), out)

    def uniform(self, shape, out=None):
        return self._draw("uniform", tuple(shape), out)


class Backend:
    """An array module with a floating dtype.

    Attributes
    ----------
    name : {'numpy', 'cupy', 'strict'}
    xp : module
        The array namespace (``numpy``, ``cupy`` or :mod:`minisyn.strict`).
    dtype : numpy dtype
        Floating dtype of model arrays (float32 or float64).
    """

    def __init__(self, name="numpy", dtype="float32"):
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
            dtype = _DTYPES[dtype]
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        if name == "numpy":
            xp = np
        elif name == "strict":
            xp = strict
        elif name == "cupy":
            ok, reason = cupy_available()
            if not ok:
                raise RuntimeError(f"the cupy backend is not usable here: {reason}")
            import cupy as xp
        else:
            raise ValueError(f"unknown backend {name!r}: choose numpy, cupy or strict")
        self.name, self.xp, self.dtype = name, xp, dtype

    def __repr__(self):
        return f"Backend({self.name!r}, {self.dtype.name!r})"

    # -- crossing the host boundary (the only two doors) ---------------------
    def asarray(self, a, dtype=None):
        """Copy host data (numpy array, list, scalar) into a backend array."""
        if self.name == "numpy":
            return np.asarray(a, dtype=dtype)
        if isinstance(a, (np.ndarray, np.generic, list, tuple, int, float)):
            a = np.asarray(a)                       # host data: copied to the device below
        return self.xp.asarray(a, dtype=dtype)      # a device array passes through

    def to_numpy(self, a):
        """Return a host numpy copy (or view, on numpy) of a backend array."""
        if self.name == "numpy" or isinstance(a, (np.ndarray, np.generic, int, float)):
            return np.asarray(a)
        if self.name == "cupy":
            return a.get()
        return self.xp.to_numpy(a)

    def scalar(self, a):
        """A Python float from a 0-d backend array (synchronises a GPU)."""
        return float(self.to_numpy(a))

    # -- helpers ------------------------------------------------------------
    def floats(self, a):
        """Host or Python data as a backend array of the backend dtype."""
        return self.asarray(a, dtype=self.dtype)

    def generator(self, seed=None):
        """A seeded :class:`Generator`, or a :class:`GeneratorStack` for a
        sequence of seeds (one per ensemble member)."""
        if isinstance(seed, (list, tuple)) or (isinstance(seed, np.ndarray) and seed.ndim == 1):
            return GeneratorStack(self, [int(s) for s in seed])
        return Generator(self, seed)

    def synchronize(self):
        """Wait for queued device work (a no-op on the CPU)."""
        if self.name == "cupy":
            self.xp.cuda.Stream.null.synchronize()


_default = None


def use_backend(name=None, dtype=None):
    """Set (and return) the default backend used when none is passed.

    ``name`` defaults to ``$MINISYN_BACKEND`` or ``'numpy'``; ``dtype`` to
    ``$MINISYN_DTYPE`` or ``'float32'``.
    """
    global _default
    name = name or os.environ.get("MINISYN_BACKEND", "numpy")
    dtype = dtype or os.environ.get("MINISYN_DTYPE", "float32")
    _default = Backend(name, dtype)
    return _default


def get_backend(backend=None):
    """Resolve ``backend`` (a Backend, a name, or None for the default)."""
    if isinstance(backend, Backend):
        return backend
    if isinstance(backend, str):
        return Backend(backend, os.environ.get("MINISYN_DTYPE", "float32"))
    if _default is None:
        return use_backend()
    return _default
