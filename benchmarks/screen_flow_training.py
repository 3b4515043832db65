"""Should FlowPropertyRegressor train through skorch, like the image encoders?

Issue 23 asks the flow to train through the same skorch layer as the encoders if that removes
its own loop "without loss of speed". This measures the speed: the default flow architecture
(``FlowPropertyRegressor()``'s 5 transforms x 64 hidden units, 10 bins) on ``n`` rows of 5
features and 3 targets, trained for the same epochs with the same batch size, optimiser
(Adam), gradient clipping (norm 5) and no validation, by

- ``own loop``: ``minuet_sk._training.flow_loop.train_flow``, what ``fit`` runs;
- ``skorch``: a ``skorch.NeuralNet`` whose module returns the negative log-likelihood, with
  skorch's DataLoader over a ``TensorDataset`` and its ``GradientNormClipping`` callback.

Each is timed twice (best of two) after one warm-up epoch, on one thread. Early stopping with
learning-rate annealing, which the own loop also does, would add skorch callbacks on top::

    python benchmarks/screen_flow_training.py [--n 20000] [--epochs 5] [--batch-size 256]
"""

import argparse
import time

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import GradientNormClipping

from minuet_sk import FlowPropertyRegressor
from minuet_sk._training.flow_loop import train_flow  # the internal loop this screen times
from minuet_sk.nn.flows import build_spline_flow

from _common import record


class _NLL(torch.nn.Module):
    """The flow as a skorch module: forward gives each row's negative log-likelihood."""

    def __init__(self, flow):
        super().__init__()
        self.flow = flow

    def forward(self, x, y):
        return -self.flow.log_prob(y, context=x)


class _Mean(torch.nn.Module):
    """The criterion: the batch's mean negative log-likelihood (there is no target)."""

    def forward(self, nll, target=None):
        return nll.mean()


def _flow(defaults, seed):
    torch.manual_seed(seed)
    return build_spline_flow(3, 5, n_transforms=defaults.n_transforms,
                             hidden_features=defaults.hidden_features, n_bins=defaults.n_bins,
                             tail_bound=defaults.tail_bound)


def _best_of_two(fn):
    times = []
    for _ in range(2):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=FlowPropertyRegressor().batch_size)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    defaults = FlowPropertyRegressor()
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.standard_normal((args.n, 5)), dtype=torch.float32)
    y = x[:, :3] + 0.3 * torch.as_tensor(rng.standard_normal((args.n, 3)), dtype=torch.float32)

    own_flow = _flow(defaults, 0)

    def own(epochs):
        train_flow(own_flow, (x, y), None, torch.Generator().manual_seed(0), device="cpu",
                   lr=defaults.lr, weight_decay=defaults.weight_decay,
                   batch_size=args.batch_size, max_epochs=epochs, patience=defaults.patience)

    net = NeuralNet(_NLL, module__flow=_flow(defaults, 0), criterion=_Mean,
                    optimizer=torch.optim.Adam, lr=defaults.lr,
                    optimizer__weight_decay=defaults.weight_decay,
                    batch_size=args.batch_size, train_split=None, verbose=0,
                    iterator_train__shuffle=True,
                    callbacks=[GradientNormClipping(gradient_clip_value=5.0)])
    net.initialize()

    def skorch(epochs):
        net.partial_fit({"x": x, "y": y}, None, epochs=epochs)

    own(1)
    skorch(1)
    seconds = {"own loop": _best_of_two(lambda: own(args.epochs)),
               "skorch": _best_of_two(lambda: skorch(args.epochs))}
    rows = {name: {"seconds": round(s, 2), "rows_per_s": round(args.n * args.epochs / s)}
            for name, s in seconds.items()}
    slower = seconds["skorch"] / seconds["own loop"] - 1
    lines = [(f"{args.n} rows x {args.epochs} epochs, batch {args.batch_size}, "
              f"{args.threads} thread(s), default flow architecture."), "",
             "| loop | seconds | rows/s |", "|---|---|---|"]
    lines += [f"| {name} | {r['seconds']} | {r['rows_per_s']} |" for name, r in rows.items()]
    print("\n".join(lines))
    record("screen_flow_training", figures={"rows": rows, "skorch_slower_by": round(slower, 3)},
           seed=0, markdown="\n".join(lines),
           settings={"n": args.n, "epochs": args.epochs, "batch_size": args.batch_size,
                     "threads": args.threads},
           headline=f"skorch {100 * slower:+.0f}% time against the own loop "
                    f"({rows['skorch']['rows_per_s']} vs {rows['own loop']['rows_per_s']} "
                    "rows/s)",
           target="no loss of speed (issue 23)")


if __name__ == "__main__":
    main()
