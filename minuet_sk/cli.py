"""``minuet``: the command line of minuet_sk. Files in, files out.

Images come from ``.npy`` (memory-mapped), ``.h5``/``.hdf5`` (a dataset, read in batches) or
FITS files, folders and globs (Legacy Survey cutout layout). Tables (latents, posteriors,
neighbours) go out as Parquet or CSV by file extension. Models are the safetensors + JSON
folders of ``save``. User mistakes end in one line on stderr and exit status 2; an
unexpected error inside (a bug) ends in one line saying so and exit status 1. ``--debug``
(before or after the subcommand) shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]


class CLIError(Exception):
    """A user mistake, reported as one line without a traceback."""


# ---- readers and writers ---------------------------------------------------------------

@contextlib.contextmanager
def open_images(path, dataset="images"):
    """Images from .npy, .h5/.hdf5 or FITS (file, folder or glob), without loading HDF5.

    A context manager: an HDF5 file stays open (read in batches) until the block ends.
    """
    path = str(path)
    suffix = Path(path).suffix.lower()
    if suffix in (".npy", ".h5", ".hdf5") and not Path(path).is_file():
        raise CLIError(f"no such file: {path}")
    if suffix == ".npy":
        import numpy as np

        try:
            images = np.load(path, mmap_mode="r")
        except ValueError as err:  # not a .npy file, or a pickled object array
            raise CLIError(f"cannot read {path} as a NumPy array: {err}") from None
        yield _numeric(images, path)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        try:
            handle = h5py.File(path, "r")
        except OSError as err:
            raise CLIError(f"cannot read {path} as HDF5: {err}") from None
        with handle:
            if dataset not in handle:
                raise CLIError(f"{path} has no dataset {dataset!r}; it holds "
                               f"{sorted(handle)} (choose one with --dataset)")
            yield _numeric(handle[dataset], path)
    else:
        from minuet_sk.datasets import load_fits_cutouts

        try:
            images = load_fits_cutouts(path).images
        except FileNotFoundError as err:
            raise CLIError(f"no images found at {path} (.npy, .h5 or FITS files): "
                           f"{err}") from None
        yield images


def _numeric(images, path):
    if images.dtype.kind not in "biuf":
        raise CLIError(f"{path} holds {images.dtype} values; images must be numeric pixels")
    return images


def read_table(path):
    """A DataFrame from .parquet or .csv (a .npy array becomes columns 0..k-1)."""
    import numpy as np
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".npy":
        return pd.DataFrame(np.load(path))
    raise CLIError(f"cannot read {path}: expected .parquet, .csv or .npy")


def write_table(frame, path):
    """Write a DataFrame as .parquet or .csv (by extension)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise CLIError(f"cannot write {path}: use a .parquet or .csv file name")
    print(f"wrote {path} ({len(frame)} rows)")


def load_model(path):
    """Any estimator saved by ``save`` (the class is named in its config.json)."""
    from minuet_sk._persistence import load_estimator

    if not (Path(path) / "config.json").is_file():
        raise CLIError(f"{path} is not a saved model (no config.json); create one with "
                       "`minuet fit`")
    return load_estimator(path)


# ---- subcommands ----------------------------------------------------------------------

def _demo(args):
    import dataclasses

    from minuet_sk.benchmark import PRESETS, run_benchmark
    from minuet_sk.report import write_figures, write_report

    config = dataclasses.replace(PRESETS[args.preset], seed=args.seed, device=args.device)
    if args.size is not None:
        config.n_galaxies = args.size
    if args.epochs is not None:
        config.minuet = {**config.minuet, "max_epochs": args.epochs}
        config.vae = {**config.vae, "max_epochs": args.epochs}
    if args.pretrained:  # the shipped weights take 72x72 cutouts
        config.minuet = {**config.minuet, "pretrained": args.pretrained}
        config.image_size = 72
    _, artifacts = run_benchmark(config, out_dir=args.out)
    write_figures(artifacts, args.out)
    page = write_report(args.out, title="minuet_sk demo on simulated galaxies")
    print(f"wrote {page}")


def _simulate(args):
    import numpy as np

    from minuet_sk.datasets import make_galaxies

    data = make_galaxies(args.n, image_size=args.image_size, neighbors=not args.no_neighbors,
                         n_jobs=args.n_jobs, random_state=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "images.npy", data.images)
    np.save(out / "masks.npy", data.masks)
    print(f"wrote {out / 'images.npy'} {data.images.shape}")
    for name in ("target", "truth", "votes"):
        write_table(getattr(data, name), out / f"{name}.{args.table_format}")


def _parse_settings(pairs):
    import json

    settings = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise CLIError(f"--set takes key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def _fit(args):
    import numpy as np

    import minuet_sk

    settings = _parse_settings(args.set)
    if args.epochs is not None:
        settings["max_epochs"] = args.epochs
    if args.kind == "flow":
        if not (args.features and args.targets):
            raise CLIError("minuet fit flow needs --features and --targets")
        X = read_table(args.features).to_numpy(dtype=np.float32)
        y = read_table(args.targets)
        columns = [c for c in ("redshift", "log_mstar", "log_sfr") if c in y.columns]
        model = minuet_sk.FlowPropertyRegressor(random_state=args.seed, verbose=1, **settings)
        model.fit(X, y[columns] if columns else y)
    else:
        if not args.images:
            raise CLIError(f"minuet fit {args.kind} needs --images")
        cls = {"minuet": minuet_sk.MinuetEncoder, "vae": minuet_sk.VAEEncoder,
               "pca": minuet_sk.EigengalaxyPCA}[args.kind]
        extra = {} if args.kind == "pca" else {"verbose": 1, "device": args.device}
        with open_images(args.images, args.dataset) as X:
            model = cls(args.n_components,
                        image_shape=tuple(X.shape[1:]) if X.ndim == 4 else None,
                        random_state=args.seed, **extra, **settings)
            model.fit(X if args.kind != "pca" else np.asarray(X))
    model.save(args.out)
    print(f"saved {type(model).__name__} to {args.out}")


def _encode(args):
    import pandas as pd

    model = load_model(args.model)
    with open_images(args.images, args.dataset) as images:
        Z = model.transform(images)
    write_table(pd.DataFrame(Z, columns=model.get_feature_names_out()), args.out)


def _reconstruct(args):
    import numpy as np

    model = load_model(args.model)
    if not hasattr(model, "reconstruct"):
        raise CLIError(f"{type(model).__name__} has no reconstruct(); use a MinuetEncoder")
    with open_images(args.images, args.dataset) as images:
        latents = model.transform(images)
    images = model.sample(latents, n_samples=args.n_samples, random_state=args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, images)
    print(f"wrote {args.out} {images.shape}")


def _predict(args):
    import numpy as np

    model = load_model(args.model)
    if not hasattr(model, "predict_dist"):
        raise CLIError(f"{type(model).__name__} does not predict posteriors; use a saved "
                       "FlowPropertyRegressor")
    X = read_table(args.features).to_numpy(dtype=np.float32)
    posterior = model.predict_dist(X, n_samples=args.n_samples)
    write_table(posterior.to_frame().reset_index(), args.out)


def _neighbors(args):
    import numpy as np
    import pandas as pd

    from minuet_sk.neighbors import latent_neighbors

    Z = read_table(args.latents).to_numpy(dtype=np.float64)
    query = None
    if args.query is not None:
        rows = [int(r) for r in args.query.split(",")]
        if max(rows) >= len(Z) or min(rows) < 0:
            raise CLIError(f"--query rows must lie in 0..{len(Z) - 1}")
        query = Z[rows]
    dist, idx = latent_neighbors(Z, query, k=args.k)
    queries = np.repeat(rows if query is not None else np.arange(len(Z)), args.k)
    frame = pd.DataFrame({"query": queries, "rank": np.tile(np.arange(1, args.k + 1), len(idx)),
                          "neighbor": idx.ravel(), "distance": dist.ravel()})
    write_table(frame, args.out)


def _benchmark(args):
    import dataclasses

    from minuet_sk.benchmark import PRESETS, run_benchmark
    from minuet_sk.report import write_figures

    config = dataclasses.replace(PRESETS[args.preset], seed=args.seed, device=args.device)
    _, artifacts = run_benchmark(config, out_dir=args.out)
    write_figures(artifacts, args.out)
    print(f"wrote {Path(args.out) / 'results.json'} and results.md")


def _report(args):
    from minuet_sk.report import write_report

    print(f"wrote {write_report(args.folder)}")


# ---- parser ---------------------------------------------------------------------------

def _debug_flag(parser, default):
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full traceback of an error")


def _add(sub, name, func, help_text, example):
    parser = sub.add_parser(name, help=help_text, description=help_text,
                            epilog=f"example:\n  {example}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    _debug_flag(parser, argparse.SUPPRESS)  # also after the subcommand; keeps the top's value
    parser.set_defaults(func=func)
    return parser


def _add_images(parser):
    parser.add_argument("--images", required=True,
                        help=".npy, .h5/.hdf5 or FITS file(s)/folder/glob")
    parser.add_argument("--dataset", default="images", help="HDF5 dataset name")


def build_parser():
    """The argument parser of ``minuet`` (one subparser per subcommand)."""
    from minuet_sk._version import __version__

    parser = argparse.ArgumentParser(
        prog="minuet", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"minuet_sk {__version__}")
    _debug_flag(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _add(sub, "demo", _demo, "simulate galaxies, fit PCA, VAE and Minuet, the flow and "
             "the probes; write an HTML report", "minuet demo --out report")
    p.add_argument("--size", type=int, help="number of simulated galaxies")
    p.add_argument("--preset", choices=("tiny", "demo", "quick", "full"), default="demo",
                   help="settings (tiny: a smoke test in about a minute)")
    p.add_argument("--epochs", type=int, help="training epochs of the VAE and Minuet")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pretrained", nargs="?", const="sim-grz-72", metavar="NAME",
                   help="use shipped Minuet weights instead of training (default sim-grz-72)")
    p.add_argument("--out", default="report", help="output folder")

    p = _add(sub, "simulate", _simulate, "simulate galaxies with GalSim",
             "minuet simulate --n 1000 --out galaxies/")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--image-size", type=int, default=72)
    p.add_argument("--no-neighbors", action="store_true")
    p.add_argument("--n-jobs", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--table-format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--out", required=True, help="output folder")

    p = _add(sub, "fit", _fit, "fit an encoder on images, or the flow on features + targets",
             "minuet fit minuet --images galaxies/images.npy --epochs 20 --out model/")
    p.add_argument("kind", choices=("minuet", "vae", "pca", "flow"))
    p.add_argument("--images")
    p.add_argument("--dataset", default="images", help="HDF5 dataset name")
    p.add_argument("--features", help="flow: latents table (.parquet/.csv/.npy)")
    p.add_argument("--targets", help="flow: table with redshift, log_mstar, log_sfr")
    p.add_argument("--n-components", type=int, default=5)
    p.add_argument("--epochs", type=int)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any estimator parameter, e.g. --set width=64 (repeatable)")
    p.add_argument("--out", required=True, help="model folder (safetensors + JSON)")

    p = _add(sub, "encode", _encode, "latents of images with a saved encoder",
             "minuet encode --model model/ --images galaxies/images.npy --out latents.parquet")
    p.add_argument("--model", required=True)
    _add_images(p)
    p.add_argument("--out", required=True, help=".parquet or .csv")

    p = _add(sub, "reconstruct", _reconstruct, "posterior reconstructions with a saved Minuet",
             "minuet reconstruct --model model/ --images x.npy --n-samples 5 --out recon.npy")
    p.add_argument("--model", required=True)
    _add_images(p)
    p.add_argument("--n-samples", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help=".npy of shape (n, n_samples, C, H, W)")

    p = _add(sub, "predict", _predict, "posterior summaries of redshift, mass and SFR",
             "minuet predict --model flow/ --features latents.parquet --out posteriors.csv")
    p.add_argument("--model", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--n-samples", type=int)
    p.add_argument("--out", required=True, help=".parquet or .csv")

    p = _add(sub, "neighbors", _neighbors, "nearest galaxies in latent space",
             "minuet neighbors --latents latents.parquet --k 5 --out neighbours.csv")
    p.add_argument("--latents", required=True)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--query", help="comma-separated rows to search for (default: all)")
    p.add_argument("--out", required=True, help=".parquet or .csv")

    p = _add(sub, "benchmark", _benchmark, "Minuet vs VAE vs PCA on the same galaxies",
             "minuet benchmark --quick --out benchmarks/results/quick")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="preset", action="store_const", const="quick")
    group.add_argument("--full", dest="preset", action="store_const", const="full")
    group.add_argument("--preset", dest="preset", choices=("tiny", "demo", "quick", "full"))
    p.set_defaults(preset="quick")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)

    p = _add(sub, "report", _report, "HTML report of a benchmark folder",
             "minuet report benchmarks/results/quick")
    p.add_argument("folder")
    return parser


def main(argv=None):
    """Run ``minuet``; returns the exit status (0 ok, 1 a bug inside, 2 a user mistake)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (CLIError, OSError, ValueError) as err:  # bad files, options or data
        if args.debug:
            raise
        print(f"minuet {args.command}: error: {_first_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"minuet {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # TypeError, KeyError, ImportError...: ours, not the user's
        if args.debug:
            raise
        from minuet_sk._version import __version__

        print(f"minuet {args.command}: internal error: {type(err).__name__}: "
              f"{_first_line(err)}\nThis is a bug in minuet_sk {__version__}, not a mistake "
              "of yours: run the same command with --debug for the traceback, and please "
              "report it.", file=sys.stderr)
        return 1
    return 0


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
