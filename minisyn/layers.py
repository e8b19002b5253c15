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

Synapse types are registered by name in :data:`SYNAPSES` (``'gaussian'``,
``'bernoulli'``, ``'quantal'``, ``'deterministic'``). A synapse type owns everything that is
specific to it: how a network builds its layers (:meth:`_Synaptic.build`),
its default bias, its training defaults, the arrays a training step keeps
per synapse (:attr:`_Synaptic.arrays_per_synapse`, read by
:mod:`minisyn.resources`), how its state is saved and loaded, and how a cost
reaches its parameters (:meth:`_Synaptic.add_cost`). Adding a synapse type
is a class here and its tests (``docs/extending.md``).
"""
from __future__ import annotations

import math

import numpy as np

from minisyn.costs import QUANTAL_COSTS, L1Cost, quantal_cost, reported_reliability_cost, sigma_bar
from minisyn.ops import T, inverse_softplus, logistic_from_softplus, softplus, sum_to_shape

__all__ = ["Param", "Linear", "GaussianLinear", "BernoulliLinear", "QuantalLinear", "ReLU", "Sign", "SYNAPSES",
           "register_synapse", "synapse_type"]

#: Synapse types by name: ``{'gaussian': GaussianLinear, ...}`` (filled by :func:`register_synapse`).
SYNAPSES = {}


def register_synapse(cls):
    """Class decorator: make a synapse type available by its ``name`` (``MLP(sizes, name)``,
    ``minisyn train --synapse name``)."""
    SYNAPSES[cls.name] = cls
    return cls


def synapse_type(name):
    """The registered synapse class called ``name``."""
    if name not in SYNAPSES:
        raise ValueError(f"synapse must be one of {tuple(SYNAPSES)}, got {name!r}")
    return SYNAPSES[name]


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
    """Bookkeeping shared by the weight layers: bias column, shapes, buffers,
    and the hooks through which a synapse type tells the rest of minisyn what
    is specific to it (class attributes and :meth:`build`, :meth:`state`,
    :meth:`load_state`, :meth:`add_cost`, :meth:`describe`)."""

    #: the registry name (``MLP(sizes, name)``, ``--synapse name``)
    name = None
    #: whether a network of this type has bias synapses unless told otherwise
    default_bias = True
    #: what ``minisyn train`` uses unless told otherwise
    train_defaults = dict(sizes=(784, 100, 100, 10), optimizer="adam", lr=5e-4, batch_size=20)
    #: arrays of the weight shape a training step keeps or makes per ensemble member (an
    #: upper count, checked against tracemalloc in tests/test_resources.py), by noise setting
    arrays_per_synapse = {None: 7}
    #: the parameters costs can act on: ``'mu'`` (the first parameter) and/or ``'sigma'``
    cost_targets = ("mu",)
    #: True where the presynaptic rule (§B2) can learn the layer's release probabilities ``p``
    presynaptic = False

    bias: bool
    n_in: int
    n_out: int
    needs_input_grad = True   # False for a first layer: backward then skips dL/dx (returns None)

    @classmethod
    def build(cls, n_in, n_out, *, shared, **options):
        """The layer ``n_in -> n_out`` of a network (:class:`minisyn.network.MLP`).

        ``options`` hold the network's settings (``backend``, ``gen``, ``lead``,
        ``bias`` and the synapse options ``scheme``, ``noise``, ``sigma_init``,
        ``mu_init``, ``p_init``, ``release_p``); a type takes the ones it uses.
        ``shared`` is a dict the layers of one network share (a network-wide
        parameter is made by the first layer and found there by the others).
        """
        return cls(n_in, n_out, options["backend"], options["gen"], lead=options["lead"], bias=options["bias"])

    @property
    def last_input(self):
        """The input of the last forward pass, ``(*E, B, n_in')``, with the constant 1
        of the bias synapse as its last column where the layer has a bias."""
        return self._x

    def state(self, prefix):
        """Host copies of the layer's arrays, keyed ``<prefix>.<name>``."""
        # copies: on numpy, to_numpy returns a view of the live parameter
        return {f"{prefix}.{p.name}": np.array(self.be.to_numpy(p.value)) for p in self.params}

    def load_state(self, state, prefix):
        """Set the parameters from :meth:`state` output (checking shapes)."""
        for p in self.params:
            key = f"{prefix}.{p.name}"
            value = np.asarray(state[key])
            if value.shape != tuple(p.value.shape):
                raise ValueError(f"{key}: expected shape {tuple(p.value.shape)}, got {value.shape}")
            p.value[...] = self.be.asarray(value, dtype=self.be.dtype)

    def add_cost(self, cost, scale, cached=False):
        """Add ``scale`` times the gradient of ``cost`` to the parameter it acts on; return its value.

        A cost acts on ``cost.target``: ``'mu'`` is the layer's first
        parameter (``mu``, ``m`` or ``w``). Types with noise levels override
        this for ``'sigma'``.
        """
        if cost.target not in self.cost_targets:
            raise ValueError(f"{type(cost).__name__} acts on {cost.target}: it needs Gaussian synapses "
                             f"(or another type with {cost.target}), not {self.name}")
        theta = self.params[0]
        value, dC_dtheta = cost.value_and_grad(theta.value, self.be, scale=scale,
                                               out=self._buffer("cost", theta.value))
        theta.grad += dC_dtheta
        return value

    @classmethod
    def describe(cls, net, **settings):
        """Summary numbers of a trained network of this type (host floats), for results files."""
        return {}

    # -- the `minisyn train` command (experiments/train.py) ------------------------------
    @classmethod
    def add_options(cls, group):
        """Add the type's own options to ``minisyn train`` (none by default)."""

    @classmethod
    def options_from_args(cls, args):
        """Keyword arguments of ``MLP(...)`` (and so of :meth:`build`) from those options."""
        return {}

    @classmethod
    def training_costs(cls, args):
        """Costs ``minisyn train`` adds for this type, beyond the reliability and L1 costs of
        types with a ``sigma`` (none by default)."""
        return []

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


@register_synapse
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

    name = "deterministic"

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


@register_synapse
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

    name = "gaussian"
    arrays_per_synapse = {
        # mu, phi and their grads (4); Adam's two moments and scratch for each (6);
        # the layer's buffers sigma, work, exp_phi, slope, xi, W, dsigma, cost (8);
        # temporaries of a step, G = delta^T x and one more (2)
        "heterogeneous": 20,
        # mu and its grad (2); Adam for mu (3); xi, W, dsigma, cost (4); temporaries (2)
        "homogeneous": 11,
    }
    cost_targets = ("mu", "sigma")

    @classmethod
    def build(cls, n_in, n_out, *, shared, **o):
        """With ``noise='homogeneous'`` every layer shares one ``phi`` of shape ``(*lead, 1, 1)``."""
        phi = None
        if o.get("noise", "heterogeneous") == "homogeneous":
            if "phi" not in shared:
                shared["phi"] = cls.shared_phi(o["backend"], o["lead"], o.get("sigma_init", 1e-4))
            phi = shared["phi"]
        return cls(n_in, n_out, o["backend"], o["gen"], lead=o["lead"], bias=o["bias"],
                   scheme=o.get("scheme", "weights"), phi=phi, sigma_init=o.get("sigma_init", 1e-4),
                   mu_init=o.get("mu_init", 0.1))

    @staticmethod
    def shared_phi(backend, lead, sigma_init):
        """One noise parameter for a whole network (homogeneous noise, §A4)."""
        xp = backend.xp
        return Param(xp.full(tuple(lead) + (1, 1), inverse_softplus(sigma_init), dtype=backend.dtype), "phi", xp)

    def __init__(self, n_in, n_out, backend, gen, lead=(), bias=True, scheme="weights",
                 phi=None, sigma_init=1e-4, mu_init=0.1):
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
        self._sigma_grad_to_phi(dL_dsigma)
        return None if dL_dx is None else self._input_grad(dL_dx)

    def _sigma_grad_to_phi(self, dL_dsigma, cached=True):
        """The chain rule from sigma to phi, for the data term and the costs alike:
        ``dL/dphi = dL/dsigma * logistic(phi)``, summed over the uses of a shared phi.
        ``dL_dsigma`` (a buffer) is overwritten."""
        _, slope = self.sigma_and_slope(cached)
        dL_dsigma *= slope
        self.phi.grad += sum_to_shape(dL_dsigma, self.phi.shape, self.be.xp)

    def add_cost(self, cost, scale, cached=False):
        """Costs on ``'sigma'`` (§A4) reach ``phi`` through :meth:`_sigma_grad_to_phi`."""
        if cost.target != "sigma":
            return super().add_cost(cost, scale, cached)
        mu = self.mu.value
        sigma, _ = self.sigma_and_slope(cached)
        if sigma.shape != mu.shape:                                    # one shared sigma
            sigma = self.be.xp.broadcast_to(sigma, mu.shape)
        value, dC_dsigma = cost.value_and_grad(sigma, self.be, scale=scale, out=self._buffer("cost", mu))
        self._sigma_grad_to_phi(dC_dsigma, cached)
        return value

    def state(self, prefix):
        out = super().state(prefix)
        out[f"{prefix}.sigma"] = self.be.to_numpy(self.sigma())
        return out

    @classmethod
    def describe(cls, net, rho=None, **settings):
        """``sigma_bar`` (§A4) and, given ``rho``, the reported reliability cost."""
        sig, be = net.sigmas(), net.be
        out = {"sigma_bar": be.to_numpy(sigma_bar(sig, be)).tolist()}
        if rho is not None:
            out["reliability_cost"] = be.to_numpy(reported_reliability_cost(sig, rho, be)).tolist()
        return out


@register_synapse
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
    ghost_divisor : {'release_p', 'p'}
        With ``release_p`` set, what a released strength is divided by:
        ``'release_p'``, the probability the release was drawn with, so that
        ``w = r m / release_p`` and ``E[w] = m`` (§B5's text); or ``'p'``, the
        evolving release probability, as the authors' code does
        (presynaptic-stochasticity@ba8e41c ``lib/ddc.py`` lines 47-54: ``mask =
        torch.bernoulli(prob_init * ...)``, ``param = (mask * raw_param)``,
        ``param /= prob_param``), so that ``w = r m / p`` and
        ``E[w] = release_p m / p``: the expected weight changes whenever ``p``
        moves (docs/results/differences.md, B1). ``mode='mean'`` uses ``E[w]``.
    """

    name = "bernoulli"
    default_bias = False
    train_defaults = dict(sizes=(784, 200, 200, 10), optimizer="presynaptic", lr=0.05, batch_size=100)
    # m and its grad (2), p (1); the rule's or the optimiser's state (3); release
    # mask, scale, W (3); temporaries (3)
    arrays_per_synapse = {None: 12}
    presynaptic = True

    @classmethod
    def build(cls, n_in, n_out, *, shared, **o):
        return cls(n_in, n_out, o["backend"], o["gen"], lead=o["lead"], bias=o["bias"],
                   p_init=o.get("p_init", 0.25), release_p=o.get("release_p"),
                   ghost_divisor=o.get("ghost_divisor", "release_p"))

    def __init__(self, n_in, n_out, backend, gen, lead=(), bias=False, p_init=0.25, release_p=None,
                 ghost_divisor="release_p"):
        xp = backend.xp
        if not 0.0 < p_init <= 1.0:
            raise ValueError(f"p_init must lie in (0, 1], got {p_init}")
        if release_p is not None and not 0.0 < release_p <= 1.0:
            raise ValueError(f"release_p must lie in (0, 1], got {release_p}")
        if ghost_divisor not in ("release_p", "p"):
            raise ValueError(f"ghost_divisor must be 'release_p' or 'p', got {ghost_divisor!r}")
        self.n_in, self.n_out, self.bias, self.lead = n_in, n_out, bias, tuple(lead)
        self.be, self.gen, self.release_p, self.ghost_divisor = backend, gen, release_p, ghost_divisor
        self.m = Param(_uniform_init(gen, self.weight_shape, n_in**-0.5), "m", xp)
        self.p = xp.full(self.weight_shape, p_init, dtype=backend.dtype)
        self.params = [self.m]

    def mean_weight(self):
        return self.m.value

    def state(self, prefix):
        return {**super().state(prefix), f"{prefix}.p": np.array(self.be.to_numpy(self.p))}

    def load_state(self, state, prefix):
        super().load_state(state, prefix)
        self.p[...] = self.be.asarray(np.asarray(state[f"{prefix}.p"]), dtype=self.be.dtype)

    @classmethod
    def describe(cls, net, **settings):
        """Mean release probability per layer and the energy ``sum |m|`` (§B3)."""
        be = net.be
        return {"mean_release_probability": [float(be.to_numpy(l.p).mean()) for l in net.synaptic],
                "energy": float(sum(np.abs(be.to_numpy(l.m.value)).sum() for l in net.synaptic))}

    def forward(self, x, mode="sample"):
        xp = self.be.xp
        x = self._x = self._prepare_input(x, xp)
        m = self.m.value
        by_p = self.release_p is not None and self.ghost_divisor == "p"     # the authors' ghost
        if mode == "mean":
            self._scale = self.release_p / self.p if by_p else None   # E[w] = m, or release_p m / p
            self._W = m if self._scale is None else self._scale * m
        else:
            p = self.p if self.release_p is None else self.release_p
            r = (self.gen.uniform(m.shape) < p).astype(m.dtype)  # r ~ Bernoulli(p)
            # w = (r / p) m, E[w] = m; the authors' ghost divides by the evolving p instead
            self._scale = r / self.p if by_p else r / p
            self._W = self._scale * m
        return x @ T(self._W, xp)

    def backward(self, dL_da):
        xp = self.be.xp
        dL_dw = sum_to_shape(T(dL_da, xp) @ self._x, self.m.shape, xp)
        self.m.grad += dL_dw if self._scale is None else self._scale * dL_dw  # dL/dm = (r/p) dL/dw
        if not self.needs_input_grad:
            return None
        return self._input_grad(dL_da @ self._W)


@register_synapse
class QuantalLinear(_Synaptic):
    """Quantal synapses ``w = q k``, ``k ~ Binomial(n, p)`` (MODEL.md §A1, Part C).

    Each synapse has ``n`` release sites (one integer for the layer), each of
    which releases, with probability ``p``, a quantum of signed size ``q``:

        mean  M = n p q,        variance  V = n p (1 - p) q^2

    The Bernoulli synapse of §B1 is the case ``n = 1`` with ``q = m / p``; the
    Gaussian synapse of §A3 is the shape of the weight as ``n`` grows at fixed
    ``p`` (docs/quantal-synapses.md).

    Parameters learned (``coordinates`` and ``p_learning``):

    - ``'mean'`` (default): the expected strength ``m = n p q`` is a
      :class:`Param`, as in both papers (their ``mu`` and ``m``), and
      ``q = m / (n p)`` compensates when ``p`` moves: §A2's picture;
    - ``'size'``: ``q`` itself is the :class:`Param`, and a step of ``p``
      moves the mean with it;
    - ``p_learning='gradient'``: ``p = logistic(logit)`` with ``logit`` a
      :class:`Param`, ``p`` in (0, 1); ``'presynaptic'``: ``p`` is a plain
      array in (0, 1] moved by the rule of §B2 at fixed ``m`` (coordinates
      'mean'); with ``n = 1`` the layer is then :class:`BernoulliLinear`,
      draw for draw.

    Schemes. ``'sample'`` draws ``k`` exactly, once per minibatch: the number
    of the n sites whose uniform draw falls below ``p``. The gradient of the
    strength (``m`` or ``q``) is exact, at the drawn ``k``; the logit's is the
    Gaussian-surrogate (implicit reparameterisation) estimator, which holds
    the standardised count ``z = (k - n p) / sqrt(n p (1-p))`` fixed as ``p``
    moves: ``dw/dlogit = -(w - m)/2`` at fixed ``m``, and
    ``dk/dlogit = n p (1-p) + (k - n p)(1 - 2p)/2`` at fixed ``q``. It is
    unbiased for every loss quadratic in the weights (it moves their mean and
    variance exactly) and biased beyond that, less as ``n p (1-p)`` grows.
    ``'local'`` (Kingma et al. 2015) samples each pre-activation from the
    Gaussian with the summed moments, ``a = x M^T + sqrt((x*x) V^T) eps``,
    with reparameterisation gradients to every parameter.

    Parameters
    ----------
    n_in, n_out : int
    backend : Backend
    gen : Generator or GeneratorStack
        Draws the initial expected strengths (Uniform(-1/sqrt(n_in), 1/sqrt(n_in)),
        as :class:`BernoulliLinear`), then the releases or the pre-activation noise.
    lead : tuple of int
    bias : bool
    n : int
        Release sites per synapse, ``>= 1``.
    scheme : {'sample', 'local'}
    p_init : float
        Initial release probability: in (0, 1) when learned by gradient, (0, 1] otherwise.
    p_learning : {'gradient', 'presynaptic'}
    coordinates : {'mean', 'size'}
    """

    name = "quantal"
    train_defaults = dict(sizes=(784, 100, 100, 10), optimizer="adam", lr=3e-3, batch_size=20)
    # m (or q), logit and their grads (4); Adam's moments and scratch (6); p, 1 - p, the
    # sample's uniforms, k, W, the scale and the gradient products (7); M, V and the local
    # scheme's temporaries (4); the cost and its gradients (3)
    arrays_per_synapse = {None: 24}
    cost_targets = ("mu", "quantal")
    presynaptic = True
    SCHEMES = ("sample", "local")
    P_LEARNING = ("gradient", "presynaptic")
    COORDINATES = ("mean", "size")
    #: the default weight ``c`` of each mechanism's cost (``--quantal-c``): the quick preset's of
    #: ``minisyn quantal`` on the embedded digits (its MNIST runs use 0.1; docs/results/quantal.md)
    DEFAULT_C = {"calcium": 0.05, "membrane": 0.05, "actin": 0.05, "trafficking": 0.05}

    @classmethod
    def build(cls, n_in, n_out, *, shared, **o):
        """Options ``n_sites``, ``quantal_scheme`` (else the network's ``scheme``, 'weights'
        meaning 'sample'), ``p_init``, ``p_learning`` and ``quantal_coordinates``."""
        scheme = o.get("quantal_scheme") or {"weights": "sample"}.get(o.get("scheme"), o.get("scheme"))
        return cls(n_in, n_out, o["backend"], o["gen"], lead=o["lead"], bias=o["bias"], n=o.get("n_sites", 5),
                   scheme=scheme or "local", p_init=o.get("p_init", 0.25),
                   p_learning=o.get("p_learning", "gradient"), coordinates=o.get("quantal_coordinates", "mean"))

    def __init__(self, n_in, n_out, backend, gen, lead=(), bias=True, n=5, scheme="local", p_init=0.25,
                 p_learning="gradient", coordinates="mean"):
        if isinstance(n, bool) or not float(n).is_integer() or n < 1:
            raise ValueError(f"n (release sites) must be an integer >= 1, got {n!r}")
        for name, value, allowed in (("scheme", scheme, self.SCHEMES), ("p_learning", p_learning, self.P_LEARNING),
                                     ("coordinates", coordinates, self.COORDINATES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed} for quantal synapses, got {value!r}")
        rule = p_learning == "presynaptic"
        if rule and coordinates == "size":
            raise ValueError("the presynaptic rule moves p at fixed expected strength m: use coordinates='mean'")
        if not (0.0 < p_init <= 1.0 and (rule or p_init < 1.0)):
            raise ValueError(f"p_init must lie in (0, 1{']' if rule else ')'} for p_learning={p_learning!r}, "
                             f"got {p_init}")
        xp = backend.xp
        self.n_in, self.n_out, self.bias, self.lead = n_in, n_out, bias, tuple(lead)
        self.be, self.gen, self.scheme, self.n = backend, gen, scheme, int(n)
        self.p_learning, self.coordinates = p_learning, coordinates
        self._rule, self._sizes = rule, coordinates == "size"
        m0 = _uniform_init(gen, self.weight_shape, n_in**-0.5)          # expected strengths, as BernoulliLinear's m
        if self._sizes:
            first = self.q = Param(m0 / (self.n * p_init), "q", xp)     # q = m / (n p)
        else:
            first = self._m = Param(m0, "m", xp)
        if rule:
            self._p = xp.full(self.weight_shape, p_init, dtype=backend.dtype)
            self.params = [first]
        else:
            logit = math.log(p_init) - math.log1p(-p_init)
            self.logit = Param(xp.full(self.weight_shape, logit, dtype=backend.dtype), "logit", xp)
            self.params = [first, self.logit]
        self._pp = None                                # (p, 1 - p) of the last forward pass

    # -- the quantal parameters -------------------------------------------------------
    @property
    def m(self):
        """The expected strengths as the presynaptic rule's handle (p_learning='presynaptic' only)."""
        if not self._rule:
            raise ValueError("the presynaptic rule learns p of quantal synapses built with p_learning="
                             "'presynaptic' (--p-learning presynaptic); these learn p by gradient")
        return self._m

    @property
    def p(self):
        """Release probabilities ``(*E, out, in')``: the rule's array, or ``logistic(logit)``."""
        return self._p if self._rule else self.release_probabilities()[0]

    @p.setter
    def p(self, value):
        if not self._rule:
            raise ValueError("p of these quantal synapses follows from their logit (p_learning='gradient')")
        self._p = value

    def release_probabilities(self, cached=False):
        """``(p, 1 - p)``. From the logit ``t``, with ``e = exp(-|t|)``:
        ``p = 1/(1+e)``, ``1 - p = e/(1+e)`` where ``t >= 0``, the numerators swapped
        where ``t < 0``: no overflow, and both keep full relative precision.
        ``cached=True`` reuses the last forward pass's pair."""
        if cached and self._pp is not None:
            return self._pp
        if self._rule:
            return self._p, 1.0 - self._p
        xp = self.be.xp
        t = self.logit.value
        e = xp.exp(-xp.abs(t))
        d = 1.0 + e
        pos = t >= 0
        return xp.where(pos, 1.0, e) / d, xp.where(pos, e, 1.0) / d

    def quantal(self, cached=False):
        """``(n, p, q)``: the sites (an int), release probabilities and quantal sizes (arrays)."""
        p, _ = self.release_probabilities(cached)
        return self.n, p, (self.q.value if self._sizes else self._m.value / (self.n * p))

    def moments(self, cached=False):
        """Mean and variance of every weight, ``M = n p q`` and ``V = n p (1-p) q^2`` (§A1)."""
        p, pbar = self.release_probabilities(cached)
        if self._sizes:
            M = self.n * p * self.q.value
            return M, M * pbar * self.q.value
        m = self._m.value
        return m, m * m * pbar / (self.n * p)          # V = m^2 (1-p) / (n p)

    def mean_weight(self):
        return self.moments()[0]

    def sigma(self):
        """Standard deviation of every weight, ``sqrt(n p (1-p)) |q|`` (no square of q to underflow)."""
        xp = self.be.xp
        p, pbar = self.release_probabilities()
        if self._sizes:
            return xp.sqrt(self.n * p * pbar) * xp.abs(self.q.value)
        return xp.sqrt(pbar / (self.n * p)) * xp.abs(self._m.value)   # |m| sqrt((1-p) / (n p))

    def mean_slope(self):
        """``dM / d params[0]``: ``n p`` where ``q`` is the parameter, 1 where ``m`` is (for the
        Fisher information of the mean weight from that of ``params[0]``)."""
        return self.n * self.p if self._sizes else self.be.xp.ones_like(self._m.value)

    # -- forward and backward -------------------------------------------------------------
    def _release_counts(self, p):
        """``k ~ Binomial(n, p)`` per synapse: how many of the n sites' uniform draws fall below ``p``."""
        k = self.be.xp.zeros(p.shape, dtype=p.dtype)
        for _ in range(self.n):
            k += self.gen.uniform(p.shape) < p         # one Bernoulli(p) release per site
        return k

    def forward(self, x, mode="sample"):
        xp = self.be.xp
        x = self._x = self._prepare_input(x, xp)
        self._mode, self._pp = mode, None
        p, pbar = self._pp = self.release_probabilities()
        if mode == "mean":
            self._W = self.moments(cached=True)[0]                      # w = M = n p q
            return x @ T(self._W, xp)
        if self.scheme == "sample":
            k = self._k = self._release_counts(p)
            if self._sizes:
                self._W = k * self.q.value                                # w = q k
            else:
                self._scale = k / (self.n * p)                           # w = (k / (n p)) m; BernoulliLinear at n = 1
                self._W = self._scale * self._m.value
            return x @ T(self._W, xp)
        # local: a = x M^T + sqrt((x*x) V^T) eps, eps ~ N(0, 1) per example and unit
        self._M, self._V = self.moments(cached=True)
        mean = x @ T(self._M, xp)
        self._sv = xp.sqrt((x * x) @ T(self._V, xp))
        self._eps = self.gen.normal(mean.shape)
        return mean + self._sv * self._eps

    def backward(self, dL_da):
        xp = self.be.xp
        x, (p, pbar) = self._x, self._pp
        G = sum_to_shape(T(dL_da, xp) @ x, self.params[0].shape, xp)     # dL/dW = delta^T x
        if self._mode != "mean" and self.scheme == "local":
            # dL/dv = delta eps / (2 sqrt(v)); 0 where v = 0 (x = 0, or p = 1 at every input: v is 0 nearby)
            tiny = xp.finfo(self._sv.dtype).tiny
            dL_dv = dL_da * self._eps * ((self._sv > 0) / (2.0 * xp.maximum(self._sv, tiny)))
            dL_dV = sum_to_shape(T(dL_dv, xp) @ (x * x), self.params[0].shape, xp)   # (dL/dv)^T (x*x)
            self._moment_grads(G, dL_dV, p, pbar, self._V)
            if not self.needs_input_grad:
                return None
            return self._input_grad(dL_da @ self._M + 2.0 * x * (dL_dv @ self._V))
        if self._mode == "mean":
            self._moment_grads(G, None, p, pbar)
        elif self._sizes:
            k, q = self._k, self.q.value
            self.q.grad += G * k                                          # dL/dq = k dL/dw (exact)
            dk = self.n * p * pbar + (k - self.n * p) * (pbar - p) * 0.5  # dk/dlogit, z = (k - np)/sqrt(np(1-p)) fixed
            self.logit.grad += G * q * dk                                 # dL/dlogit = q dk/dlogit dL/dw
        else:
            self._m.grad += self._scale * G                               # dL/dm = (k / (n p)) dL/dw (exact)
            if not self._rule:                                            # dw/dlogit = -(w - m) / 2, z fixed
                self.logit.grad -= 0.5 * G * (self._W - self._m.value)
        return self._input_grad(dL_da @ self._W) if self.needs_input_grad else None   # dL/dx = delta W

    def _moment_grads(self, dL_dM, dL_dV, p, pbar, V=None):
        """Add the gradients through the moments into the parameters (``dL_dV`` None: the mean only).

        Coordinates 'mean': ``dM/dm = 1``, ``dV/dm = 2 m (1-p) / (n p)``, ``dV/dlogit = -V``
        (``V = m^2 e^-logit / n``). Coordinates 'size': ``dM/dq = n p``, ``dV/dq = 2 n p (1-p) q``,
        ``dM/dlogit = n p (1-p) q``, ``dV/dlogit = n p (1-p) (1-2p) q^2``.
        """
        n = self.n
        if self._sizes:
            q = self.q.value
            if dL_dV is None:
                self.q.grad += dL_dM * (n * p)
                self.logit.grad += dL_dM * (n * p * pbar * q)
                return
            self.q.grad += (n * p) * (dL_dM + dL_dV * (2.0 * pbar * q))
            self.logit.grad += (n * p * pbar * q) * (dL_dM + dL_dV * ((pbar - p) * q))
            return
        m = self._m.value
        if dL_dV is None:
            self._m.grad += dL_dM
            return
        self._m.grad += dL_dM + dL_dV * (2.0 * m * pbar / (n * p))
        if not self._rule:
            self.logit.grad -= dL_dV * (m * m * pbar / (n * p) if V is None else V)

    # -- costs, saving, summaries ----------------------------------------------------------
    def add_cost(self, cost, scale, cached=False):
        """``'mu'`` costs act on the mean ``M = n p q`` (§B3's energy ``|m|``); ``'quantal'`` costs
        (:class:`minisyn.costs.QuantalCost`) on ``(n, p, q)``, carried on with ``dp/dlogit = p (1-p)``
        and, in coordinates 'mean', ``dq/dm = 1/(n p)``, ``dq/dlogit = -q (1-p)``."""
        if cost.target not in self.cost_targets or (cost.target == "mu" and not self._sizes):
            return super().add_cost(cost, scale, cached)                  # m itself; or a refusal naming the target
        p, pbar = self.release_probabilities(cached)
        if cost.target == "mu":
            M = self.n * p * self.q.value
            value, dC_dM = cost.value_and_grad(M, self.be, scale=scale, out=self._buffer("cost", M))
            self._moment_grads(dC_dM, None, p, pbar)
            return value
        if self._rule:
            raise ValueError(f"{type(cost).__name__} acts on p by gradient, but the presynaptic rule moves p "
                             "of these synapses: use p_learning='gradient' (--p-learning gradient)")
        n, _, q = self.quantal(cached)
        value, (dC_dp, dC_dq) = cost.value_and_grad((n, p, q), self.be, scale=scale)
        if dC_dq is not None and self._sizes:
            self.q.grad += dC_dq
        elif dC_dq is not None:
            self._m.grad += dC_dq / (n * p)                               # dq/dm = 1 / (n p)
            self.logit.grad -= dC_dq * (q * pbar)                         # dq/dlogit = -q (1-p) at fixed m
        if dC_dp is not None:
            self.logit.grad += dC_dp * (p * pbar)                         # dp/dlogit = p (1-p)
        return value

    def state(self, prefix):
        out = super().state(prefix)
        n, p, q = self.quantal()
        to = self.be.to_numpy
        out.update({f"{prefix}.p": np.array(to(p)), f"{prefix}.sigma": np.array(to(self.sigma())),
                    f"{prefix}.n": np.array(n)})
        out.setdefault(f"{prefix}.q", np.array(to(q)))
        return out

    def load_state(self, state, prefix):
        if f"{prefix}.n" in state and int(np.asarray(state[f"{prefix}.n"])) != self.n:
            raise ValueError(f"{prefix}.n: the saved layer has {int(np.asarray(state[f'{prefix}.n']))} release "
                             f"sites, this one {self.n}")
        super().load_state(state, prefix)
        if self._rule:
            self._p[...] = self.be.asarray(np.asarray(state[f"{prefix}.p"]), dtype=self.be.dtype)

    @classmethod
    def describe(cls, net, **settings):
        """Per member: ``n``, the mean release probability per layer, ``energy = sum |M|`` (§B3),
        ``sigma_bar`` (§A4) and each mechanism's energy ``sum_i E(n, p_i, q_i)`` (§A2)."""
        be, layers = net.be, net.synaptic
        host = lambda a: be.to_numpy(a).tolist()                          # noqa: E731
        return {
            "n_sites": layers[0].n,
            "mean_release_probability": [host(l.p.mean(axis=(-2, -1))) for l in layers],
            "energy": host(sum(be.xp.abs(l.mean_weight()).sum(axis=(-2, -1)) for l in layers)),
            "sigma_bar": host(sigma_bar([l.sigma() for l in layers], be)),
            "mechanism_energy": {name: host(sum(make(1.0).value(l.quantal(), be) for l in layers))
                                 for name, make in QUANTAL_COSTS.items()},
        }

    # -- registry hooks of ``minisyn train`` --------------------------------------------------
    @classmethod
    def add_options(cls, group):
        """The ``minisyn train`` options of quantal synapses (named so that no other type's clash)."""
        group.add_argument("--n-sites", type=int, default=5, help="quantal: release sites n per synapse (§A1)")
        group.add_argument("--quantal-scheme", choices=cls.SCHEMES, default="local",
                           help="quantal: exact binomial releases per minibatch, or the local Gaussian scheme")
        group.add_argument("--mechanism", choices=tuple(QUANTAL_COSTS), default="calcium",
                           help="quantal: the reliability cost's mechanism (§A2), an energy of (n, p, q)")
        group.add_argument("--quantal-c", type=float, default=None,
                           help="quantal: weight c of c sum_i E(n, p_i, q_i) (default: the mechanism's, "
                                + ", ".join(f"{k} {v:g}" for k, v in cls.DEFAULT_C.items()) + ")")
        group.add_argument("--p-learning", choices=cls.P_LEARNING, default="gradient",
                           help="quantal: p by gradient through its logit, or by the presynaptic rule (§B2; "
                                "with --optimizer presynaptic)")
        group.add_argument("--quantal-coordinates", choices=cls.COORDINATES, default="mean",
                           help="quantal: learn the expected strength m = n p q (q compensates as p moves) "
                                "or the quantal size q itself")
        return group

    @classmethod
    def options_from_args(cls, args):
        """Keyword arguments of ``MLP(...)`` (passed on to :meth:`build`) from :meth:`add_options`' values."""
        if args.n_sites < 1:
            raise ValueError(f"--n-sites must be >= 1, got {args.n_sites}")
        return dict(n_sites=args.n_sites, quantal_scheme=args.quantal_scheme, p_learning=args.p_learning,
                    quantal_coordinates=args.quantal_coordinates)

    @classmethod
    def training_costs(cls, args):
        """What ``minisyn train`` adds: the mechanism's cost and the L1 cost ``lambda |M|`` (``--lambda``)
        when p learns by gradient; none with the presynaptic rule (its ``--l2`` is weight decay)."""
        if args.p_learning == "presynaptic":
            if args.quantal_c:
                raise ValueError("--quantal-c needs --p-learning gradient: the presynaptic rule moves p by its "
                                 "own rule, not by a cost's gradient")
            return []
        c = cls.DEFAULT_C[args.mechanism] if args.quantal_c is None else args.quantal_c
        lam = getattr(args, "lam", 0.0)
        return [quantal_cost(args.mechanism, c)] + ([L1Cost(lam)] if lam else [])


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
