"""Shared test helpers: finite differences, Monte-Carlo tolerances, backends.

Gradient checks run in float64, where a central difference with ``h`` near
``1e-6`` agrees with the true derivative to about 9 significant digits
(docs/testing.md); Monte-Carlo checks accept ``|mean - expected| <= k SE``
with the standard error ``SE`` estimated from the samples themselves.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from minisyn.backend import Backend, cupy_available

#: the development copies of the data sets beside the checkout (CI has them; a user's clone may not)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
                                 reason=f"development copy of MNIST not present at {MNIST_DIR}")

__all__ = [
    "numerical_grad",
    "fd_atol",
    "assert_grad_close",
    "standard_error",
    "assert_mc_mean",
    "assert_mc_variance",
    "backend_params",
    "f64",
]


def f64():
    """The float64 numpy backend used by every gradient check."""
    return Backend("numpy", "float64")


# -- finite differences -------------------------------------------------------
def numerical_grad(f, array, eps=1e-6):
    """Central-difference gradient of the scalar ``f()`` with respect to ``array``.

    Each element of ``array`` (a float64 numpy array that ``f`` reads) is
    perturbed in place by ``+eps`` and ``-eps`` and restored afterwards.

    Returns an array of ``array``'s shape: ``(f(a + eps e_i) - f(a - eps e_i)) / (2 eps)``.
    """
    if not isinstance(array, np.ndarray) or array.dtype != np.float64:
        raise TypeError(f"numerical_grad needs a float64 numpy array, got {type(array)} {getattr(array, 'dtype', '')}")
    grad = np.zeros(array.shape, dtype=np.float64)
    for idx in np.ndindex(array.shape):
        old = array[idx]
        array[idx] = old + eps
        up = float(f())
        array[idx] = old - eps
        down = float(f())
        array[idx] = old
        grad[idx] = (up - down) / (2.0 * eps)
    return grad


def fd_atol(scale, k=1e-9):
    """Absolute tolerance of a central difference of a function of size ``scale``.

    Rounding makes ``f`` wrong by about ``eps_mach |f|``, so the quotient is
    wrong by about ``eps_mach |f| / h`` (2e-10 |f| at h = 1e-6): ``k = 1e-9``
    leaves a margin of about 5 for the rounding of the evaluation itself.
    """
    return k * (1.0 + float(np.abs(np.asarray(scale, dtype=np.float64)).sum()))


def assert_grad_close(analytic, numeric, rtol=1e-6, atol=1e-8, name="gradient"):
    """Assert ``|analytic - numeric| <= atol + rtol |numeric|`` elementwise (and equal shapes)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    assert analytic.shape == numeric.shape, f"{name}: shape {analytic.shape} != finite-difference shape {numeric.shape}"
    err = np.abs(analytic - numeric)
    bad = err > atol + rtol * np.abs(numeric)
    if bad.any():
        worst = np.unravel_index(np.argmax(err - rtol * np.abs(numeric)), err.shape)
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {bad.size} elements differ from finite differences; "
            f"worst at {worst}: analytic {analytic[worst]!r}, numeric {numeric[worst]!r}\n"
            f"analytic:\n{analytic}\nnumeric:\n{numeric}"
        )


# -- Monte Carlo ----------------------------------------------------------------
def standard_error(samples, axis=0):
    """Standard error ``std / sqrt(S)`` of the mean of ``S`` samples along ``axis``."""
    samples = np.asarray(samples, dtype=np.float64)
    S = samples.shape[axis]
    return samples.std(axis=axis, ddof=1) / np.sqrt(S)


def assert_mc_mean(samples, expected, k=5.0, axis=0, floor=1e-12, name="mean"):
    """Assert the sample mean along ``axis`` lies within ``k`` standard errors of ``expected``.

    ``k = 5`` fails a correct implementation with probability below about
    ``1e-6`` per compared number; ``floor`` covers exactly constant samples.
    """
    samples = np.asarray(samples, dtype=np.float64)
    mean = samples.mean(axis=axis)
    tol = k * standard_error(samples, axis) + floor
    dev = np.abs(mean - np.asarray(expected, dtype=np.float64))
    if not np.all(dev <= tol):
        raise AssertionError(
            f"{name}: sample mean off by up to {np.max(dev / tol) * k:.1f} standard errors\n"
            f"mean:\n{mean}\nexpected:\n{expected}\ntolerance:\n{tol}"
        )


def assert_mc_variance(samples, expected_mean, expected_var, k=5.0, axis=0, name="variance"):
    """Assert ``E[(a - mean)^2] = var`` by Monte Carlo, with the exact mean known.

    The squared deviations from the known mean are an unbiased sample of the
    variance, so the check is :func:`assert_mc_mean` on them.
    """
    samples = np.asarray(samples, dtype=np.float64)
    dev2 = (samples - np.expand_dims(np.asarray(expected_mean, dtype=np.float64), axis)) ** 2
    assert_mc_mean(dev2, expected_var, k=k, axis=axis, name=name)


# -- backends ---------------------------------------------------------------------
def backend_params():
    """pytest params for every backend: numpy and strict always, cupy where usable.

    A backend that cannot be used here is a skipped param carrying the reason.
    """
    params = [pytest.param("numpy", id="numpy")]
    try:
        import minisyn.strict  # noqa: F401

        Backend("strict", "float64")
    except Exception as err:  # the strict stand-in is missing or broken
        params.append(pytest.param("strict", id="strict",
                                   marks=pytest.mark.skip(reason=f"minisyn.strict is not usable: {err!r}")))
    else:
        params.append(pytest.param("strict", id="strict"))
    ok, reason = cupy_available()
    if ok:
        params.append(pytest.param("cupy", id="cupy", marks=pytest.mark.gpu))
    else:
        params.append(pytest.param("cupy", id="cupy", marks=[pytest.mark.gpu, pytest.mark.skip(reason=reason)]))
    return params


def strict_or_skip():
    """Skip the calling test (with the reason) unless the strict backend works."""
    try:
        import minisyn.strict  # noqa: F401

        return Backend("strict", "float64")
    except Exception as err:
        pytest.skip(f"minisyn.strict is not usable yet: {err!r}")
