"""Shared helpers for writing figures and CSV tables.

matplotlib is imported lazily so that importing this module stays cheap and
works where matplotlib is not installed.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

FIGURE_FORMATS = ("png", "pdf")


def pyplot():
    """Return ``matplotlib.pyplot`` with the non-interactive Agg backend selected.

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def no_minor_labels(ax):
    """Hide the minor tick labels of a log-scaled axes (they collide on short log ranges)."""
    from matplotlib.ticker import NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())


def save_figure(fig, out, stem, dpi=110, **savefig_kwargs):
    """Save ``fig`` as ``<out>/<stem>.png`` and ``<out>/<stem>.pdf``, then close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    out : str or Path
        Output folder (must exist).
    stem : str
        File name without extension.
    dpi : float, optional
        Resolution passed to ``savefig`` for both formats.
    **savefig_kwargs
        Further keyword arguments for ``Figure.savefig``.

    Returns
    -------
    list of Path
        The PNG path and the PDF path, in that order.
    """
    out = Path(out)
    paths = []
    for ext in FIGURE_FORMATS:
        path = out / f"{stem}.{ext}"
        fig.savefig(path, dpi=dpi, **savefig_kwargs)
        paths.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def save_csv(path, header, rows):
    """Write a CSV table atomically (through :func:`minisyn.cli.atomic_write`).

    Python and numpy floats are written as ``repr(float(v))`` (round-trip
    exact); every other value, including already formatted strings, is
    written as ``csv.writer`` writes it.

    Parameters
    ----------
    path : str or Path
        Destination file.
    header : sequence of str
        Column names (the first line).
    rows : iterable of sequences
        One sequence of values per line.
    """
    from minisyn.cli import atomic_write

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])
    atomic_write(path, buf.getvalue())
