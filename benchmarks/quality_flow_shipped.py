"""Is the shipped flow calibrated on simulated galaxies it never saw, to within 2% of nominal?

The default ``FlowPropertyRegressor.from_pretrained()`` (or ``--model``) on the latents that
its encoder (``MinuetEncoder.from_pretrained()``, or ``--encoder``) gives for
``make_galaxies(n, image_size=72, random_state=seed)``: galaxies the flow's training
(``random_state`` 2027) and its card's check (2,000 galaxies, 2028) did not draw. Per
property: the 68% and 95% interval coverage with its binomial standard error (on ``n``
galaxies: 0.0047 for 68% at 10,000; the card's 2,000 gave 0.0104), the PIT's
Kolmogorov-Smirnov statistic, CRPS; of the joint posterior: the TARP maximum deviation
(``PropertyPosterior.tarp``, averaged over 10 reference draws) and its spread. The
referee's targets (issue "Posteriors for a whole survey"): coverage within 0.02 of nominal
per property and TARP <= 0.02::

    python benchmarks/quality_flow_shipped.py [--n 10000] [--seed 2029] [--threads 2]
    python benchmarks/quality_flow_shipped.py --n 300           # a quick look

Results: ``benchmarks/results/quality_flow_shipped/`` (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from scipy import stats

from minuet_sk import FlowPropertyRegressor, MinuetEncoder
from minuet_sk.datasets import make_galaxies

from _common import record

TARGETS = ["redshift", "log_mstar", "log_sfr"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="held-out galaxies")
    parser.add_argument("--seed", type=int, default=2029)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="sim-grz-72-v4-flow")
    parser.add_argument("--encoder", default="sim-grz-72-v4")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    data = make_galaxies(args.n, image_size=72, random_state=args.seed, n_jobs=args.threads)
    encoder = MinuetEncoder.from_pretrained(args.encoder, device="cpu")
    latents = encoder.set_output(transform="pandas").transform(data.images)
    y = data.target[TARGETS].reset_index(drop=True)
    flow = FlowPropertyRegressor.from_pretrained(args.model, device="cpu")
    post = flow.predict_dist(latents)
    pit = post.pit(y)
    tarp = post.tarp(y)
    table = pd.DataFrame({
        "coverage_68": post.coverage(y, 0.68)[TARGETS],
        "coverage_95": post.coverage(y, 0.95)[TARGETS],
        "pit_ks": [stats.kstest(pit[t], "uniform").statistic for t in TARGETS],
        "crps": post.crps(y)[TARGETS].mean(),
    }, index=TARGETS).round(4)
    se_68 = float(np.sqrt(0.68 * 0.32 / args.n))
    se_95 = float(np.sqrt(0.95 * 0.05 / args.n))
    within = bool(((table.coverage_68 - 0.68).abs() <= 0.02).all()
                  and ((table.coverage_95 - 0.95).abs() <= 0.02).all()
                  and tarp["max_deviation"] <= 0.02)
    text = "\n".join([
        (f"`{args.model}` on `{args.encoder}` latents of make_galaxies({args.n}, "
        f"image_size=72, random_state={args.seed}); coverage standard error "
        f"{se_68:.4f} (68%), {se_95:.4f} (95%); TARP max deviation "
        f"{tarp['max_deviation']:.4f} (spread {tarp['max_deviation_spread']:.4f} over "
        "reference draws)"), "",
        "| property | 68% coverage | 95% coverage | PIT KS | CRPS |", "|---|---|---|---|---|",
        *[f"| {t} | {r.coverage_68:.3f} | {r.coverage_95:.3f} | {r.pit_ks:.3f} | "
          f"{r.crps:.4f} |" for t, r in table.iterrows()],
    ])
    print(text)
    record(
        "quality_flow_shipped",
        figures={"per_property": table.to_dict("index"),
                 "tarp_max_deviation": float(tarp["max_deviation"]),
                 "tarp_max_deviation_spread": float(tarp["max_deviation_spread"]),
                 "coverage_se_68": round(se_68, 4), "coverage_se_95": round(se_95, 4),
                 "within_targets": within,
                 "seconds": round(time.perf_counter() - began, 1)},
        seed=args.seed, markdown=text,
        settings={"n": args.n, "model": args.model, "encoder": args.encoder,
                  "threads": args.threads},
        headline=(f"68% coverage {table.coverage_68.min():.3f}-{table.coverage_68.max():.3f}, "
                  f"95% {table.coverage_95.min():.3f}-{table.coverage_95.max():.3f}, TARP "
                  f"{tarp['max_deviation']:.3f} on {args.n} held-out galaxies"),
        target="coverage within 0.02 of nominal per property, TARP <= 0.02 (issue 37)",
    )


if __name__ == "__main__":
    main()
