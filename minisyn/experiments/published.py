"""The authors' published data behind paper A's Figs. 2, 3 and 5, and minisyn's runs beside them.

The data (``minisyn/data/authors_fig2_fig3_*.csv``, described in
``authors_fig2_fig3.md`` beside them) are the arrays the authors saved from
their runs (JamesMalkin/EfficientBayes, ``data-fig2and3/``). Their c grid was
not saved; two readings are compared (``GRIDS``): c = 10^(-3 + k/4), the
grid of MODEL.md §A4, and c = 10^(-4 + k/4), the one under which the current
data line up with the first upload, whose grid is known
(docs/results/differences.md, finding 2 and A4).

A sweep record is paired with the published point of the same noise setting,
rho and c. Accuracies are compared as the authors saved them: from sampled
weights (``acc_sampled``), in percent; sigma_bar over the weights only,
biases excluded (A6).

For Fig. 5 the authors saved per-synapse arrays (``data-fig5/``); what ships
is minisyn's own summary of them (``authors_fig5_summary.csv``, made with
:func:`minisyn.experiments.importance.spearman_table` and
:func:`~minisyn.experiments.importance.loglog_slopes`, described in
``authors_fig5.md``): per rho and layer, the Spearman correlation of sigma
with the Fisher estimate, the proxy learning rate and the input rate, and the
log-log slope of sigma on the Fisher estimate. :func:`compare_importance`
sets a ``minisyn importance`` run beside the row of its rho.
"""
from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np

from minisyn.experiments.kit import rho_label
from minisyn.output import pyplot, save_csv, save_figure, save_json

__all__ = ["FILES", "GRIDS", "CHANCE_MARGIN", "load_published", "compare", "summarize", "plot_comparison",
           "write_comparison", "FIG5_FILE", "FIG5_SIZES", "load_published_fig5", "compare_importance",
           "write_importance_comparison"]

#: the two versions of the data the repository held (see authors_fig2_fig3.md)
FILES = {"head": "authors_fig2_fig3_head.csv", "first_upload": "authors_fig2_fig3_first_upload.csv"}
#: the readings of the current data's unsaved c grid, as their CSV columns
GRIDS = {"1e-4": "c_if_start_1e-4", "1e-3": "c_if_start_1e-3"}
#: a run meets a published point whose c lies within 0.1 % of it (c to four digits; the grid's step is 78 %)
C_REL_TOL = 1e-3
#: a point counts in the summary where both accuracies lie this many points above chance (10 %)
CHANCE_MARGIN = 5.0
#: minisyn's summary of the authors' Fig. 5 arrays (see authors_fig5.md)
FIG5_FILE = "authors_fig5_summary.csv"
#: the network of the authors' Fig. 5 (784-100-100-10; layer 2 is the one the paper shows)
FIG5_SIZES = (784, 100, 100, 10)
#: the statistics compared for Fig. 5: Spearman per quantity (Adam's own rate was not saved), then slopes
FIG5_SPEARMAN = ("fisher", "proxy_lr", "input_rate")
_FIG5_TITLES = {"spearman_fisher": "Spearman(sigma, Fisher)", "spearman_proxy_lr": "Spearman(sigma, eta/mean|g|)",
                "spearman_input_rate": "Spearman(sigma, input rate)",
                "slope_all": "slope, log sigma on log Fisher", "slope_upper_half": "the same, upper half by Fisher"}


def load_published(version="head"):
    """The published points: a list of dicts (``rho``, ``noise``, ``k``, ``accuracy_pct``,
    ``sigma_bar_weights``, ... and the c column(s)), numbers as floats."""
    if version not in FILES:
        raise ValueError(f"version must be one of {sorted(FILES)}, got {version!r}")
    text = resources.files("minisyn").joinpath("data", FILES[version]).read_text()
    rows = []
    for row in csv.DictReader(text.splitlines()):
        rows.append({k: (v if k in ("rho_label", "noise") else float(v)) for k, v in row.items()})
    return rows


def _c_column(version, grid):
    if version == "first_upload":
        return "c"
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {sorted(GRIDS)}, got {grid!r}")
    return GRIDS[grid]


def compare(records, grid="1e-4", version="head"):
    """Pair sweep records with the published points of the same (noise, rho, c).

    Returns a list of dicts, one per pair, sorted by noise, rho and c:
    ``ours_pct`` / ``theirs_pct`` (sampled test accuracy, %), ``delta_pct``
    (ours - theirs), ``ours_sigma_bar`` (weights only where the record has it)
    and ``theirs_sigma_bar``.
    """
    column = _c_column(version, grid)
    published = {}
    for r in load_published(version):
        published.setdefault((r["noise"], round(r["rho"], 9)), []).append(r)
    pairs = []
    for rec in records:
        c = float(rec["c"])                    # typed with fewer digits (--c-min 177.8279) it still meets its point
        theirs = next((r for r in published.get((rec["noise"], round(float(rec["rho"]), 9)), [])
                       if abs(c - r[column]) <= C_REL_TOL * r[column]), None)
        if theirs is None:
            continue
        ours = 100.0 * float(rec["test_accuracy"]["sampled"])
        pairs.append({"noise": rec["noise"], "rho": float(rec["rho"]), "c": float(rec["c"]), "k": int(theirs["k"]),
                      "ours_pct": ours, "theirs_pct": theirs["accuracy_pct"],
                      "delta_pct": ours - theirs["accuracy_pct"],
                      "ours_sigma_bar": float(rec.get("sigma_bar_weights", rec["sigma_bar"])),
                      "theirs_sigma_bar": theirs["sigma_bar_weights"]})
    return sorted(pairs, key=lambda p: (p["noise"], p["rho"], p["c"]))


def summarize(pairs, margin=CHANCE_MARGIN):
    """Mean and largest |ours - theirs| (accuracy points) over the pairs where both lie more than
    ``margin`` points above chance, overall and per (noise, rho); also the number of such pairs."""
    def stats(rows):
        d = np.array([abs(p["delta_pct"]) for p in rows
                      if min(p["ours_pct"], p["theirs_pct"]) > 10.0 + margin], float)
        return {"n": int(d.size), "mean_abs_delta": float(d.mean()) if d.size else None,
                "max_abs_delta": float(d.max()) if d.size else None, "pairs": len(rows)}
    groups = {}
    for p in pairs:
        groups.setdefault(f"{p['noise']} rho={p['rho']:g}", []).append(p)
    return {"all": stats(pairs), **{name: stats(rows) for name, rows in groups.items()}}


def write_comparison(records, out, log=print):
    """Compare with the current data on both grid readings; write ``published_comparison.csv``,
    ``published_comparison.json`` and the figure; return the summaries (``{}`` when no record
    has a published counterpart)."""
    out = Path(out)
    result, rows = {}, []
    for grid in GRIDS:
        pairs = compare(records, grid)
        if not pairs:
            continue
        result[grid] = summarize(pairs)
        rows += [[grid, p["noise"], p["rho"], p["c"], p["k"], p["ours_pct"], p["theirs_pct"], p["delta_pct"],
                  p["ours_sigma_bar"], p["theirs_sigma_bar"]] for p in pairs]
        s = result[grid]["all"]
        if s["n"]:
            log(f"published Figs. 2/3 (c grid from {grid}): {s['n']} points above chance, |acc - theirs| "
                f"mean {s['mean_abs_delta']:.2f}, largest {s['max_abs_delta']:.2f} points")
    if not result:
        return {}
    save_csv(out / "published_comparison.csv",
             ["grid", "noise", "rho", "c", "k", "ours_pct", "theirs_pct", "delta_pct", "ours_sigma_bar_weights",
              "theirs_sigma_bar_weights"], rows)
    save_json(out / "published_comparison.json", result)
    plot_comparison(records, out)
    return result


def plot_comparison(records, out, grid="1e-4", stem="published_comparison"):
    """Accuracy and sigma_bar against c, one column per rho: minisyn's records (colour) over the
    published points (black: heterogeneous, open: homogeneous) on the ``grid`` reading.

    ``records`` is one list of sweep records, or a dict ``{label: records}`` to set several runs
    (e.g. minisyn's ``--paper`` and ``--authors`` settings) beside the same published points;
    each label gets its own line style.
    """
    plt = pyplot()
    series = records if isinstance(records, dict) else {"minisyn": records}
    column = _c_column("head", grid)
    published = load_published("head")
    rhos = sorted({float(r["rho"]) for recs in series.values() for r in recs})
    fig, axes = plt.subplots(2, len(rhos), figsize=(max(3.3 * len(rhos) + 0.4, 6.0 if len(series) > 1 else 0),
                                                    5.4 + 0.25 * len(series) * (len(series) > 1)),
                             squeeze=False, constrained_layout=True)
    colours = {"heterogeneous": "tab:green", "homogeneous": "tab:orange"}
    styles = ["o-", "^--", "s:", "v-."]
    for j, rho in enumerate(rhos):
        for noise, colour in colours.items():
            theirs = sorted((r for r in published if r["noise"] == noise and abs(r["rho"] - rho) < 1e-9),
                            key=lambda r: r[column])
            face = "k" if noise == "heterogeneous" else "none"
            for i, (mine, their) in enumerate(((lambda r: 100 * r["test_accuracy"]["sampled"], "accuracy_pct"),
                                               (lambda r: r.get("sigma_bar_weights", r["sigma_bar"]),
                                                "sigma_bar_weights"))):
                ax = axes[i, j]
                if theirs:
                    ax.plot([r[column] for r in theirs], [r[their] for r in theirs], "s", ms=3.5,
                            mec="k", mfc=face, label=f"published, {noise}")
                for n, (label, recs) in enumerate(series.items()):
                    ours = sorted((r for r in recs if r["noise"] == noise and abs(float(r["rho"]) - rho) < 1e-9),
                                  key=lambda r: float(r["c"]))
                    if ours:
                        ax.plot([float(r["c"]) for r in ours], [mine(r) for r in ours], styles[n % len(styles)],
                                ms=3, color=colour, label=f"{label}, {noise}")
                ax.set_xscale("log")
                if i == 1:
                    ax.set_yscale("log")
                    ax.set_xlabel("cost weight c")
        axes[0, j].set_title(rf"$\rho$ = {rho_label(rho)}")
        axes[0, j].set_ylim(0, 100)
    axes[0, 0].set_ylabel("test accuracy, sampled (%)")
    axes[1, 0].set_ylabel(r"$\bar\sigma$ (weights)")
    if len(series) > 1:                  # many labels: under the panels
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=6,
                   frameon=False)
    else:
        axes[0, 0].legend(fontsize=7, frameon=False)
    fig.suptitle(f"minisyn against the published Fig. 2/3 data\n(their c grid read as starting at {grid})",
                 fontsize=8)
    return save_figure(fig, out, stem, dpi=110)


# -- Fig. 5 -----------------------------------------------------------------------
def load_published_fig5():
    """minisyn's summary of the authors' Fig. 5 data: a list of dicts (``rho``, ``layer``,
    ``quantity``, ``spearman``, ``slope_all``, ``slope_upper_half``, ``n_synapses``), numbers as
    floats (NaN where the authors saved nothing to compute it from)."""
    text = resources.files("minisyn").joinpath("data", FIG5_FILE).read_text()
    return [{k: (v if k == "quantity" else float(v)) for k, v in row.items()}
            for row in csv.DictReader(text.splitlines())]


def compare_importance(correlations, slopes, rho):
    """Pair a ``minisyn importance`` run (its :func:`~minisyn.experiments.importance.spearman_table`
    and :func:`~minisyn.experiments.importance.loglog_slopes`, one entry per layer) with the
    authors' Fig. 5 data of the same rho.

    Returns one dict per (layer, statistic): ``layer`` (1-based), ``statistic`` (``spearman_<q>``
    for q in :data:`FIG5_SPEARMAN`, or ``slope_all`` / ``slope_upper_half`` of log sigma on log
    Fisher), ``ours``, ``theirs`` and ``delta``; empty when the data hold no such rho or another
    number of layers.
    """
    theirs = [r for r in load_published_fig5() if abs(r["rho"] - float(rho)) < 1e-5]   # the CSV has 6 digits
    if not theirs or len(correlations) != int(max(r["layer"] for r in theirs)) or len(slopes) != len(correlations):
        return []
    by = {(int(r["layer"]), r["quantity"]): r for r in theirs}
    rows = []
    for j, (corr, slope) in enumerate(zip(correlations, slopes), start=1):
        pairs = [(f"spearman_{q}", corr[q]["rho"], by[(j, q)]["spearman"]) for q in FIG5_SPEARMAN]
        pairs += [("slope_all", slope["fitted"], by[(j, "fisher")]["slope_all"]),
                  ("slope_upper_half", slope["fitted_upper_half"], by[(j, "fisher")]["slope_upper_half"])]
        rows += [{"layer": j, "statistic": name, "ours": float(a), "theirs": float(b), "delta": float(a) - float(b)}
                 for name, a, b in pairs]
    return rows


def write_importance_comparison(correlations, slopes, rho, out, log=print):
    """Write ``published_comparison.csv`` / ``.json`` and the figure for an importance run beside
    the authors' Fig. 5 data (:func:`compare_importance`); return the rows (``[]``: nothing written)."""
    rows = compare_importance(correlations, slopes, rho)
    if not rows:
        return []
    out = Path(out)
    save_csv(out / "published_comparison.csv", ["rho", "layer", "statistic", "ours", "theirs", "delta"],
             [[float(rho), r["layer"], r["statistic"], r["ours"], r["theirs"], r["delta"]] for r in rows])
    save_json(out / "published_comparison.json", {"rho": float(rho), "source": FIG5_FILE, "rows": rows})
    worst = max((r for r in rows if np.isfinite(r["delta"])), key=lambda r: abs(r["delta"]), default=None)
    if worst is not None:
        log(f"published Fig. 5 (rho {rho_label(rho)}): largest gap {worst['delta']:+.3f} "
            f"({worst['statistic']}, layer {worst['layer']}); published_comparison.csv has all "
            f"{len(rows)} statistics")
    plot_importance_comparison(rows, rho, out)
    return rows


def plot_importance_comparison(rows, rho, out):
    """One panel per statistic: minisyn's value (colour) and the authors' (black) for each layer."""
    plt = pyplot()
    names = list(dict.fromkeys(r["statistic"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(2.1 * len(names) + 0.3, 2.6), constrained_layout=True)
    for ax, name in zip(np.atleast_1d(axes), names):
        mine = [r for r in rows if r["statistic"] == name]
        layers = [r["layer"] for r in mine]
        ax.plot(layers, [r["theirs"] for r in mine], "s", mec="k", mfc="none", label="authors' data")
        ax.plot(layers, [r["ours"] for r in mine], "o", color="tab:green", ms=4, label="minisyn")
        ax.axhline(0, color="0.8", lw=0.6)
        ax.set_xticks(layers)
        ax.set_xlabel("layer")
        if name.startswith("spearman_"):
            ax.set_ylim(-1.05, 1.05)
        ax.set_title(_FIG5_TITLES.get(name, name), fontsize=8)
    np.atleast_1d(axes)[0].legend(fontsize=7, frameon=False)
    fig.suptitle(rf"minisyn against the authors' Fig. 5 data, $\rho$ = {rho_label(rho)}", fontsize=8)
    return save_figure(fig, out, "published_comparison", dpi=110)
