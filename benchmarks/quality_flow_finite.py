"""Do a billion posterior draws come out finite, and can each be scored back?

The shipped flow (``FlowPropertyRegressor.from_pretrained()``, or ``--model``) draws
``--draws`` samples in chunks of ``--galaxies`` galaxies x ``--n-samples`` draws, through
the public ``sample`` (the sampling direction: forward splines). The galaxies' features are
drawn around the flow's own standardisation (``x_mean_``, ``x_scale_``): 80% as standard
normals, 15% five times wider and 5% fifty times wider, far outside anything it was trained
on. Of every chunk, the draws of ``--scored`` galaxies are scored back with ``log_prob``
(the density direction: inverse splines, where nflows asserts when rounding makes a
discriminant negative, nflows issue 87). Counted: non-finite draws, and scores that are NaN
or +inf (-inf is a draw on a bound of ``target_bounds``, counted apart), per kind of
galaxy::

    python benchmarks/quality_flow_finite.py                     # 10^9 draws, ~30 min
    python benchmarks/quality_flow_finite.py --draws 1e7         # a quick look

Results: ``benchmarks/results/quality_flow_finite/`` (see ``benchmarks/README.md``).
Target (issue "Posteriors for a whole survey"): no NaN, no inf, no assertion in 10^9 draws.
"""

import argparse
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from minuet_sk import FlowPropertyRegressor

from _common import record

#: Fractions of galaxies and how far their features lie from the training set's (in units
#: of its standard deviations).
KINDS = {"typical": (0.80, 1.0), "wide": (0.15, 5.0), "far": (0.05, 50.0)}


def features(reg, n, rng):
    """``n`` feature rows around the flow's standardisation, and each row's kind."""
    kinds = rng.choice(list(KINDS), size=n, p=[p for p, _ in KINDS.values()])
    spread = np.array([KINDS[k][1] for k in kinds])[:, None]
    z = rng.standard_normal((n, len(reg.x_mean_))) * spread
    return (reg.x_mean_ + z * reg.x_scale_).astype(np.float32), kinds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="shipped flow or folder (default: "
                        "FlowPropertyRegressor.from_pretrained()'s)")
    parser.add_argument("--draws", type=float, default=1e9)
    parser.add_argument("--galaxies", type=int, default=10_000, help="galaxies per chunk")
    parser.add_argument("--n-samples", type=int, default=1000, help="draws per galaxy")
    parser.add_argument("--scored", type=int, default=1000,
                        help="galaxies per chunk whose draws are scored back")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    reg = (FlowPropertyRegressor.from_pretrained(device="cpu") if args.model is None
           else FlowPropertyRegressor.from_pretrained(args.model, device="cpu"))
    per_chunk = args.galaxies * args.n_samples
    n_chunks = max(1, round(args.draws / per_chunk))
    counts = {kind: {"draws": 0, "nonfinite_draws": 0, "scored": 0, "nan_or_inf_scores": 0,
                     "scores_on_a_bound": 0} for kind in KINDS}
    largest = 0.0
    began = time.perf_counter()
    for chunk in tqdm(range(n_chunks), desc="chunks", unit="chunk"):
        rng = np.random.default_rng([args.seed, chunk])
        X, kinds = features(reg, args.galaxies, rng)
        samples = reg.sample(X, args.n_samples, random_state=chunk)
        finite = np.isfinite(samples).all(axis=2)
        largest = max(largest, float(np.abs(np.where(np.isfinite(samples), samples, 0)).max()))
        scored = slice(0, args.scored)
        flat = samples[scored].reshape(-1, samples.shape[2])
        ok = finite[scored].reshape(-1)
        scores = np.full(len(flat), np.nan)
        scores[ok] = reg.log_prob(np.repeat(X[scored], args.n_samples, axis=0)[ok], flat[ok])
        for kind in KINDS:
            rows = kinds == kind
            c = counts[kind]
            c["draws"] += int(rows.sum()) * args.n_samples
            c["nonfinite_draws"] += int((~finite[rows]).sum())
            these = np.repeat(rows[scored], args.n_samples) & ok
            c["scored"] += int(these.sum())
            c["nan_or_inf_scores"] += int((np.isnan(scores[these])
                                           | (scores[these] == np.inf)).sum())
            c["scores_on_a_bound"] += int((scores[these] == -np.inf).sum())
    seconds = time.perf_counter() - began
    total = {key: sum(c[key] for c in counts.values()) for key in counts["typical"]}
    lines = ["| galaxies | draws | non-finite draws | scored | NaN/inf scores | -inf (bound) |",
             "|---|---|---|---|---|---|"]
    for kind, c in {**counts, "all": total}.items():
        lines.append(f"| {kind} | {c['draws']:,} | {c['nonfinite_draws']:,} | {c['scored']:,} "
                     f"| {c['nan_or_inf_scores']:,} | {c['scores_on_a_bound']:,} |")
    print("\n".join(lines))
    record(
        "quality_flow_finite",
        figures={"by_kind": counts, "total": total, "largest_abs_draw": largest,
                 "seconds": seconds, "draws_per_second": total["draws"] / seconds},
        headline=(f"{total['draws']:.3g} draws: {total['nonfinite_draws']} non-finite; "
                  f"{total['scored']:.3g} scored back: {total['nan_or_inf_scores']} NaN/inf; "
                  f"{seconds:.0f} s"),
        target="no NaN, no inf, no assertion in 10^9 draws",
        settings={"model": reg.pretrained_, "draws": total["draws"], "galaxies": args.galaxies,
                  "n_samples": args.n_samples, "scored": args.scored, "kinds": KINDS,
                  "threads": args.threads},
        seed=args.seed, markdown="\n".join(lines),
    )


if __name__ == "__main__":
    main()
