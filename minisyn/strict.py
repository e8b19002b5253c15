"""A strict CPU stand-in for CuPy: numpy underneath, no implicit numpy.

CuPy arrays live on the GPU and refuse to turn silently into numpy arrays:
``np.asarray(x)``, ``np.exp(x)`` or ``x + numpy_array`` raise ``TypeError``.
Code that is only ever run on numpy never meets those errors, so they would
first appear on a GPU machine. This module is the array namespace ``xp`` of
the ``strict`` backend: it behaves like ``cupy`` (``xp.zeros``, ``xp.exp``,
``xp.random.default_rng``, ...) but runs on numpy and gives numpy's numbers
bit for bit, while refusing, as CuPy does, every implicit crossing to numpy.
The whole training path is tested on it, so CuPy-only failures show up on
machines without a GPU.

The two explicit doors to the host are :meth:`StrictArray.get` (as in CuPy)
and :func:`to_numpy` (alias :func:`asnumpy`); host data comes in through
:func:`asarray`, :func:`array` and :func:`ascontiguousarray`.
"""
from __future__ import annotations

import types

import numpy as np

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")


def _refuse(x):
    raise TypeError(f"Unsupported type {type(x)}: a host numpy array cannot "
                    "meet a device array; copy it in with xp.asarray")


def _unwrap(x, keep=None, host=False):
    """numpy view of ``x``: StrictArrays (also inside lists and tuples) give
    their wrapped array, recorded in ``keep``; raw ndarrays are refused
    unless ``host``."""
    if isinstance(x, StrictArray):
        if keep is not None:
            keep[id(x._a)] = x
        return x._a
    if isinstance(x, np.ndarray) and not host:
        _refuse(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, keep, host) for v in x)
    return x


def _wrap(x, keep=None):
    """StrictArray for ndarray or numpy-scalar results (CuPy returns 0-d
    arrays where numpy returns scalars); a result that is the array of an
    argument in ``keep`` (``out=``, in place) gives back that argument."""
    if isinstance(x, np.ndarray):
        old = keep.get(id(x)) if keep else None
        return old if old is not None and old._a is x else StrictArray(x)
    if isinstance(x, np.generic):
        return StrictArray(np.asarray(x))
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple results
        return type(x)(*(_wrap(v, keep) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_wrap(v, keep) for v in x)
    return x


class _Fn:
    """A numpy callable taking and returning StrictArrays. Attributes are
    forwarded too (``xp.add.at``, ``xp.maximum.reduce``)."""

    def __init__(self, f, owner=None):
        self._f, self._owner = f, owner

    def __call__(self, *args, **kwargs):
        keep = {} if self._owner is None else {id(self._owner._a): self._owner}
        args = _unwrap(args, keep)
        kwargs = {k: _unwrap(v, keep) for k, v in kwargs.items()}
        return _wrap(self._f(*args, **kwargs), keep)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _forward(getattr(self._f, name))


def _forward(value):
    """Expose a numpy attribute: modules as namespaces, functions wrapped,
    classes (dtypes such as ``float32``, ``finfo``) and constants as is."""
    if isinstance(value, types.ModuleType):
        return _Proxy(value)
    if callable(value) and not isinstance(value, type):
        return _Fn(value)
    return value


class _Proxy:
    """A numpy submodule (``xp.linalg``) or random generator seen through
    :func:`_forward`: draws are StrictArrays, and a StrictArray ``out=`` is
    filled in place and returned."""

    def __init__(self, target, **overrides):
        self._target = target
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        value = _forward(getattr(self._target, name))
        setattr(self, name, value)
        return value


class StrictArray:
    """A numpy array that, like a CuPy array, will not become numpy silently.

    Not an ndarray subclass: it holds one in ``_a``. Operators and ndarray
    methods work on StrictArrays, Python and numpy scalars; a raw
    ``numpy.ndarray`` operand, index or value raises ``TypeError``, and so do
    ``np.asarray(a)``, ``np.exp(a)``, ``np.sum(a)``, ...
    """

    __slots__ = ("_a",)
    __array_ufunc__ = None  # numpy ufuncs refuse; ndarray operators defer to ours

    def __init__(self, a):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"StrictArray wraps a numpy.ndarray, got {type(a)}")
        self._a = a

    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} got a StrictArray. {_IMPLICIT}")

    # -- explicit doors and Python conversions ----------------------------
    def get(self):
        """A numpy copy (CuPy's explicit door to the host)."""
        return self._a.copy()

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def _0d(self):
        if self._a.size != 1:
            raise TypeError("only size-1 arrays can be converted to Python scalars")
        return self._a.reshape(())

    def __float__(self):
        return float(self._0d())

    def __int__(self):
        return int(self._0d())

    def __index__(self):
        return self._0d().__index__()

    def __bool__(self):
        return bool(self._0d() if self._a.size == 1 else self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return map(_wrap, self._a)  # rows as StrictArrays (views)

    def __repr__(self):
        prefix = "StrictArray("
        body = np.array2string(self._a, separator=", ", prefix=prefix)
        return f"{prefix}{body}, dtype={self._a.dtype})"

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec)

    def __copy__(self, memo=None):  # a copy of the data, as CuPy
        return StrictArray(self._a.copy())

    __deepcopy__ = __copy__

    # -- indexing -----------------------------------------------------------
    def __getitem__(self, index):
        return _wrap(self._a[_unwrap(index)])

    def __setitem__(self, index, value):
        self._a[_unwrap(index)] = _unwrap(value)

    # -- everything else an ndarray has ------------------------------------
    T = property(lambda self: StrictArray(self._a.T))
    mT = property(lambda self: StrictArray(self._a.mT))

    def __getattr__(self, name):
        if name.startswith("_"):  # no __array_interface__, buffer, ...
            raise AttributeError(name)
        value = getattr(self._a, name)
        return _Fn(value, self) if callable(value) else _wrap(value)


for _p in ("shape", "dtype", "ndim", "size", "strides", "itemsize", "nbytes", "flags"):
    setattr(StrictArray, _p, property(lambda self, _p=_p: getattr(self._a, _p)))


def _operand(x):
    if isinstance(x, StrictArray):
        return x._a
    if isinstance(x, np.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (bool, int, float, complex, np.generic)):
        return x
    return NotImplemented


def _binary(name):
    method = getattr(np.ndarray, name)

    def op(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return other
        result = method(self._a, other)
        return self if result is self._a else _wrap(result)  # in place: self

    op.__name__ = name
    return op


def _unary(name):
    method = getattr(np.ndarray, name)
    op = lambda self: _wrap(method(self._a))  # noqa: E731
    op.__name__ = name
    return op


for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
           "and", "or", "xor", "lshift", "rshift"):
    for _f in (f"__{_n}__", f"__r{_n}__", f"__i{_n}__"):
        setattr(StrictArray, _f, _binary(_f))
for _f in ("__divmod__", "__rdivmod__", "__lt__", "__le__", "__gt__", "__ge__",
           "__eq__", "__ne__"):
    setattr(StrictArray, _f, _binary(_f))
for _f in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(StrictArray, _f, _unary(_f))
StrictArray.__hash__ = None  # mutable, as ndarray

# -- module namespace ---------------------------------------------------------
ndarray = StrictArray


def array(a, dtype=None, copy=True, order="K", ndmin=0):
    """A StrictArray from host data (always copied) or a StrictArray."""
    host = not isinstance(a, StrictArray)
    out = np.array(_unwrap(a, host=True), dtype=dtype, order=order, ndmin=ndmin,
                   copy=True if (copy or host) else None)
    return a if not host and out is a._a else StrictArray(out)


def asarray(a, dtype=None):
    """Like ``cupy.asarray``: host data is copied in; a StrictArray of the
    right dtype is returned as is."""
    return array(a, dtype=dtype, copy=False)


def ascontiguousarray(a, dtype=None):
    a = asarray(a, dtype)
    out = np.ascontiguousarray(a._a)
    return a if out is a._a else StrictArray(out)


def to_numpy(a):
    """A host numpy copy of ``a`` (the explicit door out, ``cupy.asnumpy``)."""
    return a._a.copy() if isinstance(a, StrictArray) else np.array(_unwrap(a, host=True))


asnumpy = to_numpy

random = _Proxy(np.random,
                default_rng=lambda seed=None: _Proxy(np.random.default_rng(_unwrap(seed))),
                RandomState=lambda seed=None: _Proxy(np.random.RandomState(_unwrap(seed))))
linalg = _Proxy(np.linalg)


def __getattr__(name):
    """Any other numpy name, through :func:`_forward` (cached)."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = _forward(getattr(np, name))
    globals()[name] = value
    return value
