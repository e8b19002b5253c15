"""Both papers' signatures from one quantal model (MODEL.md Part C, §A1, §A2, §A6, §B4).

For every reliability mechanism of §A2 and every number of release sites ``n``,
a network of quantal synapses (:class:`minisyn.layers.QuantalLinear`) is
trained on

    mean_batch CE + (c sum_i E(n, p_i, q_i) + lambda sum_i |M_i|) / N

with Adam, ``p`` learned through its logit and the expected strength
``M = n p q`` as the other parameter (coordinates 'mean': q compensates as p
moves, §A2). Then, per layer (bias synapses and synapses whose Fisher
information is 0, i.e. whose input unit was never active, left out):

- the empirical Fisher information of each mean weight, ``F_i = mean_x
  (d log p(y|x) / d M_i)^2``, from single-example gradients with mean weights
  (:func:`minisyn.analysis.empirical_fisher`, §B4);
- Spearman's rank correlation of the weight's standard deviation
  ``sigma_i = sqrt(n p_i (1-p_i)) |q_i|`` with ``F_i`` (Paper A's signature,
  §A6: negative) and of ``p_i`` with ``F_i`` (Paper B's, §B4: positive);
- test accuracy with sampled weights (and mean weights, and the predictive
  average), and the energy the mechanism charges, ``sum_i E(n, p_i, q_i)``,
  beside ``sum_i |M_i|`` (§B3): energy against accuracy as ``n`` varies.

Every network is saved as ``<out>/runs/<mechanism>-n<n>.json`` (and ``.npz``
with its per-synapse Fisher, sigma and p) by :class:`~minisyn.experiments.kit.RunStore`:
a rerun resumes. Writes ``quantal.csv``, ``quantal.json`` and the figures
``quantal_signatures`` (sigma against Fisher, coloured by p, per mechanism and
layer) and ``quantal_energy`` (accuracy against energy as n varies).
Measured results: docs/results/quantal.md.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from minisyn.analysis import empirical_fisher, spearman
from minisyn.backend import get_backend
from minisyn.costs import QUANTAL_COSTS, L1Cost, quantal_cost
from minisyn.experiments import kit
from minisyn.layers import QuantalLinear
from minisyn.network import MLP
from minisyn.optim import Adam
from minisyn.output import no_minor_labels, pyplot, save_csv, save_figure, save_json
from minisyn.train import evaluate, train

__all__ = ["QUICK", "PAPER", "MECHANISMS", "fisher_of_means", "signatures", "train_one", "run_quantal",
           "print_table", "register", "run_cli"]

MECHANISMS = tuple(QUANTAL_COSTS)
#: The default: the embedded 5,000 digits, a calcium and a membrane network of 5 sites and a calcium
#: network of 1 site, 6 epochs of minibatches of 20 (about a minute of one core): both signatures
#: under calcium, their reversal under membrane, and what a single site costs in accuracy.
QUICK = dict(dataset="embedded", sizes=[784, 100, 100, 10], mechanisms=["calcium", "membrane"], n_sites=[1, 5],
             epochs=6, batch_size=20, lr=5e-3, c=0.05, fisher_examples=500)
#: ``--paper``: full MNIST (add --data-dir), every mechanism, n = 1, 5, 20, 10 epochs of minibatches of 100
#: (about 15 minutes of one core); c = 0.1, so that the cost per example, c/N, is a sixth of the quick preset's.
PAPER = dict(dataset="mnist", sizes=[784, 100, 100, 10], mechanisms=list(MECHANISMS), n_sites=[1, 5, 20],
             epochs=10, batch_size=100, lr=3e-3, c=0.1, fisher_examples=2000)
#: the run with this many sites (or the nearest) gives the signature figure
SIGNATURE_N = 5


def fisher_of_means(net, x, y):
    """Per layer, the empirical Fisher information of the mean weights ``M = n p q`` (§B4), host
    arrays of the weight shape: that of ``params[0]`` over ``(dM/d params[0])^2``."""
    be = net.be
    fisher = empirical_fisher(net, x, y, mode="mean")
    return [be.to_numpy(F / (layer.mean_slope() ** 2)) for F, layer in zip(fisher, net.synaptic)]


def signatures(net, fisher):
    """Per layer: Spearman of sigma and of p with the Fisher information (bias column and
    synapses with ``F = 0`` left out), their count, and sigma, p and F of those synapses."""
    be, out = net.be, []
    for layer, F in zip(net.synaptic, fisher):
        n_in = layer.n_in
        sigma, p = be.to_numpy(layer.sigma())[..., :n_in], be.to_numpy(layer.p)[..., :n_in]
        F = F[..., :n_in]
        ok = F > 0
        row = {"n": int(ok.sum()), "p_median": float(np.median(p)), "sigma_median": float(np.median(sigma))}
        for name, v in (("sigma", sigma), ("p", p)):
            enough = ok.sum() > 2 and np.ptp(v[ok]) > 0 and np.ptp(F[ok]) > 0
            row[f"spearman_{name}"] = spearman(v[ok], F[ok])[0] if enough else float("nan")
        out.append((row, {"fisher": F[ok], "sigma": sigma[ok], "p": p[ok]}))
    return out


def train_one(data, *, mechanism, n, c, lam=1e-4, sizes=(784, 100, 100, 10), scheme="local",
              coordinates="mean", p_init=0.5, epochs=6, batch_size=20, lr=5e-3, seed=0, fisher_examples=1000,
              backend=None, progress=False):
    """Train one quantal network and measure it; returns ``(record, arrays)`` (host values)."""
    be = get_backend(backend)
    x, y, xt, yt = data.arrays()
    net = MLP(sizes, "quantal", be, seed=seed, p_init=p_init, n_sites=n, quantal_scheme=scheme,
              quantal_coordinates=coordinates)
    costs = [quantal_cost(mechanism, c)] + ([L1Cost(lam)] if lam else [])
    t0 = time.perf_counter()
    history = train(net, Adam(net.params(), lr, be), x, y, epochs=epochs, batch_size=batch_size, costs=costs,
                    seed=seed, progress=progress)
    seconds = time.perf_counter() - t0
    k = min(int(fisher_examples), x.shape[0])
    sig = signatures(net, fisher_of_means(net, x[:k], y[:k]))
    info = net.describe()
    record = {"mechanism": mechanism, "n": n, "c": c, "test_accuracy": evaluate(net, xt, yt),
              "energy": info["mechanism_energy"][mechanism], "abs_mean_energy": info["energy"],
              "mechanism_energy": info["mechanism_energy"], "sigma_bar": info["sigma_bar"],
              "mean_release_probability": info["mean_release_probability"],
              "layers": [row for row, _ in sig], "seconds": seconds,
              "final_loss": history["loss"][-1], "final_ce": history["ce"][-1]}
    arrays = {f"layer{j + 1}.{k}": v.astype(np.float32) for j, (_, a) in enumerate(sig) for k, v in a.items()}
    return record, arrays


def run_quantal(out, *, mechanisms=QUICK["mechanisms"], n_sites=QUICK["n_sites"], c=QUICK["c"], lam=1e-4,
                sizes=QUICK["sizes"], scheme="local", coordinates="mean", p_init=0.5, epochs=QUICK["epochs"],
                batch_size=QUICK["batch_size"], lr=QUICK["lr"], fisher_examples=QUICK["fisher_examples"], seed=0,
                dataset="embedded", data_dir=None, download=True, train_limit=None, backend=None, force=False,
                progress=True, plot=True, log=print):
    """Train the grid ``mechanisms x n_sites`` (resuming what ``out`` holds) and write the tables and
    figures. ``c`` is one weight for every mechanism or a dict by mechanism. Returns a dict with
    ``'records'`` (one per network, in grid order), ``'arrays'`` and ``'paths'``."""
    be, out = get_backend(backend), Path(out)
    for m in mechanisms:
        if m not in QUANTAL_COSTS:
            raise kit.CLIError(f"--mechanisms: unknown mechanism {m!r} (choose from {', '.join(MECHANISMS)})")
    data = kit.prepare_data(dataset, data_dir=data_dir, download=download, train_limit=train_limit, seed=seed,
                            backend=be)
    store = kit.RunStore(out, force)
    common = dict(sizes=list(sizes), scheme=scheme, coordinates=coordinates, p_init=p_init, epochs=epochs,
                  batch_size=batch_size, lr=lr, lam=lam, seed=seed, fisher_examples=fisher_examples)
    records, arrays = [], {}
    for mechanism in mechanisms:
        for n in n_sites:
            weight = c[mechanism] if isinstance(c, dict) else c
            key = f"{mechanism}-n{n}"
            settings = dict(common, mechanism=mechanism, n=n, c=weight, dataset=dataset, train_limit=train_limit,
                            backend=be.name, dtype=be.dtype.name)
            saved = store.load(key, settings, arrays=True)
            if saved is None:
                log(f"quantal: training {key} (c={weight:g}) on {data.n_train} examples, {epochs} epochs")
                rec, arr = train_one(data, mechanism=mechanism, n=n, c=weight, backend=be, progress=progress,
                                     **common)
                saved = (store.save(key, rec, settings, arrays=arr), arr)
            records.append(saved[0])
            arrays[key] = saved[1]
    paths = [out / "quantal.csv", out / "quantal.json"]
    write_csv(paths[0], records)
    save_json(paths[1], {"model": "MODEL.md Part C, §A1, §A2, §A6, §B4", "settings": dict(common, dataset=dataset),
                         "fisher_of": "mean weights M = n p q; single-example gradients of log p(y|x), mean weights",
                         "records": records})
    if plot:
        paths += plot_signatures(records, arrays, out) + plot_energy(records, out)
    return {"records": records, "arrays": arrays, "paths": paths}


def write_csv(path, records):
    layers = len(records[0]["layers"]) if records else 0
    header = ["mechanism", "n", "c", "acc_sampled", "acc_mean", "acc_predictive", "energy", "abs_mean_energy",
              "sigma_bar", "seconds"] + [f"layer{j + 1}_{k}" for j in range(layers)
                                         for k in ("spearman_sigma_fisher", "spearman_p_fisher", "p_median")]
    rows = [[r["mechanism"], r["n"], r["c"], *(r["test_accuracy"][k] for k in ("sampled", "mean", "predictive")),
             r["energy"], r["abs_mean_energy"], r["sigma_bar"], r["seconds"]]
            + [v for row in r["layers"] for v in (row["spearman_sigma"], row["spearman_p"], row["p_median"])]
            for r in records]
    save_csv(path, header, rows)


def plot_signatures(records, arrays, out, max_points=1500, seed=0):
    """sigma against the Fisher information (log-log), coloured by p: one row per mechanism (at the n
    nearest :data:`SIGNATURE_N`), one column per layer."""
    plt = pyplot()
    mechanisms = list(dict.fromkeys(r["mechanism"] for r in records))
    chosen = [min((r for r in records if r["mechanism"] == m), key=lambda r: abs(r["n"] - SIGNATURE_N))
              for m in mechanisms]
    nl = len(chosen[0]["layers"])
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(chosen), nl, figsize=(3.4 * nl + 0.6, 2.7 * len(chosen)), squeeze=False,
                             constrained_layout=True)
    for i, rec in enumerate(chosen):
        arr = arrays[f"{rec['mechanism']}-n{rec['n']}"]
        for j in range(nl):
            ax, row = axes[i, j], rec["layers"][j]
            F, s, p = (arr[f"layer{j + 1}.{k}"] for k in ("fisher", "sigma", "p"))
            keep = np.flatnonzero(s > 0)
            keep = rng.choice(keep, max_points, replace=False) if keep.size > max_points else keep
            sc = ax.scatter(F[keep], s[keep], c=p[keep], s=3, cmap="viridis", vmin=0, vmax=1, lw=0, rasterized=True)
            if keep.size:
                ax.set_xscale("log")
                ax.set_yscale("log")
                no_minor_labels(ax)
            ax.set_title(f"{rec['mechanism']}, n={rec['n']}, layer {j + 1}\n"
                         f"S(σ,F) {row['spearman_sigma']:+.2f}   S(p,F) {row['spearman_p']:+.2f}", fontsize=8)
            ax.set_xlabel("Fisher information of the mean weight", fontsize=7)
            if j == 0:
                ax.set_ylabel(r"$\sigma = \sqrt{np(1-p)}\,|q|$", fontsize=8)
    fig.colorbar(sc, ax=axes, label="release probability p", shrink=0.6)
    return save_figure(fig, out, "quantal_signatures", dpi=110)


def plot_energy(records, out):
    """Test accuracy (sampled weights) against the mechanism's energy, one line per mechanism through its n."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    for m in dict.fromkeys(r["mechanism"] for r in records):
        rs = sorted((r for r in records if r["mechanism"] == m), key=lambda r: r["n"])
        acc = [r["test_accuracy"]["sampled"] for r in rs]
        for ax, key in zip(axes, ("energy", "abs_mean_energy")):
            e = [r[key] for r in rs]
            ax.plot(e, acc, "o-", label=m)
            for r, ei, ai in zip(rs, e, acc):
                ax.annotate(f"n={r['n']}", (ei, ai), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes[0].set_xlabel(r"mechanism's energy $\sum_i E(n, p_i, q_i)$")
    axes[1].set_xlabel(r"$\sum_i |M_i|$ (Paper B's energy)")
    for ax in axes:
        ax.set_xscale("log")
        no_minor_labels(ax)
        ax.set_ylabel("test accuracy (sampled weights)")
        ax.legend(fontsize=8)
    return save_figure(fig, out, "quantal_energy", dpi=110)


def print_table(records, file=None):
    nl = len(records[0]["layers"]) if records else 0
    head = " ".join(f"{'L' + str(j + 1) + ' S(σ,F)':>10s} {'S(p,F)':>7s}" for j in range(nl))
    print(f"{'mechanism':<12s} {'n':>3s} {'acc':>6s} {'energy':>10s} {'sum|M|':>8s} {head}", file=file)
    for r in records:
        cells = " ".join(f"{row['spearman_sigma']:+10.2f} {row['spearman_p']:+7.2f}" for row in r["layers"])
        print(f"{r['mechanism']:<12s} {r['n']:>3d} {r['test_accuracy']['sampled']:6.4f} {r['energy']:10.4g} "
              f"{r['abs_mean_energy']:8.4g} {cells}", file=file)


# -- the command line -------------------------------------------------------------------------
def register(sub):
    p = sub.add_parser(
        "quantal", formatter_class=kit.Formatter,
        help="quantal synapses (n, p, q): both papers' signatures from one model",
        description=__doc__.split("\n\n", 1)[1].split("\n\nEvery network")[0] + "\n\n"
        f"Without options (quick, about a minute of one core): {', '.join(QUICK['mechanisms'])} with n = "
        f"{', '.join(map(str, QUICK['n_sites']))} on the embedded digits, {QUICK['epochs']} epochs. --paper: "
        f"every mechanism, n = {', '.join(map(str, PAPER['n_sites']))}, {PAPER['epochs']} epochs on full MNIST.",
        epilog="examples:\n"
               "  minisyn quantal                                   # quick: embedded digits\n"
               "  minisyn quantal --paper --data-dir DIR             # every mechanism on MNIST\n"
               "  minisyn quantal --mechanisms calcium --n-sites 1,2,5,10,20\n")
    g = p.add_argument_group("networks and costs")
    g.add_argument("--mechanisms", type=kit.names, default=None,
                   help=f"comma-separated mechanisms of §A2 (default: {','.join(QUICK['mechanisms'])}; every "
                        f"one with --paper: {','.join(MECHANISMS)})")
    g.add_argument("--n-sites", type=kit.ints, default=None,
                   help=f"release sites per synapse, comma separated (default: {QUICK['n_sites']})")
    g.add_argument("--c", type=float, default=None, help=f"weight of each mechanism's energy (default: {QUICK['c']:g}; "
                                                          f"{PAPER['c']:g} with --paper)")
    g.add_argument("--lambda", dest="lam", type=float, default=1e-4, help="L1 cost on the mean weights")
    g.add_argument("--sizes", type=kit.sizes, default=None, help="layer widths (default: 784,100,100,10)")
    g.add_argument("--scheme", choices=QuantalLinear.SCHEMES, default="local", help="sampling scheme")
    g.add_argument("--coordinates", choices=QuantalLinear.COORDINATES, default="mean",
                   help="learn the expected strength m (q compensates as p moves, §A2) or the quantal size q")
    g.add_argument("--p-init", type=float, default=0.5, help="initial release probability")
    g = p.add_argument_group("training and analysis")
    g.add_argument("--paper", action="store_true", help="the full settings (MNIST, every mechanism, longer)")
    g.add_argument("--epochs", type=int, default=None,
                   help=f"default: {QUICK['epochs']} ({PAPER['epochs']} with --paper)")
    g.add_argument("--batch-size", type=int, default=None,
                   help=f"default: {QUICK['batch_size']} ({PAPER['batch_size']} with --paper)")
    g.add_argument("--lr", type=float, default=None, help=f"Adam's learning rate (default: {QUICK['lr']:g}; "
                                                           f"{PAPER['lr']:g} with --paper)")
    g.add_argument("--fisher-examples", type=int, default=None,
                   help=f"training examples of the Fisher estimate (default: {QUICK['fisher_examples']})")
    kit.add_data_options(p)
    kit.add_run_options(p, default_out="runs/quantal", resumable=True)
    p.set_defaults(func=run_cli, dataset=None)


def run_cli(args):
    kit.apply_preset(args, {k: v for k, v in QUICK.items() if k != "sizes"},
                     {k: v for k, v in PAPER.items() if k != "sizes"}, use_paper=args.paper)
    args.sizes = args.sizes or QUICK["sizes"]
    for name in ("epochs", "batch_size", "fisher_examples"):
        kit.at_least(f"--{name.replace('_', '-')}", getattr(args, name))
    if min(args.n_sites) < 1:
        raise kit.CLIError(f"--n-sites must be >= 1, got {args.n_sites}")
    if not 0 < args.p_init < 1:
        raise kit.CLIError(f"--p-init must lie in (0, 1), got {args.p_init}")
    if args.c < 0 or args.lam < 0:
        raise kit.CLIError("--c and --lambda must be >= 0")
    backend = kit.backend_from_args(args)
    out = kit.out_dir(args)
    res = run_quantal(out, mechanisms=args.mechanisms, n_sites=args.n_sites, c=args.c, lam=args.lam,
                      sizes=args.sizes, scheme=args.scheme, coordinates=args.coordinates, p_init=args.p_init,
                      epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      fisher_examples=args.fisher_examples, seed=args.seed, dataset=args.dataset,
                      data_dir=args.data_dir, download=not args.no_download, train_limit=args.train_limit,
                      backend=backend, force=args.force, progress=not args.no_progress,
                      log=lambda m: print(m, file=sys.stderr))
    print("Spearman correlation with the Fisher information of the mean weight, per layer "
          "(Paper A: S(σ,F) < 0; Paper B: S(p,F) > 0):")
    print_table(res["records"])
    print(f"results in {out}/ (quantal.csv, quantal.json, quantal_signatures.png, quantal_energy.png)")
    return 0
