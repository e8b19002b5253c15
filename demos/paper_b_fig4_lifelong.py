#!/usr/bin/env python3
"""Fig. 4: lifelong learning with presynaptic consolidation (MODEL.md §B5).

Split MNIST (5 digit-pair tasks, 2 outputs) learned one task after another by
presynaptic consolidation (Bernoulli synapses, the rule of §B2 with the (1 - p)
learning-rate factor and freezing of p), the standard model (deterministic
synapses, plain SGD), EWC and BGD. Panels: accuracy on the first task during
training (Fig. 4b), final mean accuracy over the tasks (Fig. 4c), and every
method's accuracy matrix acc[i, j] (task j after task i).

Quick by default: the embedded 5,000-digit sample, 784-100-100-2, 5 epochs a
task, lr 0.05, 3 seeds, Bernoulli networks scored with their mean weights
(``minisyn lifelong --help`` lists every protocol's quick preset). ``--full``:
the paper's settings (784-200-200, 10 epochs a task, minibatch 100, lr 1e-3
for Split / 1e-2 for Permuted, standardised pixels) on full MNIST
(``--data-dir``), 5 seeds, Bernoulli networks scored by the softmax averaged
over 10 release samples (``--eval-mode predictive``, as the authors' code);
``--dataset fashion-mnist`` for Fashion-MNIST. Any other option of ``minisyn
lifelong`` (``--protocol permuted``, ``--methods``, ``--sizes``,
``--train-limit``, ...) is passed on. Measured results and times:
docs/results/lifelong.md.
Runs are saved in ``<out>/runs/``: rerunning resumes.
"""
from __future__ import annotations

import sys

from minisyn.experiments import lifelong

NAME = "fig4_lifelong"
METHODS = "presynaptic,sgd,ewc,bgd"


def main(argv=None):
    return lifelong.run_demo(argv, NAME, METHODS, __doc__)


if __name__ == "__main__":
    sys.exit(main())
