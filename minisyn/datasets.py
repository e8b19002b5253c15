"""Data sets: IDX files, download with checksums, an embedded sample, batches.

This module works on the host with numpy: data loading is at the edge of the
program, and model arrays are made from its output later by the backend.

:func:`load_dataset` returns raw images (``uint8``, shape ``(n, 28, 28)``) and
``int64`` labels; :func:`preprocess` turns images into model inputs.

Where ``mnist`` and ``fashion-mnist`` come from, first match wins:

1. the ``data_dir`` argument (``--data-dir`` on the command line);
2. the folder named by the environment variable ``MINISYN_DATA``, holding the
   four IDX files directly or in a subfolder named after the data set;
3. the download cache, ``pooch.os_cache('minisyn')`` or ``$MINISYN_CACHE``,
   filled from the canonical sources (checked against SHA-256 checksums) unless
   ``download=False``.

Gzipped (``*.gz``) and uncompressed IDX files are both accepted. ``embedded``
is a 6,000-image sample of the MNIST test set shipped with the package, so
that everything runs offline (see ``minisyn/data/README.md``).
"""
from __future__ import annotations

import gzip as _gzip
import hashlib
import importlib.resources
import math
import os
import shutil
import sys
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DataError",
    "Dataset",
    "REGISTRY",
    "read_idx",
    "write_idx",
    "cache_dir",
    "fetch",
    "load_dataset",
    "preprocess",
    "standardize",
    "train_val_split",
    "shuffled_batches",
    "check_finite",
]


class DataError(ValueError):
    """A data file is missing, corrupt or inconsistent; the message says what to do."""


_FIX_HINT = (
    "If it was downloaded, delete it and download it again; otherwise check "
    "that --data-dir or MINISYN_DATA point at the right files."
)

# ---------------------------------------------------------------------------
# IDX files (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
# ---------------------------------------------------------------------------

#: IDX type code -> big-endian numpy dtype.
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("=").str: code for code, dt in IDX_TYPES.items()}
_IDX_CODES.update({dt.str: code for code, dt in IDX_TYPES.items()})


def _read_bytes(path):
    """Contents of ``path``, gunzipped when it starts with the gzip magic 1f 8b."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found. Check --data-dir / MINISYN_DATA.") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read the file ({err}).") from err
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return _gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"{path}: corrupt gzip stream ({err}); the file is damaged or was "
            f"cut short. {_FIX_HINT}"
        ) from err


def read_idx(path):
    """Read an IDX file, gzipped or not.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip compression is recognised by its magic bytes, not by
        the file name.

    Returns
    -------
    numpy.ndarray
        Array of the shape stored in the header, e.g. ``(n, 28, 28)`` for
        images or ``(n,)`` for labels, in native byte order; ``uint8`` for
        type code 0x08 (also 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
        0x0E float64).

    Raises
    ------
    DataError
        If the file is missing, is not an IDX file, has an unknown type code,
        or its payload is not exactly ``prod(shape) * itemsize`` bytes long.
    """
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: not an IDX file: only {len(data)} bytes. {_FIX_HINT}")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path}: not an IDX file: magic number starts with bytes "
            f"{data[0]:#04x} {data[1]:#04x} instead of 0x00 0x00. {_FIX_HINT}"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"{c:#04x}" for c in IDX_TYPES)
        raise DataError(
            f"{path}: unknown IDX type code {code:#04x} (known: {known}). {_FIX_HINT}"
        )
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions. {_FIX_HINT}")
    start = 4 + 4 * ndim
    if len(data) < start:
        raise DataError(
            f"{path}: truncated IDX header: {ndim} dimensions need {start} bytes, "
            f"the file has {len(data)}. {_FIX_HINT}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = IDX_TYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    got = len(data) - start
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DataError(
            f"{path}: IDX payload {what}: shape {shape} of {dtype.newbyteorder('=').name} "
            f"needs {expected} bytes after the header, found {got}. {_FIX_HINT}"
        )
    array = np.frombuffer(data, dtype, offset=start).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable native copy


def write_idx(path, array, gzip=None):
    """Write an array as an IDX file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination.
    array : array_like, shape (d1, ..., dk), 1 <= k <= 255
        Data of dtype uint8, int8, int16, int32, float32 or float64.
    gzip : bool or None
        Compress with gzip (reproducibly: no name, mtime 0). ``None`` means
        "if ``path`` ends in ``.gz``".

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.str)
    if code is None or array.dtype.kind == "b":
        raise TypeError(
            f"IDX cannot store dtype {array.dtype}; use uint8, int8, int16, int32, "
            "float32 or float64"
        )
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, the array has {array.ndim}")
    if max(array.shape) >= 2**32:
        raise ValueError(f"IDX dimensions must be below 2**32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(array, IDX_TYPES[code]).tobytes()
    path = Path(path)
    if gzip is None:
        gzip = path.name.endswith(".gz")
    if gzip:
        payload = _gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path


# ---------------------------------------------------------------------------
# Canonical files and download
# ---------------------------------------------------------------------------

#: Role in :class:`Dataset` -> IDX file name without ``.gz``.
_ROLES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

#: Canonical sources and SHA-256 checksums of the gzipped files.
#:
#: MNIST: the same four checksums are listed, independently, by many public
#: loaders that fetch from the ossci-datasets and cvdf-datasets mirrors (e.g. a
#: torch.rb MNIST loader, Rust and Go MNIST fetchers, several project READMEs).
#: The development copies of the label and t10k image files differ from these
#: only in their gzip wrapper: their decompressed bytes have the canonical
#: SHA-256 (train labels 65a50cbb..., t10k images 0fa7898d..., t10k labels
#: ff7bcfd4..., as published for the uncompressed files).
#: Fashion-MNIST: checksums as published by many loaders fetching from the
#: official S3 bucket, equal to those of the byte-identical development copies
#: (whose MD5s also equal the official ones in zalandoresearch/fashion-mnist).
REGISTRY = {
    "mnist": {
        "urls": (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        "sha256": {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    },
    "fashion-mnist": {
        "urls": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "sha256": {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    },
}

_NAMES = (*REGISTRY, "embedded")
_OPTIONS = (
    "Pass --data-dir (data_dir=...) or set MINISYN_DATA to a folder holding "
    "the four IDX files, or allow the download (download=True)."
)


def cache_dir():
    """Download cache folder: ``$MINISYN_CACHE`` or ``pooch.os_cache('minisyn')``.

    Returns
    -------
    pathlib.Path
    """
    env = os.environ.get("MINISYN_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("minisyn"))


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _downloader(progressbar):
    """A pooch downloader for http(s), ftp and local ``file://`` URLs."""
    import pooch

    def download(url, output_file, pooch_obj):
        if url.startswith("file:"):
            src = urllib.request.url2pathname(urllib.parse.urlparse(url).path)
            shutil.copyfile(src, output_file)
        else:
            pooch.downloaders.choose_downloader(url, progressbar=progressbar)(
                url, output_file, pooch_obj
            )

    return download


def fetch(name, cache=None, urls=None, progressbar=None):
    """Download the four IDX files of a data set into the cache, checking SHA-256.

    Files already in the cache with the right checksum are not downloaded
    again. Each file is downloaded to a temporary file in the cache folder
    and moved into place only after its checksum matched (pooch does this),
    so a failed or corrupt download leaves nothing behind.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
        Data set.
    cache : str or os.PathLike, optional
        Cache root; the files go to ``cache/name``. Default :func:`cache_dir`.
    urls : sequence of str, optional
        Base URLs (ending in ``/``) tried in order; default the canonical
        sources in :data:`REGISTRY`. ``file://`` URLs are accepted.
    progressbar : bool, optional
        Show a tqdm progress bar; default when stderr is a terminal.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"x_train": ..., "y_train": ..., "x_test": ..., "y_test": ...}``.

    Raises
    ------
    DataError
        If a file cannot be downloaded from any URL or its checksum is wrong.
    """
    import pooch

    name = _canonical_name(name, REGISTRY)
    entry = REGISTRY[name]
    folder = Path(cache if cache is not None else cache_dir()) / name
    urls = tuple(urls) if urls is not None else entry["urls"]
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    paths = {}
    for role, stem in _ROLES.items():
        fname = stem + ".gz"
        sha = entry["sha256"][fname]
        errors = []
        for base in urls:
            url = base.rstrip("/") + "/" + fname
            try:
                paths[role] = Path(
                    pooch.retrieve(
                        url,
                        known_hash=f"sha256:{sha}",
                        fname=fname,
                        path=folder,
                        downloader=_downloader(progressbar),
                        progressbar=progressbar,
                    )
                )
                break
            except Exception as err:  # network, HTTP status or checksum
                errors.append(f"  {url}: {err}")
        else:
            raise DataError(
                f"could not download {fname} of {name} into {folder} (nothing was kept):\n"
                + "\n".join(errors)
                + "\nCheck the network connection (a checksum mismatch means a damaged or "
                f"changed file), or get the files another way. {_OPTIONS}"
            )
    return paths


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class Dataset:
    """Raw images and labels of one data set.

    Attributes
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"embedded"``.
    source : str
        Where the arrays came from (a folder and how it was chosen, or the
        embedded package file).
    x_train, x_test : numpy.ndarray of uint8, shape (n, 28, 28)
        Images, grey levels 0..255.
    y_train, y_test : numpy.ndarray of int64, shape (n,)
        Labels 0..9.
    """

    name: str
    source: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)

    def __repr__(self):
        return (
            f"Dataset({self.name!r}, train {self.x_train.shape}, "
            f"test {self.x_test.shape}, source={self.source!r})"
        )


def _canonical_name(name, allowed):
    key = str(name).lower().replace("_", "-")
    if key not in allowed:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(allowed)}")
    return key


def _find_files(folder, name):
    """Paths of the four files in ``folder`` or ``folder/name``.

    Returns ``(paths, missing)``: the folder with the most files found, as a
    dict role -> path, and the list of file names it lacks.
    """
    best = ({}, [s + ".gz" for s in _ROLES.values()])
    for sub in (Path(folder), Path(folder) / name, Path(folder) / name.replace("-", "_")):
        found, missing = {}, []
        for role, stem in _ROLES.items():
            dotted = stem.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte
            for cand in (stem + ".gz", stem, dotted + ".gz", dotted):
                if (sub / cand).is_file():
                    found[role] = sub / cand
                    break
            else:
                missing.append(stem + ".gz")
        if not missing:
            return found, []
        if len(found) > len(best[0]):
            best = (found, [str(sub / m) for m in missing])
    return best


def _check_split(images, labels, img_path, lbl_path):
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{img_path}: expected uint8 images of shape (n, 28, 28), got "
            f"{images.dtype} {images.shape}. {_FIX_HINT}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(
            f"{lbl_path}: expected integer labels of shape (n,), got "
            f"{labels.dtype} {labels.shape}. {_FIX_HINT}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{img_path} has {len(images)} images but {lbl_path} has {len(labels)} "
            f"labels; the two files do not belong together. {_FIX_HINT}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(
            f"{lbl_path}: labels must lie in 0..9, found {labels.min()}..{labels.max()}. "
            f"{_FIX_HINT}"
        )
    return images, labels.astype(np.int64)


def _load_files(name, paths, source):
    arrays = {}
    for kind in ("train", "test"):
        xp, yp = paths["x_" + kind], paths["y_" + kind]
        arrays["x_" + kind], arrays["y_" + kind] = _check_split(
            read_idx(xp), read_idx(yp), xp, yp
        )
    return Dataset(name, source, **arrays)


#: File name of the embedded data set inside ``minisyn/data``.
EMBEDDED_FILE = "mnist_small.npz"


def _load_embedded():
    res = importlib.resources.files("minisyn") / "data" / EMBEDDED_FILE
    try:
        with res.open("rb") as f, np.load(f) as npz:
            arrays = {k: npz[k] for k in _ROLES}
    except (OSError, KeyError, ValueError) as err:
        raise DataError(
            f"the embedded data set minisyn/data/{EMBEDDED_FILE} cannot be read ({err}); "
            "the installation is incomplete: reinstall minisyn."
        ) from err
    for kind in ("train", "test"):
        x, y = _check_split(arrays["x_" + kind], arrays["y_" + kind], res, res)
        arrays["x_" + kind], arrays["y_" + kind] = x, y
    return Dataset("embedded", f"embedded minisyn/data/{EMBEDDED_FILE}", **arrays)



def load_dataset(name, data_dir=None, download=True):
    """Load a data set as raw uint8 images and int64 labels.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "embedded"}
        Data set. ``embedded`` (5,000 train + 1,000 test MNIST digits shipped
        with the package) ignores the other arguments.
    data_dir : str or os.PathLike, optional
        Folder holding the four IDX files, directly or in a subfolder named
        after the data set. Overrides ``MINISYN_DATA`` and the cache.
    download : bool
        Download into the cache (see :func:`fetch`) when the files are not
        found locally.

    Returns
    -------
    Dataset
        With ``x_train`` (n_train, 28, 28) uint8, ``y_train`` (n_train,)
        int64, ``x_test`` (n_test, 28, 28) uint8, ``y_test`` (n_test,) int64,
        ``name`` and ``source``.

    Raises
    ------
    DataError
        If files are missing (and may not be downloaded), corrupt or
        inconsistent.
    """
    name = _canonical_name(name, _NAMES)
    if name == "embedded":
        return _load_embedded()

    if data_dir is not None:
        paths, missing = _find_files(data_dir, name)
        if missing:
            raise DataError(
                f"{name}: files missing in --data-dir {data_dir}: {', '.join(missing)}. "
                "Put the four IDX files (gzipped or not) there, or in a subfolder "
                f"named {name}."
            )
        return _load_files(name, paths, f"data_dir {data_dir}")

    env = os.environ.get("MINISYN_DATA")
    if env:
        paths, missing = _find_files(env, name)
        if not missing:
            return _load_files(name, paths, f"MINISYN_DATA {env}")
        if paths:  # some files there: a broken copy rather than "not here"
            raise DataError(
                f"{name}: MINISYN_DATA={env} holds only some of the files; missing: "
                f"{', '.join(missing)}. Complete the folder or unset MINISYN_DATA."
            )

    folder = cache_dir() / name
    if download:
        return _load_files(name, fetch(name), f"cache {folder}")
    paths, missing = _find_files(folder, name)
    if missing:
        where = f"MINISYN_DATA={env} or " if env else ""
        raise DataError(
            f"{name} not found in {where}the cache {folder}, and download=False; "
            f"missing: {', '.join(missing)}. {_OPTIONS}"
        )
    for path in paths.values():
        want = REGISTRY[name]["sha256"].get(path.name)
        if want is not None and _sha256(path) != want:
            raise DataError(
                f"{path}: SHA-256 checksum does not match the canonical file; the "
                "cached copy is corrupt. Delete it and download again (download=True)."
            )
    return _load_files(name, paths, f"cache {folder}")


# ---------------------------------------------------------------------------
# Preprocessing and batches
# ---------------------------------------------------------------------------


def check_finite(x, name):
    """Raise ValueError if a float array holds NaN or infinity.

    Parameters
    ----------
    x : array_like
        Any shape. Integer arrays always pass.
    name : str
        Name of the array, used in the message.

    Returns
    -------
    x, unchanged.
    """
    a = np.asarray(x)
    if a.dtype.kind in "fc":
        bad = ~np.isfinite(a)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} holds {int(bad.sum())} non-finite values (NaN or inf) "
                f"out of {a.size}; the first at index {first}"
            )
    return x


def preprocess(images, dtype=np.float32):
    """Flatten images and scale them to [0, 1].

    Parameters
    ----------
    images : array_like, shape (n, 28, 28) or (n, 784)
        Integer grey levels 0..255 (divided by 255), or floats already in
        [0, 1] (only checked and cast). Other image sizes work the same way.
    dtype : numpy dtype
        Floating dtype of the result.

    Returns
    -------
    numpy.ndarray, shape (n, 784)
        ``dtype`` values in [0, 1].
    """
    a = np.asarray(images)
    if a.ndim < 2:
        raise ValueError(f"images must have shape (n, ...) with n images, got {a.shape}")
    flat = a.reshape(len(a), -1)
    if a.dtype.kind in "ui":
        if flat.size and (flat.min() < 0 or flat.max() > 255):
            raise ValueError(
                f"integer images must hold grey levels 0..255, found {flat.min()}..{flat.max()}"
            )
        return flat.astype(dtype) / np.asarray(255, dtype)
    if a.dtype.kind != "f":
        raise TypeError(f"images must be integers 0..255 or floats in [0, 1], got {a.dtype}")
    check_finite(flat, "images")
    if flat.size and (flat.min() < 0 or flat.max() > 1):
        raise ValueError(
            f"float images must lie in [0, 1], found {flat.min()}..{flat.max()}; "
            "pass raw uint8 images to have them scaled"
        )
    return flat.astype(dtype)


def standardize(x_train, *others):
    """Shift and scale inputs by the training set's pixel mean and standard deviation.

    ``x -> (x - m) / s`` with the two scalars ``m`` and ``s`` taken over every
    pixel of every training image (for MNIST, m = 0.1307 and s = 0.3081: the
    constants of the usual PyTorch pipeline). The same ``m`` and ``s`` are
    applied to ``others`` (a test set, say).

    Why it matters for Gaussian synapses (MODEL.md §A4): a pixel that is 0 in
    every training image gives its synapses ``x_i = 0``, so the data term has
    zero gradient with respect to their ``sigma``; the reliability cost alone
    then drives those sigmas up for as long as training runs. After
    standardising, such a pixel is the constant ``-m/s`` and its synapses'
    noise reaches the output like a bias's would.

    Returns
    -------
    tuple
        ``(x_train, *others, m, s)``, the arrays in their own dtype.
    """
    x = np.asarray(x_train)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x_train must have shape (n, d) with n >= 2, got {x.shape}")
    m = float(x.mean(dtype=np.float64))
    s = float(x.std(dtype=np.float64))
    if not s > 0:
        raise ValueError("x_train is constant: its standard deviation is 0, nothing to scale by")
    out = []
    for a in (x, *others):
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[1] != x.shape[1]:
            raise ValueError(f"arrays to standardise must have shape (n, {x.shape[1]}), got {a.shape}")
        out.append(((a - a.dtype.type(m)) / a.dtype.type(s)).astype(a.dtype, copy=False))
    return (*out, m, s)


def train_val_split(x, y, val_fraction, seed):
    """Split off a random validation set.

    Parameters
    ----------
    x : array_like, shape (n, ...)
        Inputs.
    y : array_like, shape (n,)
        Labels.
    val_fraction : float
        Share of the examples for validation, 0 < val_fraction < 1; the
        validation set gets ``round(val_fraction * n)`` examples.
    seed : int or numpy.random.Generator
        Seed of the permutation.

    Returns
    -------
    x_train, y_train, x_val, y_val : numpy.ndarray
        Shapes ``(n - m, ...)``, ``(n - m,)``, ``(m, ...)``, ``(m,)``.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    n = len(x)
    m = int(round(val_fraction * n))
    if not 1 <= m <= n - 1:
        raise ValueError(
            f"val_fraction {val_fraction} of {n} examples gives {m} for validation and "
            f"{n - m} for training; both need at least one"
        )
    perm = np.random.default_rng(seed).permutation(n)
    tr, va = perm[m:], perm[:m]
    return x[tr], y[tr], x[va], y[va]


def shuffled_batches(n, batch_size, rng, drop_last=False):
    """Index arrays of one epoch of shuffled mini-batches.

    Parameters
    ----------
    n : int
        Number of training examples, at least 1.
    batch_size : int
        Examples per batch, 1 <= batch_size <= n.
    rng : numpy.random.Generator
        Seeded generator that draws the permutation.
    drop_last : bool
        Leave out the last batch when it is smaller than ``batch_size``.

    Returns
    -------
    iterator of numpy.ndarray of int64, shape (batch_size,)
        Disjoint batches covering ``range(n)`` (the last one may be shorter
        unless ``drop_last``). Arguments are checked at the call, not at the
        first batch.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of training examples must be a positive integer, got {n!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch size must be an integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if batch_size > n:
        raise ValueError(f"batch size {batch_size} is larger than the {n} training examples")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    perm = rng.permutation(int(n))
    stop = n - n % batch_size if drop_last else n
    return (perm[i : i + batch_size] for i in range(0, stop, batch_size))
