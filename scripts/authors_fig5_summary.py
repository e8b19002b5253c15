#!/usr/bin/env python3
"""minisyn's Fig. 5 summary statistics computed on the authors' own Fig. 5 data.

Data: JamesMalkin/EfficientBayes ``data-fig5/`` (byte-identical to ``fig3multi/``
of commit 34168a3, 2023-05-06), extracted with
``git --git-dir=MIRROR show a2997b9:data-fig5/NAME > data-fig5/NAME``.

For each rho of the data (0.5, 2/3, 4/3, 2) and each layer (1: 784->100,
2: 100->100, 3: 100->10) this builds the per-synapse arrays of
``minisyn.experiments.importance.accumulate_importance`` from the authors'
arrays and passes them, unchanged, to minisyn's own ``spearman_table`` and
``loglog_slopes`` (imported read-only), so that the kept synapses (``_kept``),
the Spearman convention (``spearmanr(v, sigma)``) and the least-squares fits
(``np.polyfit`` of log sigma on log Fisher, all kept synapses and those at or
above the median of log Fisher) are exactly minisyn's.

Mapping (evidence in authors_fig5.md, which this script writes):
  var_list_{3p+i}     sigma^2 = softplus(weight_phi)^2 of layer i+1  -> sigma = sqrt
  hessian_list_{3p+i} sum over accumulation minibatches of g^2 / const -> "fisher"
  lr_list_{3p+i}      sum of |g| / const; plotter: 0.0001*(1/lr_list) -> "proxy_lr"
  x_{3p}              (784,) sum|pixel| (standardised); plotter /(20*20)
  x_{3p+1}, x_{3p+2}  (20,100) per-batch-position sums of layer-1 output /
                      ReLU(layer-2) output; plotter .mean(axis=0)      -> "input_rate"
  p = index into powers [0.5, 2/3, 4/3, 2].
Adam's own per-synapse learning rate ("adam_lr") is not in the data: NaN, n = 0.

Usage: python3 scripts/authors_fig5_summary.py --data DIR [--out DIR] [--mirror GITDIR] [--all-slopes]
(it wrote minisyn/data/authors_fig5_summary.csv and authors_fig5.md; minisyn must be importable)
"""
from __future__ import annotations

import argparse
import csv
import subprocess
from pathlib import Path

import numpy as np

POWERS = [0.5, 2 / 3, 4 / 3, 2.0]       # sims-fig5.py / figure5.py line 172; plotter-fig5.py line 17
RHO_LABEL = ["1/2", "2/3", "4/3", "2"]
LAYER_NAME = {1: "784->100 (into hidden 1)", 2: "100->100 (into hidden 2)", 3: "100->10 (into output)"}
ETA = 0.0001                             # plotter-fig5.py@a2997b9 line 67: 0.0001*(1/(lr_list...))

# Quoted evidence: (commit, path, line, exact text of the line, stripped). Checked against the
# mirror with --mirror when it is there.
EVIDENCE = [
    ("a2997b9", "plotter-fig5.py", 17, "powers = np.array([0.5, 2/3, 4/3, 2])"),
    ("a2997b9", "plotter-fig5.py", 22, "for i in range(4):"),
    ("a2997b9", "plotter-fig5.py", 23, "for j in range(3):"),
    ("a2997b9", "plotter-fig5.py", 24, "var_list.append(np.load('data-fig5/var_list_{}.npy'.format(3*i+j)))"),
    ("a2997b9", "plotter-fig5.py", 33,
     "axs[n][m].scatter(hessian_list[m*3], (var_list[m*3].flatten()), color=color(m*0.25), s=0.08, alpha=0.8)"),
    ("a2997b9", "plotter-fig5.py", 34, "axs[n][0].set_ylabel('$\\sigma^{2}$', fontsize=6)"),
    ("a2997b9", "plotter-fig5.py", 56, "axs[n][m].set_xlabel('Hessian', fontsize=6)"),
    ("a2997b9", "plotter-fig5.py", 67,
     "axs[n][m].scatter(0.0001*(1/(lr_list[m*3]).flatten()), ((var_list[m*3].flatten())), color=color(m*0.25), "
     "s=0.08, alpha=0.8)"),
    ("a2997b9", "plotter-fig5.py", 90, "axs[n][m].set_xlabel('Learning Rate', fontsize=6)"),
    ("a2997b9", "plotter-fig5.py", 101,
     "axs[n][m].scatter(np.array(100*((x[m*3]/(20*20)).flatten().tolist())), var_list[m*3].flatten(), "
     "color=color(m*0.25), s=0.08, alpha=0.8)"),
    ("a2997b9", "plotter-fig5.py", 112,
     "axs[n][m].scatter(np.array(100*((x[m*3+1]).mean(axis=0).flatten().tolist())), var_list[m*3+1].flatten(), "
     "color=color(m*0.25), s=0.08, alpha=0.8)"),
    ("a2997b9", "plotter-fig5.py", 124,
     "axs[n][m].scatter(np.array(10*((x[m*3+2]).mean(axis=0).flatten().tolist())), var_list[m*3+2].flatten(), "
     "color=color(m*0.25), s=0.08, alpha=0.8)"),
    ("a2997b9", "plotter-fig5.py", 125, "axs[n][m].set_xlabel('Input Rate |x|', fontsize=6)"),
    # the generating script at data time
    ("9f8e7a1", "figure5.py", 16,
     "transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])"),
    ("9f8e7a1", "figure5.py", 54, "weight_sig = F.softplus(self.weight_phi)"),
    ("9f8e7a1", "figure5.py", 62, "net.rel_loss += net.rel_cost_func(weight_sig)"),
    ("9f8e7a1", "figure5.py", 68, "weight = weight_dist.rsample()"),
    ("9f8e7a1", "figure5.py", 79, "self.linear1 = NetLayer(28*28, 10)"),
    ("9f8e7a1", "figure5.py", 80, "self.linear2 = NetLayer(100, 100)"),
    ("9f8e7a1", "figure5.py", 81, "self.linear3 = NetLayer(100, 10)"),
    ("9f8e7a1", "figure5.py", 84,
     "return (BATCHSIZE/TRAINING_INSTANCES)*torch.sum((1/self.p) * (self.s/sig)**self.p)"),
    ("9f8e7a1", "figure5.py", 94, "x = self.linear1(x, sample)"),
    ("9f8e7a1", "figure5.py", 95, "if epoch in np.arange(1000, 1100, 1):"),
    ("9f8e7a1", "figure5.py", 99, "self.firingrate[0] += x.detach().clone()"),
    ("9f8e7a1", "figure5.py", 100, "x = F.relu(self.linear2(x, sample))"),
    ("9f8e7a1", "figure5.py", 105, "self.firingrate[1] += x.detach().clone()"),
    ("9f8e7a1", "figure5.py", 113, "loss = criterion(pred_values, true_values)*BATCHSIZE"),
    ("9f8e7a1", "figure5.py", 125, "sample = False"),
    ("9f8e7a1", "figure5.py", 139, "preds = net(data, sample=sample)"),
    ("9f8e7a1", "figure5.py", 142, "loss = loglike + net.rel_loss + net.reg_loss"),
    ("9f8e7a1", "figure5.py", 148, "if len(hessian) <= LAYERS:"),
    ("9f8e7a1", "figure5.py", 149, "hessian.append((g.detach().clone()**2))"),
    ("9f8e7a1", "figure5.py", 150, "lr.append(torch.abs(g.detach().clone()))"),
    ("9f8e7a1", "figure5.py", 157, "elif name=='linear3.weight_mu':"),
    ("9f8e7a1", "figure5.py", 158, "hessian[1] += (g.detach().clone()**2)"),
    ("9f8e7a1", "figure5.py", 161, "if epoch not in np.arange(1000, 1100, 1):"),
    ("9f8e7a1", "figure5.py", 172, "powers = [0.5, 2/3, 4/3, 2]"),
    ("9f8e7a1", "figure5.py", 175, "s = 0.01"),
    ("9f8e7a1", "figure5.py", 177, "optimiser = optim.Adam(net.parameters(), lr=0.0001)"),
    ("9f8e7a1", "figure5.py", 182, "var_list.append(torch.pow(F.softplus(mod.weight_phi.detach().clone()),2))"),
    ("9f8e7a1", "figure5.py", 185, "hess = hessian[0]/(3000*20*20)"),
    ("9f8e7a1", "figure5.py", 193, "learn_rate = lr[0]/(3000*20*20)"),
    ("9f8e7a1", "figure5.py", 202, "firingrate_list.append(net.firingrate[0]/(60000*20))"),
    ("9f8e7a1", "figure5.py", 207, "np.save('hessian_list_{}'.format(3*p+i), (hessian_list[3*p+i]).cpu().numpy())"),
    ("9f8e7a1", "figure5.py", 213, "np.save('x_{}'.format(3*p+i+1), (firingrate_list[2*p+i]).cpu().numpy())"),
    ("9f8e7a1", "figure5.py", 220, "x += torch.abs(data).sum(dim=[0])"),
    ("9f8e7a1", "figure5.py", 224, "np.save('x_{}'.format(3*p), ((x)/60000).cpu().numpy())"),
    # HEAD
    ("884c073", "sims-fig5.py", 81, "self.linear1 = NetLayer(28*28, 100)"),
    ("884c073", "sims-fig5.py", 125, "for epoch in range(60):"),
    ("884c073", "sims-fig5.py", 175, "s = 0.001"),
    ("884c073", "sims-fig5.py", 185, "hess = hessian[0]/(60000*10)"),
    ("884c073", "sims-fig5.py", 193, "learn_rate = lr[0]/(60000*10)"),
    ("884c073", "sims-fig5.py", 202, "firingrate_list.append(net.firingrate[0]/(60000*10))"),
]


def check_evidence(mirror):
    """Check every quoted line against the mirror; returns (checked, failures) or None without a mirror."""
    if not mirror or not Path(mirror).exists():
        return None
    cache, bad = {}, []
    for commit, path, line, text in EVIDENCE:
        key = (commit, path)
        if key not in cache:
            cache[key] = subprocess.run(["git", "--git-dir", str(mirror), "show", f"{commit}:{path}"],
                                        capture_output=True, text=True, check=True).stdout.splitlines()
        got = cache[key][line - 1].strip() if line <= len(cache[key]) else None
        if got != text:
            bad.append((commit, path, line, text, got))
    return len(EVIDENCE), bad


def load(data, k, name):
    return np.load(Path(data) / f"{name}_{k}.npy")


def layer_stats(data, p, i):
    """minisyn's per-layer dict (accumulate_importance's keys) from the authors' arrays for rho index p,
    layer i (0-based)."""
    k = 3 * p + i
    var = load(data, k, "var_list")                       # (n_out, n_in) sigma^2
    fisher = load(data, k, "hessian_list")                # (n_out, n_in)
    absg = load(data, k, "lr_list")                       # (n_out, n_in) sum|g| / const
    x = load(data, k, "x")
    if i == 0:
        rate = x / (20 * 20)                              # plotter line 101: (784,) -> mean|pixel| (standardised)
    else:
        rate = x.mean(axis=0)                             # plotter lines 112, 124: (20, 100) -> (100,)
    assert rate.shape == (var.shape[1],), (rate.shape, var.shape)
    with np.errstate(divide="ignore"):
        proxy = ETA * (1 / absg)                          # plotter line 67
    return {
        "sigma": np.sqrt(var), "fisher": fisher, "mean_abs_grad": absg,
        "adam_lr": np.full(var.shape, np.nan),            # not in the data
        "proxy_lr": proxy,
        # minisyn: rate[..., None, :] broadcast to (n_out, n_in); the plotter's list repetition
        # ``100*(rate.tolist())`` against var.flatten() pairs synapse (o, j) with rate[j] the same way.
        "input_rate": np.broadcast_to(rate[None, :], var.shape).copy(),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data-fig5", help="folder of the extracted data-fig5/*.npy files")
    ap.add_argument("--out", default=".", help="where to write authors_fig5_summary.csv and authors_fig5.md")
    ap.add_argument("--mirror", default=None,
                    help="git dir of an EfficientBayes clone, to check the quoted lines (skipped without it)")
    ap.add_argument("--all-slopes", action="store_true",
                    help="also fit log sigma on log proxy_lr and log input_rate (minisyn reports only Fisher)")
    a = ap.parse_args(argv)

    from minisyn.experiments.importance import QUANTITIES, loglog_slopes, spearman_table
    from minisyn.theory import predicted_slopes

    rows, per_rho = [], []
    for p, rho in enumerate(POWERS):
        stats = [layer_stats(a.data, p, i) for i in range(3)]
        table = spearman_table(stats)
        slopes = {q: loglog_slopes(stats, rho, quantity=q)
                  for q in (["fisher", "proxy_lr", "input_rate"] if a.all_slopes else ["fisher"])}
        per_rho.append((rho, stats, table, slopes))
        for j in range(3):
            for q in QUANTITIES:
                s = slopes.get(q)
                rows.append({
                    "rho": f"{rho:.6g}", "layer": j + 1, "quantity": q,
                    "spearman": table[j][q]["rho"],
                    "slope_all": s[j]["fitted"] if s else float("nan"),
                    "slope_upper_half": s[j]["fitted_upper_half"] if s else float("nan"),
                    "n_synapses": table[j][q]["n"],
                })

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["rho", "layer", "quantity", "spearman", "slope_all", "slope_upper_half", "n_synapses"]
    with open(out / "authors_fig5_summary.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})

    def fmt(v, f="+.3f"):
        return "n/a" if not np.isfinite(v) else format(v, f)

    # the printed / markdown table
    head = ("| rho | layer | Spearman: Fisher | proxy lr 1e-4/mean\\|g\\| | input rate | Adam lr "
            "| slope log sigma ~ log Fisher: all / upper half | -1/(2+rho) | n |")
    lines = [head, "|" + "---|" * 9]
    for rho, stats, table, slopes in per_rho:
        for j in range(3):
            f = slopes["fisher"][j]
            lines.append(f"| {RHO_LABEL[POWERS.index(rho)]} | {j + 1} | {fmt(table[j]['fisher']['rho'])} "
                         f"| {fmt(table[j]['proxy_lr']['rho'])} | {fmt(table[j]['input_rate']['rho'])} "
                         f"| n/a (not saved) | {fmt(f['fitted'])} / {fmt(f['fitted_upper_half'])} "
                         f"| {predicted_slopes(rho)[1]:+.3f} | {f['n']} |")
    table_md = "\n".join(lines)
    print(table_md)
    extra_md = ""
    if a.all_slopes:
        el = ["| rho | layer | slope on log proxy lr: all / upper half | slope on log input rate: all / upper half |",
              "|---|---|---|---|"]
        for rho, stats, table, slopes in per_rho:
            for j in range(3):
                pl, ir = slopes["proxy_lr"][j], slopes["input_rate"][j]
                el.append(f"| {RHO_LABEL[POWERS.index(rho)]} | {j + 1} | {fmt(pl['fitted'])} / "
                          f"{fmt(pl['fitted_upper_half'])} | {fmt(ir['fitted'])} / {fmt(ir['fitted_upper_half'])} |")
        extra_md = ("\n\nWith `--all-slopes` (not a minisyn output; the same `loglog_slopes` with "
                    "`quantity=`):\n\n" + "\n".join(el))
        print(extra_md)

    # sanity numbers quoted in the notes
    x0 = load(a.data, 0, "x") / 400
    same_x0 = all(np.array_equal(load(a.data, 0, "x"), load(a.data, 3 * p, "x")) for p in range(4))
    neg = {k: int((load(a.data, k, "x") <= 0).sum()) for k in range(12) if k % 3}
    ev = check_evidence(a.mirror)
    if ev is None:
        ev_line = "not checked (mirror not found)"
    else:
        n, bad = ev
        ev_line = f"{n - len(bad)} of {n} quoted lines match the mirror exactly" + (
            "" if not bad else "; mismatches: " + "; ".join(f"{c}:{p}:{l} got {g!r}" for c, p, l, t, g in bad))
    print("evidence:", ev_line)

    md = NOTES.format(table=table_md, extra=extra_md, evidence=ev_line, x0min=x0.min(), x0max=x0.max(),
                      same_x0=same_x0, neg=sum(neg.values()),
                      evidence_list="\n".join(f"- `{c}:{p}:{l}` `{t}`" for c, p, l, t in EVIDENCE))
    (out / "authors_fig5.md").write_text(md)
    print(f"wrote {out / 'authors_fig5_summary.csv'} and {out / 'authors_fig5.md'}")


NOTES = """# minisyn's Fig. 5 statistics on the authors' own Fig. 5 data

Written by `scripts/authors_fig5_summary.py`; minisyn ships this file and the CSV in `minisyn/data/`. Data: JamesMalkin/EfficientBayes
`data-fig5/` as of a2997b9 (added in 8309133, 2023-05-08; every blob identical
to `fig3multi/` of 34168a3, 2023-05-06), extracted with `git show a2997b9:data-fig5/NAME`.
Statistics: minisyn's own `spearman_table` and `loglog_slopes`
(`minisyn/experiments/importance.py`, imported read-only) on arrays built to
match `accumulate_importance`'s keys. Layers: 1 = 784->100 (into hidden 1),
2 = 100->100 (into hidden 2, the layer the paper shows), 3 = 100->10.

{table}{extra}

- Spearman is `spearmanr(quantity, sigma)` over the synapses `_kept` keeps
  (quantity and sigma finite and > 0, input rate > 0). With standardised
  pixels no input is ever silent (layer-1 rate `x_0/400` spans
  {x0min:.4f}-{x0max:.4f}), and every array in the data is finite and positive,
  so **all** synapses are kept: n = 78,400 / 10,000 / 1,000. (minisyn on
  [0, 1] pixels drops the never-active pixels; here there are none to drop.)
- sigma = sqrt(var_list). Spearman is the same for sigma or sigma^2; the
  slopes are of log sigma (minisyn's), i.e. half the slope of log sigma^2 on
  the plotter's axes.
- Slopes: `np.polyfit(log Fisher, log sigma, 1)` over all kept synapses, and
  over those with log Fisher >= its median ("upper half"). -1/(2+rho) is the
  linear model's (`minisyn.theory.predicted_slopes`). A constant factor in the
  Fisher estimate (the authors' normalisation) moves the intercept only.
- Adam's own per-synapse learning rate (`adam_lr`) is not in the data: NaN, n = 0.

## Which array is which

| file | meaning | evidence |
|---|---|---|
| index `3p+i` | p = rho index into `[0.5, 2/3, 4/3, 2]`, i = layer 0, 1, 2 | figure5.py@9f8e7a1:172 `powers = [0.5, 2/3, 4/3, 2]`, :174 `for p in powers:` (one net per rho, in that order), :180-182 `for mod in net.modules()` appends linear1, linear2, linear3 (declared in that order, :79-81), :205-209 `np.save('..._{{}}'.format(3*p+i), ...)`; plotter-fig5.py@a2997b9:17 `powers = np.array([0.5, 2/3, 4/3, 2])`, :22-24 `for i in range(4): for j in range(3): ... format(3*i+j)`, and :33/:44/:55 plot column m (rho m) rows 0/1/2 (layers 1/2/3) from `[m*3]`, `[m*3+1]`, `[m*3+2]`. Shapes agree: `_0` (100, 784), `_1` (100, 100), `_2` (10, 100). |
| `var_list` | sigma^2 = softplus(weight_phi)^2 of the weights (no biases) | figure5.py@9f8e7a1:182 `var_list.append(torch.pow(F.softplus(mod.weight_phi.detach().clone()),2))`, :54 `weight_sig = F.softplus(self.weight_phi)`; plotter:34 y label `'$\\sigma^{{2}}$'`. So **sigma = sqrt(var_list)**, not phi. |
| `hessian_list` | sum over the accumulation minibatches of g^2, g = d(batch loss)/d weight_mu, divided by a constant | figure5.py@9f8e7a1:149/152 `(g.detach().clone()**2)`, :185 `hess = hessian[0]/(3000*20*20)` (HEAD 884c073:185 `/(60000*10)`); plotter:56 x label `'Hessian'`, plotted raw. g is of `loss = loglike + net.rel_loss + net.reg_loss` (:142) with `loglike` = NLL mean x BATCHSIZE (:113, a batch sum) at sampled weights (:68 `rsample()` always); the reliability cost depends on phi only, so g w.r.t. mu is the NLL + L1 gradient whether or not `sample = False` (:125) drops it. The network is frozen (:161-162 no `optimiser.step()` in the accumulation epochs): minisyn's `--authors` (`frozen=True`). |
| `lr_list` | sum of \\|g\\| over the accumulation minibatches / the same constant | figure5.py@9f8e7a1:150/153 `torch.abs(g...)`, :193 `learn_rate = lr[0]/(3000*20*20)`. The plotter's learning rate is **plotter-fig5.py@a2997b9:67 `0.0001*(1/(lr_list[m*3]).flatten())`** (x label :90 `'Learning Rate'`) = eta / mean\\|g\\| up to a constant: minisyn's `proxy_lr` (`eta / mean_abs_grad`). |
| `x_{{3p}}` (784,) | layer-1 input rate: sum of \\|standardised pixel\\| | figure5.py@9f8e7a1:16 `Normalize((0.1307,), (0.3081,))`, :220 `x += torch.abs(data).sum(dim=[0])`, :224 `/60000`; plotter:101 `100*((x[m*3]/(20*20)).flatten().tolist())`. The stored values are 400x a mean (x_0/400 has minimum {x0min:.6f}, the background \\|(0-0.1307)/0.3081\\| = 0.424213), so the saved array is not what :224 writes (see below); the plotter's /400 gives mean\\|x\\|. Identical across the four rho: {same_x0}. |
| `x_{{3p+1}}`, `x_{{3p+2}}` (20, 100) | inputs of layers 2 and 3: per-batch-position sums of the layer-1 output and of ReLU(layer-2 output) over the accumulation epochs, / a constant | figure5.py@9f8e7a1:94-99 `x = self.linear1(x, sample)` then `self.firingrate[0] += x.detach().clone()` (no ReLU after layer 1), :100-105 `x = F.relu(self.linear2(x, sample))` then `self.firingrate[1] += ...`, :202 `/(60000*20)`, :213 `np.save('x_{{}}'.format(3*p+i+1), ...)`; plotter:112 `100*((x[m*3+1]).mean(axis=0).flatten().tolist())`, :124 `10*((x[m*3+2]).mean(axis=0)...)`, x label :125 `'Input Rate |x|'`. |

The plotter's `100*(list)` / `10*(list)` is Python list repetition, not
scaling: it tiles the per-input rate n_out times so that element
`o*n_in + j` of `var_list.flatten()` (row-major (n_out, n_in)) meets rate[j],
the presynaptic unit of synapse (o, j) — the same pairing as minisyn's
`rate[..., None, :]` broadcast. The scale factors (the /(3000*20*20),
/(60000*20), /400, the 0.0001 and the batch-sum gradient) are constants per
array and change neither a Spearman correlation nor a log-log slope.

## What cannot be matched exactly

1. **Adam's per-synapse learning rate** (minisyn `adam_lr`, eta/(sqrt(v_hat)+eps))
   was never saved; only the proxy eta/mean|g| can be compared.
2. **Input rate of layer 2 is a signed mean, per the code.** minisyn's input
   rate is mean |x_j|. The authors accumulate `x` itself (figure5.py@9f8e7a1:99),
   and layer 1 has no ReLU (:94, :100), so for layer 2 the code gives mean x_j,
   not mean |x_j|, and the |x| cannot be recovered from the sums. Yet every
   entry of x_1, x_4, x_7, x_10 is positive ({neg} entries <= 0 in all eight
   (20, 100) arrays), which a signed mean of un-rectified outputs would hardly
   give for all 100 units x 20 positions x 4 nets: the code that ran may have had
   a ReLU (or abs) there. Either way the layer-2 input rate is the authors'
   quantity, not provably minisyn's. For layer 3 the input is ReLU'd
   (:100), so mean x = mean |x|: matched.
3. **The posted scripts cannot have produced these files as written**, so the
   mapping rests on the plotter and on the shapes: at 9f8e7a1 (and until
   9dbd237, 2023-05-10) `self.linear1 = NetLayer(28*28, 10)` (:79) cannot feed
   `NetLayer(100, 100)` yet var_list_0 is (100, 784); `net(data, sample=sample)`
   (:139) never passes `epoch`, so `epoch in np.arange(1000, 1100, 1)` (:95) is
   always False and `net.firingrate` stays empty; `if len(hessian) <= LAYERS`
   (:148, LAYERS = 1) appends only two layers and sends linear3 to
   `hessian[1] +=` (:157-158), so `hessian[2]` (:187) would not exist; and
   :217-220 iterate `(data_target)` as a tensor, while x_0 is 400x what :224
   would save. The same holds at HEAD 884c073 (the linear1 width fixed). So
   the exact accumulation length, normalisation and s of the data
   (9f8e7a1: `s = 0.01`, 1000 + 100 epochs, `/(3000*20*20)`; HEAD: `s = 0.001`,
   50 + 10, `/(60000*10)`) cannot be checked; only constants depend on the
   first two.
4. **Fisher of which loss.** The authors' g includes the L1 cost's gradient
   (B/N)·0.01·sign(mu) and is of the batch *sum* of the NLL, with the network
   frozen; minisyn's default is the cross-entropy-only gradient of the batch
   mean with training continuing (its `--authors` mode matches the authors').
   Scale differences are immaterial; the L1 term is tiny against the data term.
5. Biases: the authors save weights only (`weight_phi`, `weight_mu`), and
   minisyn drops the bias column too: matched.

## Quoted lines

Check: {evidence}.

{evidence_list}
"""

if __name__ == "__main__":
    main()
