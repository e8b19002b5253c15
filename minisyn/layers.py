"""Layers, each with a hand-written forward and backward pass.

Shapes. ``x`` is ``(*E, B, n_in)``: a minibatch of B presynaptic rate vectors,
with optional leading ensemble axes ``E`` (``()`` for one network, ``(K,)``
for K independent networks; a shared ``(B, n_in)`` input also broadcasts
against ensemble weights). Weights are ``(*E, n_out, n_in')``, where
``n_in' = n_in + 1`` when the layer has a bias: the bias is the weight of a
constant input 1, a synapse like any other (in the authors' code biases are
stochastic synapses too, MODEL.md §A3), stored as the last column.

Each layer's :meth:`forward` caches what its :meth:`backward` needs;
``backward(dL_da)`` *adds* parameter gradients into ``Param.grad`` (so shared
parameters collect every use) and returns ``dL_dx``.

``mode`` selects how stochastic synapses act: ``'sample'`` draws fresh noise,
``'mean'`` uses the mean weights (``w = mu`` or ``w = m``).
"""
from __future__ import annotations

from minisyn.ops import T, logistic_from_softplus, softplus, sum_to_shape

__all__ = ["Param", "Linear", "GaussianLinear", "BernoulliLinear", "ReLU", "Sign"]


class Param:
    """A trainable array and its gradient (same shape, same backend)."""

    __slots__ = ("value", "grad", "name")

    def __init__(self, value, name, xp):
        self.value = value
        self.grad = xp.zeros_like(value)
        self.name = name

    @property
    def shape(self):
        return self.value.shape

    def __repr__(self):
        return f"Param({self.name}, shape={tuple(self.value.shape)})"


def _with_bias(x, xp, buf=None):
    """Append the constant input 1 that drives the bias synapse.

    ``buf``, a previous result of the same shape and dtype, is reused: only
    ``x`` is copied in (its last column already holds the ones).
    """
    if buf is not None and buf.shape[:-1] == x.shape[:-1] and buf.dtype == x.dtype:
        buf[..., :-1] = x
        return buf
    ones = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    return xp.concatenate([x, ones], axis=-1)


def _uniform_init(gen, shape, bound):
    """Uniform(-bound, bound) from a backend generator."""
    return bound * (2.0 * gen.uniform(shape) - 1.0)


class _Synaptic:
    """Bookkeeping shared by the weight layers: bias column, shapes."""

    bias: bool
    n_in: int
    n_out: int
    needs_input_grad = True   # False for a first layer: backward then skips dL/dx (returns None)

    def _prepare_input(self, x, xp):
        if x.shape[-1] != self.n_in:
            raise ValueError(
                f"{type(self).__name__} expects {self.n_in} inputs on the last axis, got shape {tuple(x.shape)}"
            )
        self._x_shape = x.shape   # a shared (B, n_in) input broadcast against ensemble weights
        if not self.bias:
            return x
        # the biased input is cached for backward; a buffer from an earlier step is reused
        self._xb = _with_bias(x, xp, getattr(self, "_xb", None))
        return self._xb

    def _input_grad(self, dL_dxb):
        g = dL_dxb[..., :-1] if self.bias else dL_dxb
        return sum_to_shape(g, self._x_shape, self.be.xp)  # a shared input collects every member's gradient

    @property
    def weight_shape(self):
        return self.lead + (self.n_out, self.n_in + int(self.bias))

    def _buffer(self, name, like, shape=None):
        """A scratch array kept between steps (a training step allocates no
        per-synapse temporaries); made on first use or when the shape changes."""
        bufs = self.__dict__.setdefault("_bufs", {})
        shape = tuple(like.shape if shape is None else shape)
        b = bufs.get(name)
        if b is None or tuple(b.shape) != shape or b.dtype != like.dtype:
            b = bufs[name] = self.be.xp.empty(shape, dtype=like.dtype)
        return b


class Linear(_Synaptic):
    """Deterministic affine layer ``a = x W^T + b``.

    Parameters
    ----------
    n_in, n_out : int
    backend : Backend
    gen : Generator or GeneratorStack
        Draws the initial weights, Uniform(-1/sqrt(n_in), 1/sqrt(n_in)).
    lead : tuple of int
        Leading ensemble axes, ``()`` or ``(K,)``.
    bias : bool
    """

    def __init__(self, n_in, n_out, backend, gen, lead=(), bias=True):
        self.n_in, self.n_out, self.bias, self.lead = n_in, n_out, bias, tuple(lead)
        self.be = backend
        self.mu = Param(_uniform_init(gen, self.weight_shape, n_in**-0.5), "w", backend.xp)
        self.params = [self.mu]

    def mean_weight(self):
        return self.mu.value

    def forward(self, x, mode="sample"):
        xp = self.be.xp
        self._x = self._prepare_input(x, xp)
        return self._x @ T(self.mu.value, xp)

    def backward(self, dL_da):
        xp = self.be.xp
        self.mu.grad += sum_to_shape(T(dL_da, xp) @ self._x, self.mu.shape, xp)  # dL/dW = delta^T x
        if not self.needs_input_grad:
            return None
        return self._input_grad(dL_da @ self.mu.value)  # dL/dx = delta W


class GaussianLinear(_Synaptic):
    """Gaussian synapses ``w = mu + sigma * xi``, ``sigma = softplus(phi)`` (MODEL.md §A3).

    Parameters
    ----------
    n_in, n_out : int
    backend : Backend
    gen : Generator or GeneratorStack
        Draws the initial means (Uniform(-mu_init, mu_init), §A4) and, later,
        the synaptic noise.
    lead : tuple of int
        Leading ensemble axes.
    bias : bool
    scheme : {'weights', 'local'}
        ``'weights'``: one weight sample per minibatch (the papers' scheme).
        ``'local'``: local reparameterisation, sampling pre-activations per
        example (Kingma et al. 2015).
    phi : Param or None
        A shared noise parameter of shape ``(*lead, 1, 1)`` (homogeneous
        noise: one sigma for the whole network). ``None`` makes a per-synapse
        ``phi`` (heterogeneous noise).
    sigma_init, mu_init : float
    """

    def __init__(self, n_in, n_out, backend, gen, lead=(), bias=True, scheme="weights",
                 phi=None, sigma_init=1e-4, mu_init=0.1):
        from minisyn.ops import inverse_softplus

        if scheme not in ("weights", "local"):
            raise ValueError(f"scheme must be 'weights' or 'local', got {scheme!r}")
        xp = backend.xp
        self.n_in, self.n_out, self.bias, self.lead = n_in, n_out, bias, tuple(lead)
        self.be, self.gen, self.scheme = backend, gen, scheme
        self.mu = Param(_uniform_init(gen, self.weight_shape, mu_init), "mu", xp)
        self.homogeneous = phi is not None
        if phi is None:
            phi0 = inverse_softplus(sigma_init)
            phi = Param(xp.full(self.weight_shape, phi0, dtype=backend.dtype), "phi", xp)
        self.phi = phi
        self.params = [self.mu, self.phi]
        self._sigma = self._slope = self._exp_phi = None   # cached by forward for backward and the costs

    def sigma(self):
        """Per-synapse noise level, broadcastable to the weight shape."""
        return softplus(self.phi.value, self.be.xp)

    def sigma_and_slope(self, cached=False):
        """``sigma = softplus(phi)`` and ``dsigma/dphi = logistic(phi)``.

        The slope is ``e / (1 + e)`` with ``e = exp(phi)`` where the forward
        pass kept ``e`` (every ``phi <= 0``), and otherwise ``1 - exp(-sigma)``
        (exact: ``exp(-sigma) = 1 / (1 + e^phi)``;
        :func:`~minisyn.ops.logistic_from_softplus`); both keep full relative
        precision even for tiny sigma. ``cached=True``
        reuses the values of the last forward pass (valid until the
        parameters change; they live in buffers the next forward overwrites).
        """
        xp = self.be.xp
        if cached and self._sigma is not None:
            if self._slope is None:
                out = self._buffer("slope", self._sigma)
                if self._exp_phi is not None:                 # logistic(phi) = e / (1 + e), e = exp(phi)
                    xp.add(self._exp_phi, 1.0, out=out)
                    self._slope = xp.divide(self._exp_phi, out, out=out)
                else:
                    self._slope = logistic_from_softplus(self._sigma, xp, out=out)
            return self._sigma, self._slope
        sigma = self.sigma()
        return sigma, logistic_from_softplus(sigma, xp)

    def _softplus(self, phi, xp):
        """``sigma = softplus(phi)`` into this layer's buffers, for a training step.

        Where every ``phi <= 0`` (sigma below log 2, the usual case) softplus
        is ``log1p(exp(phi))``, bit for bit the general formula there, in two
        passes instead of seven; ``exp(phi)`` is kept for the slope. The check
        costs one reduction on the host backends; on a GPU it would stall the
        device, so CuPy always takes the general formula.
        """
        sigma = self._buffer("sigma", phi)
        self._exp_phi = None
        if self.be.name != "cupy" and float(phi.max()) <= 0.0:
            e = self._exp_phi = xp.exp(phi, out=self._buffer("exp_phi", phi))
            return xp.log1p(e, out=sigma)
        return softplus(phi, xp, out=sigma, work=self._buffer("work", phi))

    def mean_weight(self):
        return self.mu.value

    def forward(self, x, mode="sample"):
        xp = self.be.xp
        x = self._x = self._prepare_input(x, xp)
        self._mode = mode
        mu = self.mu.value
        self._sigma = self._slope = None
        if mode == "mean":
            return x @ T(mu, xp)
        phi = self.phi.value
        sigma = self._sigma = self._softplus(phi, xp)
        if self.scheme == "weights":
            # xi ~ N(0, 1), one per synapse (one draw broadcast to members that share a seed)
            shared = getattr(self.gen, "shared", False)
            xi = self._xi = self.gen.normal(mu.shape, out=None if shared else self._buffer("xi", mu))
            W = self._W = xp.multiply(sigma, xi, out=self._buffer("W", mu))
            W += mu                                    # w = mu + sigma xi
            return x @ T(W, xp)
        # local reparameterisation: a = m + sqrt(v) eps
        self._s2 = xp.broadcast_to(sigma * sigma, mu.shape)
        m = x @ T(mu, xp)                              # m = x mu^T
        v = (x * x) @ T(self._s2, xp)                  # v = (x*x) (sigma*sigma)^T
        self._sv = xp.sqrt(v)
        self._eps = self.gen.normal(m.shape)           # one eps per example and unit
        return m + self._sv * self._eps

    def backward(self, dL_da):
        xp = self.be.xp
        x, mu, phi = self._x, self.mu, self.phi
        dL_dmu = sum_to_shape(T(dL_da, xp) @ x, mu.shape, xp)  # G = delta^T x
        mu.grad += dL_dmu
        if self._mode == "mean":
            return self._input_grad(dL_da @ mu.value) if self.needs_input_grad else None
        dL_dx = None
        if self.scheme == "weights":
            dL_dsigma = xp.multiply(dL_dmu, self._xi, out=self._buffer("dsigma", mu.value))  # G * xi
            if self.needs_input_grad:
                dL_dx = dL_da @ self._W                        # dL/dx = delta W
        else:
            tiny = xp.finfo(self._sv.dtype).tiny               # sv = 0 only where x = 0, whose terms vanish
            dL_dv = dL_da * self._eps / (2.0 * xp.maximum(self._sv, tiny))
            dL_dsigma = 2.0 * self._sigma * sum_to_shape(T(dL_dv, xp) @ (x * x), mu.shape, xp)
            if self.needs_input_grad:
                dL_dx = dL_da @ mu.value + 2.0 * x * (dL_dv @ self._s2)
        # dL/dphi = dL/dsigma * logistic(phi); a shared phi sums over its uses
        _, slope = self.sigma_and_slope(cached=True)
        dL_dsigma *= slope
        phi.grad += sum_to_shape(dL_dsigma, phi.shape, xp)
        return None if dL_dx is None else self._input_grad(dL_dx)


class BernoulliLinear(_Synaptic):
    """Bernoulli synapses ``w = r m / p``, ``r ~ Bernoulli(p)`` (MODEL.md §B1).

    ``m`` (expected strength) is a :class:`Param`; the release probability
    ``p`` is a plain array changed by the presynaptic rule (§B2), not by
    gradients.

    Parameters
    ----------
    n_in, n_out : int
    backend : Backend
    gen : Generator or GeneratorStack
    lead : tuple of int
    bias : bool
        The papers' network has no biases (§B1).
    p_init : float
        Initial release probability (``p_min = 0.25`` in §B1).
    release_p : float or None
        If set, synapses release with this fixed probability in the forward
        pass while ``p`` still evolves and scales learning ("ghost" release
        probabilities, §B5). ``None``: release with ``p``.
    """

    def __init__(self, n_in, n_out, backend, gen, lead=(), bias=False, p_init=0.25, release_p=None):
        xp = backend.xp
        if not 0.0 < p_init <= 1.0:
            raise ValueError(f"p_init must lie in (0, 1], got {p_init}")
        if release_p is not None and not 0.0 < release_p <= 1.0:
            raise ValueError(f"release_p must lie in (0, 1], got {release_p}")
        self.n_in, self.n_out, self.bias, self.lead = n_in, n_out, bias, tuple(lead)
        self.be, self.gen, self.release_p = backend, gen, release_p
        self.m = Param(_uniform_init(gen, self.weight_shape, n_in**-0.5), "m", xp)
        self.p = xp.full(self.weight_shape, p_init, dtype=backend.dtype)
        self.params = [self.m]

    def mean_weight(self):
        return self.m.value

    def forward(self, x, mode="sample"):
        xp = self.be.xp
        x = self._x = self._prepare_input(x, xp)
        m = self.m.value
        if mode == "mean":
            self._scale, self._W = None, m
        else:
            p = self.p if self.release_p is None else self.release_p
            r = (self.gen.uniform(m.shape) < p).astype(m.dtype)  # r ~ Bernoulli(p)
            self._scale = r / p                                  # w = (r / p) m, E[w] = m
            self._W = self._scale * m
        return x @ T(self._W, xp)

    def backward(self, dL_da):
        xp = self.be.xp
        dL_dw = sum_to_shape(T(dL_da, xp) @ self._x, self.m.shape, xp)
        self.m.grad += dL_dw if self._scale is None else self._scale * dL_dw  # dL/dm = (r/p) dL/dw
        if not self.needs_input_grad:
            return None
        return self._input_grad(dL_da @ self._W)


class ReLU:
    """``r = max(a, 0)``; ``dL/da = dL/dr * [a > 0]``."""

    params = []

    def __init__(self, backend):
        self.be = backend

    def forward(self, a, mode="sample"):
        self._on = a > 0
        return a * self._on

    def backward(self, dL_dr):
        return dL_dr * self._on


class Sign:
    """``r = sign(a)`` (the perceptron's output, MODEL.md §B6).

    Its derivative is zero wherever it exists, so :meth:`backward` returns
    zeros: a sign unit passes no gradient. The perceptron learns with
    Rosenblatt's rule instead (:mod:`minisyn.network`).
    """

    params = []

    def __init__(self, backend):
        self.be = backend

    def forward(self, a, mode="sample"):
        self._shape = a.shape
        return self.be.xp.sign(a)

    def backward(self, dL_dr):
        return self.be.xp.zeros_like(dL_dr)
