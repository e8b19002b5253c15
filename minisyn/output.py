"""Writing results: JSON, NPZ, CSV and figures, each atomically.

Every writer goes through :func:`atomic_write`: the bytes go to a temporary
file named after this process (two processes never share one), are flushed
to disk, and the file is renamed into place. A reader therefore sees either
the old file or the whole new one, never half of either.

This module sits below everything that writes files (the experiments, the
command line, the demos) and imports nothing from minisyn. matplotlib is
imported only when a figure is made.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import threading
from pathlib import Path

import numpy as np

__all__ = ["signals_wait", "atomic_write", "save_json", "load_json", "save_npz", "save_csv", "save_history_csv", "pyplot",
           "no_minor_labels", "save_figure", "FIGURE_FORMATS", "to_jsonable"]

FIGURE_FORMATS = ("png", "pdf")


@contextlib.contextmanager
def signals_wait():
    """Within the block, SIGINT and SIGTERM wait; on leaving, each one that came is raised again.

    For library code that is not safe to interrupt: matplotlib's PDF writer,
    stopped by ``KeyboardInterrupt`` part way, raises an ``AttributeError`` of
    its own while cleaning up, which replaces the interrupt. Outside the main
    thread, where handlers cannot be set, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came = []
    previous = {sig: signal.signal(sig, lambda signum, frame: came.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)   # None: set outside Python
        for sig in dict.fromkeys(came):
            signal.raise_signal(sig)            # now, to the handler that was there before


def _tmp_path(path):
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path, data):
    """Write ``data`` (bytes or str) to ``path`` through a temporary file, fsync and a rename.

    The temporary file is ``.<name>.<pid>.tmp`` beside ``path``; it is removed
    if the write fails.
    """
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def to_jsonable(o):
    """numpy scalars and arrays as plain Python numbers and lists (``json.dumps``'s ``default``)."""
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot save {type(o).__name__} as JSON")


def save_json(path, obj):
    """``obj`` as indented JSON (numpy values converted)."""
    atomic_write(path, json.dumps(obj, indent=2, default=to_jsonable) + "\n")


def load_json(path):
    """Read a JSON file; a damaged one is a ``ValueError`` that names the file."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}): delete it, or rerun with --force") from None


def save_npz(path, arrays):
    """A dict of arrays as a compressed ``.npz``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(path, buf.getvalue())


def _cell(v):
    if isinstance(v, (float, np.floating)):
        return repr(float(v))                      # round-trip exact
    if isinstance(v, (list, tuple)):
        return json.dumps(v, default=to_jsonable)  # a per-member list in one cell
    return "" if v is None else v


def save_csv(path, header, rows):
    """A CSV table: the ``header`` line, then one line per row.

    Floats are written as ``repr(float(v))`` (round-trip exact), lists as
    JSON, ``None`` as an empty cell; everything else as ``csv.writer`` writes it.
    """
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([_cell(v) for v in row])
    atomic_write(path, buf.getvalue())


def save_history_csv(path, history):
    """A training history (dict of per-epoch lists) as CSV, one line per epoch."""
    keys = [k for k in history if history[k]]
    save_csv(path, keys, zip(*(history[k] for k in keys)))


def pyplot():
    """``matplotlib.pyplot`` with the non-interactive Agg backend selected."""
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
    """Save ``fig`` as ``<out>/<stem>.png`` and ``.pdf`` (each atomically), then close it.

    Returns the list of paths written, PNG first.
    """
    import matplotlib.pyplot as plt

    out = Path(out)
    paths = []
    try:
        for ext in FIGURE_FORMATS:
            buf = io.BytesIO()
            with signals_wait():
                fig.savefig(buf, format=ext, dpi=dpi, **savefig_kwargs)
            path = out / f"{stem}.{ext}"
            atomic_write(path, buf.getvalue())
            paths.append(path)
    finally:
        plt.close(fig)
    return paths
