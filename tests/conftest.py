"""pytest configuration: hypothesis profiles and the backend fixture.

Profiles (select with ``HYPOTHESIS_PROFILE``):

- ``ci`` (default): few examples, no deadline, derandomised (the same
  examples every run), for a fast, reproducible suite;
- ``thorough``: many examples, for a deeper search before a release.
"""
from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # make tests/helpers.py importable as `helpers`

from helpers import backend_params  # noqa: E402

settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    # hypothesis's failure report touches mypy_extensions.TypedDict, whose
    # DeprecationWarning would otherwise (filterwarnings = error) replace the
    # report of a failing test by an INTERNALERROR
    config.addinivalue_line("filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


@pytest.fixture(params=backend_params())
def backends(request):
    """The name of a backend: 'numpy', 'strict', and 'cupy' where a GPU is usable
    (otherwise skipped with the reason)."""
    return request.param


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """The tests' matrices are tiny: one BLAS thread is fastest and avoids the
    large slowdowns of a second thread waiting for a busy core."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
