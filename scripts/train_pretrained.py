"""Train the shipped MinuetEncoder weights ``sim-grz-72`` on simulated galaxies.

Reproducible: the data, the split and the initialisation are fixed by ``--seed``.

    python scripts/train_pretrained.py --n 5000 --epochs 30 --threads 1

writes ``minuet_sk/pretrained/sim-grz-72/`` (``model.safetensors`` + ``config.json``, the
format of ``MinuetEncoder.save``) and ``training.json`` beside them (data, settings, wall time,
loss curve). The model expects ``AsinhStretch()`` (default parameters) of 72x72 grz cutouts in
nanomaggies, i.e. use it as ``make_pipeline(AsinhStretch(), MinuetEncoder.from_pretrained(
"sim-grz-72"))``.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from minuet_sk import AsinhStretch, MinuetEncoder, __version__
from minuet_sk.datasets import make_galaxies

OUT = Path(__file__).resolve().parents[1] / "minuet_sk" / "pretrained" / "sim-grz-72"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="simulated galaxies")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = make_galaxies(args.n, image_size=72, random_state=args.seed)
    simulate_s = time.perf_counter() - start
    X = AsinhStretch().fit_transform(data.images)
    model = MinuetEncoder(5, image_shape=(3, 72, 72), max_epochs=args.epochs, device="cpu",
                          random_state=args.seed, verbose=1)
    start = time.perf_counter()
    model.fit(X)
    fit_s = time.perf_counter() - start
    model.save(args.out)
    card = {
        "name": args.out.name,
        "package_version": __version__,
        "trained_on": (f"make_galaxies({args.n}, image_size=72, random_state={args.seed}) "
                       "(simulated DECaLS-like grz cutouts, r < 19, with neighbours), "
                       "AsinhStretch() with default parameters"),
        "command": f"python scripts/train_pretrained.py --n {args.n} --epochs {args.epochs} "
                   f"--threads {args.threads} --seed {args.seed}",
        "estimator_params": {k: v for k, v in model.get_params().items()
                             if isinstance(v, (int, float, str, bool, tuple, type(None)))},
        "epochs_run": model.n_iter_,
        "simulate_seconds": round(simulate_s, 1),
        "fit_seconds": round(fit_s, 1),
        "machine": f"{platform.platform()}, {args.threads} torch thread(s)",
        "history": [{k: e[k] for k in ("epoch", "train_loss", "valid_loss") if k in e}
                    for e in model.history_],
    }
    (args.out / "training.json").write_text(json.dumps(card, indent=2, default=str))
    print(json.dumps({k: v for k, v in card.items() if k != "history"}, indent=2, default=str))


if __name__ == "__main__":
    main()
