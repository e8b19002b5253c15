"""The experiment kit: what every experiment and command shares, in one place.

- **Options.** :func:`add_data_options`, :func:`add_inputs_option` and
  :func:`add_run_options` add the shared option groups; :func:`fraction`,
  :func:`floats`, :func:`sizes` and :func:`names` parse option values (``2/3``
  is a number everywhere); :class:`Formatter` prints each default once.
- **Data.** :func:`prepare_data` is the one way from a data-set name to
  arrays: load, preprocess, one subset rule for ``train_limit`` and
  ``test_limit`` (:func:`subset`), a validation split, input scaling.
- **Runs.** :class:`RunStore` keeps one JSON per finished run in
  ``<out>/runs/<key>.json`` (and, if the run has arrays, ``<key>.npz``), with
  the settings it was made with; a rerun resumes, and a run saved with other
  settings is refused with the settings that differ.
- **Folders and errors.** :func:`prepare_out_dir`, :func:`backend_from_args`,
  :class:`CLIError`.

File writing itself lives in :mod:`minisyn.output`, below this module.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import signal
import sys
import threading
import _thread
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from minisyn import datasets
from minisyn.backend import Backend
from minisyn.output import atomic_write, load_json, save_json, save_npz, to_jsonable
from minisyn.train import prepare_arrays

__all__ = ["demo_parser", "preset_value", "preset_help", "RunFolder", "run_id", "check_same_run", "Terminated", "Signals", "DEFAULT_THREADS", "blas_threads", "apply_preset", "CLIError", "Formatter", "INPUTS", "DATASETS", "fraction", "natural", "floats", "sizes", "ints", "names", "bools", "add_relu_option",
           "add_data_options", "add_inputs_option", "add_run_options", "backend_from_args", "prepare_out_dir",
           "subset", "Data", "prepare_data", "data_from_args", "RunStore", "at_least", "rho_label"]

INPUTS = ("unit", "standardized")
DATASETS = ("embedded", "mnist", "fashion-mnist")


#: BLAS threads for every command and demo: these networks' matrix products are small, and
#: one thread runs them fastest (a second thread mostly waits; benchmarks/README.md).
DEFAULT_THREADS = 1


def blas_threads(threads=DEFAULT_THREADS):
    """A context manager limiting BLAS to ``threads`` threads (0: the library's default).

    The command line (``--threads``) and the demos both run inside it, so a demo
    takes as long as the command that does the same work.
    """
    if threads is None or int(threads) < 0:
        raise CLIError(f"--threads must be >= 0, got {threads}")
    if int(threads) == 0:
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(threads), user_api="blas")


def apply_preset(args, quick, paper=None, use_paper=False):
    """Fill every option left unset (``None``) from a preset; return the preset's name.

    ``quick`` and ``paper`` are dicts keyed by option ``dest``; with
    ``use_paper`` (``--paper`` / ``--full``) the paper's settings are the base.
    An option the user gave, 0 included, is kept.
    """
    base = paper if (use_paper and paper is not None) else quick
    for name, value in base.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    return "paper" if base is paper else "quick"


def preset_value(value):
    """A preset's value as ``--help`` shows it: ``1/2,2`` for rho tuples, ``%g`` for floats."""
    if isinstance(value, (tuple, list)):
        return ",".join(rho_label(v) if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def preset_help(quick, paper):
    """``h(name)`` -> ``'(quick: ...; --paper: ...)'``, for an option set by both presets."""
    return lambda name: f"(quick: {preset_value(quick[name])}; --paper: {preset_value(paper[name])})"


def demo_parser(doc, name, full_help):
    """The parser a preset-driven demo starts from, and its group for overriding the preset.

    ``--out`` (default ``runs/<name>``), ``--full`` (the paper's settings:
    ``full_help`` says what they are), ``--data-dir``, ``--force``,
    ``--backend``, ``--no-progress``; the returned group holds ``--dataset``
    and takes the demo's own overrides (each ``None`` unless given, so the
    preset fills it: :func:`apply_preset`).
    """
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=f"runs/{name}", help="output folder (default: %(default)s)")
    p.add_argument("--full", action="store_true", help=full_help)
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (for --full)")
    p.add_argument("--force", action="store_true", help="retrain networks already saved in --out")
    p.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None, help="array backend")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    g = p.add_argument_group("overrides of the preset (smaller or larger runs)")
    g.add_argument("--dataset", choices=DATASETS, default=None, help="data set (quick: embedded; --full: mnist)")
    return p, g


class CLIError(ValueError):
    """A user error: the command prints it in one line, without a traceback, and exits with status 2.

    A ``ValueError``, so that Python callers of the experiments catch it as such."""


# -- option values ------------------------------------------------------------------
def fraction(text):
    """A number written as ``'0.5'``, ``'1e-3'`` or a fraction ``'2/3'``."""
    text = str(text).strip()
    try:
        if "/" in text:
            a, b = text.split("/")
            value = float(a) / float(b)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        value = float("nan")
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number or a fraction such as 2/3, got {text!r}")
    return value


def natural(text):
    """An integer >= 0 (a seed, say)."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def floats(text):
    """Comma-separated numbers (fractions allowed): ``'1/2,2/3,2'``."""
    values = [v for v in str(text).split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return [fraction(v) for v in values]


def names(text):
    """Comma-separated words, blanks dropped."""
    return [v.strip() for v in str(text).split(",") if v.strip()]


def ints(text):
    """Comma-separated integers."""
    try:
        return [int(v) for v in names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def sizes(text):
    """Layer widths ``'784,100,10'``: at least two positive integers."""
    try:
        widths = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, got {text!r}") from None
    if len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"sizes need at least two positive widths, got {text!r}")
    return widths


def bools(text):
    """Comma-separated 0s and 1s, ``'0,1,1'`` -> ``(False, True, True)`` (e.g. ``--relu-after``)."""
    parts = [t.strip() for t in str(text).split(",")]
    if not parts or any(t not in ("0", "1") for t in parts):
        raise argparse.ArgumentTypeError(f"expected 0s and 1s separated by commas, got {text!r}")
    return tuple(t == "1" for t in parts)


def add_relu_option(group):
    """``--relu-after``: where the ReLUs go (:class:`minisyn.network.MLP`'s ``relu_after``)."""
    group.add_argument("--relu-after", type=bools, default=None, metavar="0,1,1",
                       help="whether a ReLU follows each layer, comma separated (default: every hidden layer, "
                            "not the output; --authors: 0,1,1, docs/results/differences.md A1)")


def at_least(name, value, low=1):
    """``value`` if it is >= ``low``, else a :class:`CLIError` naming the option ``name``."""
    if value is None or value < low:
        raise CLIError(f"{name} must be >= {low}, got {value}")
    return value


def rho_label(rho):
    """``1/2``, ``2/3``, ``4/3``, ``2`` for the paper's exponents, else ``%g``."""
    for value, name in ((0.5, "1/2"), (2 / 3, "2/3"), (4 / 3, "4/3"), (2.0, "2")):
        if abs(rho - value) < 1e-9:
            return name
    return f"{rho:g}"


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help with each option's default, written once: nothing is added where the
    help already says its default or where the default is ``None``."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False \
                or action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


# -- option groups -------------------------------------------------------------------
def add_data_options(p, *, test_limit=False, val_fraction=False):
    """``--dataset``, ``--data-dir``, ``--no-download``, ``--train-limit`` (and, where the
    command uses them, ``--test-limit`` and ``--val-fraction``)."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=DATASETS, default="embedded",
                   help="'embedded': 5,000 training and 1,000 test MNIST digits shipped with minisyn "
                        "(offline); 'mnist' / 'fashion-mnist': the full sets (read from --data-dir or "
                        "$MINISYN_DATA, else downloaded once with checksums into a cache folder)")
    g.add_argument("--data-dir", default=None,
                   help="folder holding the four IDX files of --dataset (default: $MINISYN_DATA or the cache)")
    g.add_argument("--no-download", action="store_true", help="never download; fail if the files are missing")
    g.add_argument("--train-limit", type=int, default=None,
                   help="train on a random subset of N training examples, the same N examples (for a given "
                        "--seed) in every command (default: all)")
    if test_limit:
        g.add_argument("--test-limit", type=int, default=None,
                       help="evaluate on a random subset of N test examples (default: all)")
    if val_fraction:
        g.add_argument("--val-fraction", type=float, default=0.0,
                       help="fraction of the training set held out for validation after each epoch")
    return g


def add_inputs_option(group):
    """``--inputs unit|standardized``, for the commands that train on pixels."""
    group.add_argument("--inputs", choices=INPUTS, default="unit",
                       help="'unit': pixels in [0, 1]; 'standardized': (x - mean) / SD with the mean and SD "
                            "of the training pixels, as the authors' data loaders do (Normalize((0.1307,), "
                            "(0.3081,)) on MNIST). With [0, 1] pixels, a pixel that is 0 in every image "
                            "gives its synapses no data gradient (minisyn.datasets.standardize)")


def add_run_options(p, *, default_out, resumable=False, force_help=None):
    """``--seed``, ``--backend``, ``--dtype``, ``--threads``, ``--out``, ``--force``, ``--no-progress``.

    ``default_out`` is the folder used without ``--out`` (``{stamp}`` becomes
    the date and time); a ``resumable`` command resumes when rerun into it.
    """
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=natural, default=0, help="seeds initial weights, synaptic noise and example order")
    g.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None,
                   help="array backend (default: $MINISYN_BACKEND or numpy); cupy needs a GPU")
    g.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="floating type (default: $MINISYN_DTYPE or float32)")
    g.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help="BLAS threads; these networks' small matrix products run fastest on one "
                        "(0: the BLAS library's default)")
    out_help = f"output folder (default: {default_out.replace('{stamp}', '<date>-<time>')})"
    g.add_argument("--out", default=None, help=out_help + ("; rerunning into it resumes" if resumable else ""))
    g.add_argument("--force", action="store_true",
                   help=force_help or ("retrain runs already saved in --out" if resumable
                                       else "allow overwriting results already in --out"))
    g.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(default_out=default_out)
    return g


def backend_from_args(args):
    """The :class:`~minisyn.backend.Backend` named by ``--backend``/``--dtype``, else by the environment."""
    try:
        return Backend(args.backend or os.environ.get("MINISYN_BACKEND", "numpy"),
                       args.dtype or os.environ.get("MINISYN_DTYPE", "float32"))
    except (RuntimeError, ImportError, ValueError) as err:
        raise CLIError(f"--backend: {err}") from None


def out_dir(args):
    """``--out``, or the command's default folder (with the date and time where it asks for them)."""
    if not args.out:                      # chosen once: later calls give the same folder
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        args.out = args.default_out.replace("{stamp}", stamp)
    return Path(args.out)


def prepare_out_dir(out, force, marker="results.json"):
    """Create the output folder; refuse it if it holds a finished run's ``marker`` and not ``force``.

    A ``marker`` whose JSON ``status`` is ``running``, ``interrupted`` or
    ``diverged`` belongs to a run that did not finish: the folder is reused
    (the run starts again).
    """
    out = Path(out)
    path = out / marker
    if path.exists() and not force:
        try:
            status = load_json(path).get("status", "finished")
        except ValueError:
            status = "damaged"
        if status not in ("running", "interrupted", "diverged"):
            raise CLIError(f"{path} already exists ({status}): choose another --out, or pass --force to "
                           "replace it")
    out.mkdir(parents=True, exist_ok=True)
    return out


# -- one folder, one run ------------------------------------------------------------------
class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's ``KeyboardInterrupt``."""


class Signals:
    """How one command takes SIGINT and SIGTERM.

    Within the block, SIGTERM raises :class:`Terminated` (SIGINT raises
    ``KeyboardInterrupt`` as always), so that every ``finally`` and ``except
    KeyboardInterrupt`` runs on either. Once the work is saved and the run
    marked finished, :meth:`defer` makes both signals only noted in
    :attr:`late`: a signal that comes after that moment cannot turn a finished
    run into an interrupted one. On leaving, the previous handlers come back;
    with ``ignore_after`` (the console command, about to exit) both signals are
    ignored instead, since at exit Python resets its own handlers to the
    default, which would kill the finished process with no message.

    Python runs a signal's handler wherever the main thread happens to be,
    and that may be a garbage-collection callback (a weak reference's, an
    object's ``__del__``), where an exception is printed as "Exception
    ignored" and dropped: the signal would be lost and the run go on. Within
    the block, :func:`sys.unraisablehook` catches such a dropped
    interruption and delivers its signal again a moment later, to the main
    thread, where it is raised as usual.
    """

    NAMES = ("SIGINT", "SIGTERM")
    REDELIVER_S = 0.01

    def __init__(self, ignore_after=False):
        self.ignore_after = bool(ignore_after)
        self.previous = {}
        self.late = []
        self.deferred = False
        self.redelivered = 0
        self._hook = None

    def __enter__(self):
        try:
            self.previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._terminated)
            self.previous[signal.SIGINT] = signal.getsignal(signal.SIGINT)
        except ValueError:                      # not the main thread: leave the signals alone
            self.previous = {}
            return self
        self._hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def _unraisable(self, info):
        """An interruption raised where Python drops exceptions: deliver its signal again."""
        if not isinstance(info.exc_value, KeyboardInterrupt):
            return self._hook(info)
        signum = signal.SIGTERM if isinstance(info.exc_value, Terminated) else signal.SIGINT
        self.redelivered += 1
        timer = threading.Timer(self.REDELIVER_S, _deliver_to_main_thread, (signum,))
        timer.daemon = True
        timer.start()

    @staticmethod
    def _terminated(signum, frame):
        raise Terminated(f"signal {signum}")

    def _note(self, signum, frame):
        self.late.append(signal.Signals(signum).name)

    def defer(self):
        """From now on a signal is noted in :attr:`late`, not raised."""
        self.deferred = True
        for signum in self.previous:
            signal.signal(signum, self._note)

    def __exit__(self, kind, error, tb):
        for signum, handler in self.previous.items():
            signal.signal(signum, signal.SIG_IGN if self.ignore_after else handler)
        if self._hook is not None:
            sys.unraisablehook, self._hook = self._hook, None
        return False


def _deliver_to_main_thread(signum):
    """Send ``signum`` to the main thread: a real signal where there are threads' signals (it
    wakes a main thread that waits on a lock or a pipe), Python's simulated one elsewhere."""
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident, signum)
    else:
        _thread.interrupt_main(signum)


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True
    return True


LOCK = ".minisyn.lock"
RUN_FILE = "run.json"
_current = {}


def run_id():
    """The id of the run this process is making: that of the :class:`RunFolder` in use,
    or one made for this process (Python callers that use no run folder)."""
    if "id" not in _current:
        _current["id"] = f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}-{os.urandom(3).hex()}"
    return _current["id"]


def check_same_run(path, made_by):
    """A file read from a run folder (``params.npz``) must come from the run its ``results.json``
    names: ``ValueError`` if the two ids differ (files of two runs mixed in one folder)."""
    results = Path(path).with_name("results.json")
    if made_by is None or not results.exists():
        return
    named = load_json(results).get("run_id")
    if named is not None and str(named) != str(made_by):
        raise ValueError(f"{path} was written by run {made_by}, but {results} by run {named}: the folder "
                         "mixes files of two runs; rerun the command that made it")


class RunFolder:
    """One folder, one run: what every command does with its ``--out`` folder.

    On entering:

    - the folder is created, and locked: ``.minisyn.lock`` is created
      exclusively with the process id, the command and the run id; a second
      run into the folder is refused while the first one lives, and the lock
      of a dead process is taken over with a message;
    - temporary files left by dead processes are removed;
    - with ``force``, everything the folder held is set aside into
      ``.replaced-<run id>/``, so that the folder never mixes files of two
      runs; it is deleted when the new run finishes, and put back if the new
      run stops before writing anything;
    - ``run.json`` records the run: its id, command, process, start and
      ``status`` (``running``).

    On leaving, ``run.json`` gets the final status: ``finished``,
    ``interrupted`` (Ctrl-C or SIGTERM), ``diverged`` or ``failed``. A run that
    stopped before writing anything leaves the folder as it found it (and
    removes it if it made it).
    """

    def __init__(self, out, command="", force=False, log=None):
        self.out, self.command, self.force = Path(out), str(command), bool(force)
        self.log = log or (lambda message: print(message, file=sys.stderr))
        self.id = None

    # -- entering -------------------------------------------------------------------
    def __enter__(self):
        self.created = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock()
        self._clean_temporary_files()
        self.replaced = None
        if self.force and self._entries():
            self.replaced = self.out / f".replaced-{self.id}"
            self.replaced.mkdir()
            for entry in self._entries():
                os.replace(entry, self.replaced / entry.name)
        self.previous = (self.out / RUN_FILE).read_text() if (self.out / RUN_FILE).exists() else None
        self.before = self._snapshot()
        self.folders_before = set(self._folders())
        self.record = {"run_id": self.id, "command": self.command, "pid": os.getpid(),
                       "started": datetime.datetime.now().isoformat(timespec="seconds"), "status": "running"}
        save_json(self.out / RUN_FILE, self.record)
        return self

    def _lock(self):
        path = self.out / LOCK
        self.id = run_id()
        text = json.dumps({"pid": os.getpid(), "command": self.command, "run_id": self.id})
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    held = json.loads(path.read_text() or "{}")
                except (OSError, ValueError):
                    held = {}
                if _alive(held.get("pid")):
                    raise CLIError(f"{self.out} is in use by another run (process {held.get('pid')}: "
                                   f"{held.get('command') or 'unknown command'}): wait for it to end, or "
                                   "choose another --out") from None
                self.log(f"{self.out}: taking over the lock of process {held.get('pid')}, which is no longer "
                         "running")
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(text)
            _current["id"] = self.id
            return
        raise CLIError(f"could not lock {self.out}: another run took it at the same moment; try again")

    def _clean_temporary_files(self):
        for tmp in self.out.rglob(".*.tmp"):
            parts = tmp.name.rsplit(".", 2)              # .<name>.<pid>.tmp
            if len(parts) == 3 and parts[1].isdigit() and _alive(parts[1]) and int(parts[1]) != os.getpid():
                continue
            tmp.unlink(missing_ok=True)

    def _entries(self):
        return [e for e in self.out.iterdir() if e.name not in (LOCK,) and not e.name.startswith(".replaced-")]

    def _folders(self):
        return [p for p in self.out.rglob("*") if p.is_dir() and ".replaced-" not in str(p)]

    def _snapshot(self):
        return {str(p.relative_to(self.out)): p.stat().st_mtime_ns
                for p in self.out.rglob("*") if p.is_file() and p.name not in (LOCK, RUN_FILE)
                and ".replaced-" not in str(p)}

    # -- leaving ----------------------------------------------------------------------
    def __exit__(self, kind, error, tb):
        try:
            wrote = self._snapshot() != self.before
            if kind is None:
                status = "finished"
            elif issubclass(kind, KeyboardInterrupt):
                status = "interrupted"
            elif type(error).__name__ == "TrainingDiverged" or "diverged" in str(error):
                status = "diverged"
            else:
                status = "failed"
            if status != "finished" and not wrote:
                self._restore()
            else:
                self.record.update(status=status, ended=datetime.datetime.now().isoformat(timespec="seconds"))
                if error is not None:
                    self.record["error"] = str(error)
                save_json(self.out / RUN_FILE, self.record)
                if status == "finished":
                    for old in self.out.glob(".replaced-*"):
                        shutil.rmtree(old, ignore_errors=True)
        finally:
            (self.out / LOCK).unlink(missing_ok=True)
            _current.pop("id", None)
            if self.created and not any(self.out.iterdir()):
                self.out.rmdir()
        return False

    def _restore(self):
        """Leave the folder as it was: the run wrote nothing."""
        for folder in sorted(self._folders(), key=lambda p: len(p.parts), reverse=True):
            if folder not in self.folders_before and not any(folder.iterdir()):
                folder.rmdir()                  # made by this run (runs/ of a sweep), still empty
        if self.previous is None:
            (self.out / RUN_FILE).unlink(missing_ok=True)
        else:
            atomic_write(self.out / RUN_FILE, self.previous)
        if self.replaced is not None:
            for entry in self.replaced.iterdir():
                if not (self.out / entry.name).exists():
                    os.replace(entry, self.out / entry.name)
            shutil.rmtree(self.replaced, ignore_errors=True)


# -- data -----------------------------------------------------------------------------
def subset(n, limit, seed, part="train"):
    """Rows kept by ``--train-limit`` / ``--test-limit``: the rule every command uses.

    ``limit`` rows of ``n``, in random order, from ``default_rng(seed)`` for the
    training set and ``default_rng([seed, 1])`` for the test set. ``None``
    keeps every row (in order).
    """
    if limit is None:
        return np.arange(n)
    if int(limit) < 1:
        raise ValueError(f"{part}_limit must be >= 1, got {limit}")
    rng = np.random.default_rng(seed if part == "train" else [int(seed), 1])
    return rng.permutation(n)[: int(limit)]


@dataclass
class Data:
    """Prepared arrays: training, test and (optional) validation inputs and labels.

    Inputs are ``(n, d)`` floats, labels ``(n,)`` integers; on the host, or on
    a backend after :meth:`to`.
    """

    x: object
    y: object
    x_test: object
    y_test: object
    x_val: object = None
    y_val: object = None
    source: str = ""
    dataset: str = "embedded"

    @property
    def n_features(self):
        return int(self.x.shape[1])

    @property
    def n_train(self):
        return int(self.x.shape[0])

    def arrays(self):
        """``(x, y, x_test, y_test)``."""
        return self.x, self.y, self.x_test, self.y_test

    def to(self, backend):
        """The same data as arrays of ``backend`` (checked for shape and finiteness)."""
        val = (None, None) if self.x_val is None else prepare_arrays(self.x_val, self.y_val, backend)
        return Data(*prepare_arrays(self.x, self.y, backend), *prepare_arrays(self.x_test, self.y_test, backend),
                    *val, source=self.source, dataset=self.dataset)

    def check(self, sizes, batch_size=None):
        """A :class:`CLIError` if the network's input width or the batch size does not fit the data."""
        if sizes is not None and int(sizes[0]) != self.n_features:
            raise CLIError(f"--sizes starts with {sizes[0]} inputs but {self.dataset} has "
                           f"{self.n_features} features")
        if batch_size is not None and int(batch_size) > self.n_train:
            raise CLIError(f"--batch-size {batch_size} is larger than the {self.n_train} training examples")


def prepare_data(dataset="embedded", *, data_dir=None, download=True, train_limit=None, test_limit=None,
                 val_fraction=0.0, inputs="unit", seed=0, backend=None):
    """The one data preparation of every command (host arrays, or ``backend`` arrays).

    Steps: load the data set (:func:`minisyn.datasets.load_dataset`), scale
    pixels to [0, 1]; keep the rows of :func:`subset`; split off
    ``val_fraction`` of the training rows for validation; with
    ``inputs='standardized'``, shift and scale every part by the mean and SD
    of the training part (:func:`minisyn.datasets.standardize`).
    """
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS}, got {inputs!r}")
    if val_fraction and not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    ds = datasets.load_dataset(dataset, data_dir=data_dir, download=download)
    x, y = datasets.preprocess(ds.x_train), np.asarray(ds.y_train, np.int64)
    xt, yt = datasets.preprocess(ds.x_test), np.asarray(ds.y_test, np.int64)
    keep = subset(len(y), train_limit, seed, "train")
    x, y = x[keep], y[keep]
    keep = subset(len(yt), test_limit, seed, "test")
    xt, yt = xt[keep], yt[keep]
    xv = yv = None
    if val_fraction:
        x, y, xv, yv = datasets.train_val_split(x, y, val_fraction, seed)
    if inputs == "standardized":
        held = [a for a in (xt, xv) if a is not None]
        x, *held, _, _ = datasets.standardize(x, *held)
        xt, xv = held[0], (held[1] if xv is not None else None)
    data = Data(x, y, xt, yt, xv, yv, source=str(ds.source), dataset=dataset)
    return data if backend is None else data.to(backend)


def data_from_args(args, backend=None, **overrides):
    """:func:`prepare_data` with the options of :func:`add_data_options` (and ``--inputs``)."""
    dataset = overrides.pop("dataset", args.dataset)
    kw = dict(data_dir=args.data_dir, download=not args.no_download, train_limit=args.train_limit,
              test_limit=getattr(args, "test_limit", None), val_fraction=getattr(args, "val_fraction", 0.0),
              inputs=getattr(args, "inputs", "unit"), seed=args.seed, backend=backend)
    kw.update(overrides)
    for name in ("train_limit", "test_limit"):
        if kw[name] is not None and kw[name] < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be >= 1, got {kw[name]}")
    if kw["val_fraction"] and not 0 < kw["val_fraction"] < 1:
        raise CLIError(f"--val-fraction must lie in [0, 1), got {kw['val_fraction']}")
    return prepare_data(dataset, **kw)


# -- the run store ----------------------------------------------------------------------
def _canonical(obj):
    """Settings as JSON would give them back (tuples as lists, numpy numbers as Python's)."""
    return json.loads(json.dumps(obj, default=to_jsonable))


class RunStore:
    """Finished runs of an experiment, one file per run: ``<out>/runs/<key>.json``.

    Each saved record carries the ``settings`` it was made with. :meth:`load`
    gives a saved record back only if its settings equal the ones asked for;
    otherwise it raises ``ValueError`` naming the settings that differ, so
    that a folder never mixes runs made with different settings. A run with
    arrays saves them first (``<key>.npz``), then its JSON: a JSON on disk
    means a complete run.

    Parameters
    ----------
    out : path
        The experiment's output folder.
    force : bool
        Treat every run as not saved (it is trained again and overwritten).
    defaults : dict, optional
        Values of settings added after some runs were saved: a saved record
        that lacks such a setting is read as having this value (so a folder
        saved by an older minisyn resumes).
    """

    def __init__(self, out, force=False, defaults=None):
        self.dir = Path(out) / "runs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.force = bool(force)
        self.defaults = dict(defaults or {})

    def path(self, key, ext="json"):
        return self.dir / f"{key}.{ext}"

    def saved_settings(self, rec):
        saved = dict(rec.get("settings", rec.get("config")) or {})
        for name, value in self.defaults.items():
            saved.setdefault(name, value)
        return _canonical(saved)

    def load(self, key, settings, arrays=False, ignore=()):
        """The saved record of run ``key`` (with its arrays: ``(record, dict)``), or
        ``None`` if the run has to be made (not saved, incomplete, or ``force``).

        Settings named in ``ignore`` are not compared (settings that this run
        does not use, say)."""
        path = self.path(key)
        if self.force or not path.exists() or (arrays and not self.path(key, "npz").exists()):
            return None
        rec = load_json(path)
        saved, wanted = self.saved_settings(rec), _canonical(settings)
        for name in ignore:
            saved.pop(name, None)
            wanted.pop(name, None)
        if saved != wanted:
            diff = sorted(k for k in set(saved) | set(wanted) if saved.get(k, "<unset>") != wanted.get(k, "<unset>"))
            shown = ", ".join(f"{k}: saved {saved.get(k, '<unset>')!r}, now {wanted.get(k, '<unset>')!r}"
                              for k in diff)
            raise ValueError(f"{path} was made with other settings ({shown}): choose another --out, "
                             "or pass --force to redo it")
        if not arrays:
            return rec
        with np.load(self.path(key, "npz")) as f:
            saved = {k: f[k] for k in f.files}
        made_by = str(saved.pop("run_id", rec.get("run_id")))
        if made_by != str(rec.get("run_id")):          # the arrays of another run: this one is incomplete
            return None
        return rec, saved

    def save(self, key, record, settings, arrays=None):
        """Save a finished run (arrays first, then the JSON with ``settings``); returns the record.

        Both files carry the id of the run that made them (:func:`run_id`);
        :meth:`load` takes the pair only when the ids agree."""
        record = dict(record, key=key, settings=_canonical(settings), run_id=run_id())
        if arrays is not None:
            save_npz(self.path(key, "npz"), dict(arrays, run_id=np.array(record["run_id"])))
        save_json(self.path(key), record)
        return record
