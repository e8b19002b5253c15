"""Lifelong learning with presynaptic consolidation (MODEL.md §B5; Figs. 4 and 5a).

Tasks are learned one after another by presynaptic consolidation, plain SGD,
EWC, BGD and two ablations; per run (protocol, method, seed) the result is the
accuracy matrix ``acc[i, j]`` (test accuracy on task ``j`` after task ``i``),
the first task's accuracy during training and the final mean accuracy.

The package, by concern:

- :mod:`~minisyn.experiments.lifelong.tasks`: the protocols (``split``,
  ``permuted``, ``continuous``), :class:`Task`, the continuous schedule and
  the stream of minibatches (:func:`batch_stream`);
- :mod:`~minisyn.experiments.lifelong.methods`: :data:`METHODS`,
  :data:`LIFELONG_RULE`, the authors' re-tuned :data:`ABLATION_RULES`
  (:func:`method_rule`) and :func:`make_method` (a network and its update);
- :mod:`~minisyn.experiments.lifelong.run`: :func:`run_one` (one run through
  :func:`minisyn.train.fit`) and :func:`run_lifelong` (every run, resumed
  through :class:`minisyn.experiments.kit.RunStore`);
- :mod:`~minisyn.experiments.lifelong.report`: the summary table, CSV, JSON
  and figures;
- :mod:`~minisyn.experiments.lifelong.command`: ``minisyn lifelong`` and its
  presets (quick, ``--paper``, ``--authors``).
"""
from __future__ import annotations

from minisyn.experiments.lifelong.command import (AUTHORS_SETTINGS, PAPER_SETTINGS, QUICK_SETTINGS, register,
                                                  run_cli, run_demo, settings_from_args)
from minisyn.experiments.lifelong.methods import (ABLATION_RULES, BERNOULLI_METHODS, GHOST_DIVISORS, LIFELONG_RULE,
                                                  METHOD_SETTINGS, METHODS, PAPER_LR, RULE_VALUES, SGD_OPTIMIZERS,
                                                  make_method, method_rule, unused_settings)
from minisyn.experiments.lifelong.report import (format_table, mean_sd, plot_matrices, plot_summary, report,
                                                 summarise, write_summary_csv)
from minisyn.experiments.lifelong.run import run_key, run_lifelong, run_one
from minisyn.experiments.lifelong.tasks import (EVAL_MODES, PREDICTIVE_SAMPLES, PROTOCOLS, SPLIT_PAIRS, DeviceTasks,
                                                Task, batch_stream, build_tasks, continuous_schedule, permutations,
                                                permuted_tasks, scores_for, split_tasks, transition_starts)

__all__ = ["PROTOCOLS", "SPLIT_PAIRS", "EVAL_MODES", "PREDICTIVE_SAMPLES", "Task", "split_tasks", "permutations",
           "permuted_tasks", "continuous_schedule", "transition_starts", "batch_stream", "build_tasks",
           "scores_for", "DeviceTasks",
           "METHODS", "BERNOULLI_METHODS", "LIFELONG_RULE", "ABLATION_RULES", "RULE_VALUES", "GHOST_DIVISORS",
           "SGD_OPTIMIZERS", "PAPER_LR", "METHOD_SETTINGS", "unused_settings", "method_rule", "make_method",
           "run_key", "run_one", "run_lifelong",
           "mean_sd", "summarise", "write_summary_csv", "format_table", "plot_matrices", "plot_summary", "report",
           "PAPER_SETTINGS", "QUICK_SETTINGS", "AUTHORS_SETTINGS", "register", "settings_from_args", "run_cli",
           "run_demo"]
