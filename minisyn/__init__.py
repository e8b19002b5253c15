"""minisyn: hand-written networks of stochastic, energy-efficient synapses.

The equations are in MODEL.md (cited as §A1-§A9, §B1-§B6). Start with
:class:`minisyn.network.MLP` and :func:`minisyn.train.train`.
"""
__version__ = "0.1.0"

from minisyn.backend import Backend, get_backend, use_backend  # noqa: E402

__all__ = ["Backend", "get_backend", "use_backend", "__version__"]
