#!/usr/bin/env python3
"""Fig. 5a: ablations of presynaptic consolidation (MODEL.md §B5).

Presynaptic consolidation against two ablations on Split MNIST:

- no consolidation: Bernoulli synapses and presynaptic plasticity of p, but no
  (1 - p) learning-rate factor and no freezing;
- ghost release probabilities: p evolves by §B2 and scales the learning rate,
  but every synapse releases with a fixed probability 0.5 in the forward pass
  (presynaptic plasticity blocked, consolidation kept).

(The paper re-tuned the metaplasticity parameters for each ablation; here all
three use the lifelong values of §B2.) Quick by default (embedded data,
3 seeds, the quick preset of ``minisyn lifelong``); ``--full``: paper settings
on full MNIST, 5 seeds. Other options of ``minisyn lifelong`` (``--protocol
permuted``, ...) are passed on. Measured results and times:
docs/results/lifelong.md.
"""
from __future__ import annotations

import sys

from minisyn.experiments import lifelong

NAME = "fig5a_ablations"
METHODS = "presynaptic,no-consolidation,ghost"


def main(argv=None):
    return lifelong.run_demo(argv, NAME, METHODS, __doc__)


if __name__ == "__main__":
    sys.exit(main())
