"""``minuet``: the command line of minuet_sk. Files in, files out."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from minuet_sk._cli_io import (
    CLIError,
    check_output,
    check_writable_folder,
    load_model,
    note_input_units,
    open_images,
    read_table,
    read_table_head,
    split_identifiers,
    write_reconstructions,
    write_table,
)

__all__ = ["CLIError", "build_parser", "main"]

DESCRIPTION = """\
minuet: the command line of minuet_sk. Files in, files out.

Images come from .npy (memory-mapped), .h5/.hdf5 (a dataset, read in batches) or FITS
files, folders and globs (Legacy Survey cutout layout). Tables (latents, posteriors,
neighbours) go out as Parquet or CSV by file extension, with the identifiers of the input
(row; or filename, ra, dec of FITS cutouts) carried along. Models are the folders written by
`minuet fit` (safetensors + JSON) or shipped weights by name (sim-grz-72-v4), which take cutouts
in nanomaggies as they come.

Exit status: 0 done, 2 a mistake in the command or its files (one line on stderr), 1 a bug
inside (one line saying so). --debug, before or after the subcommand, shows the traceback.
"""


# ---- subcommands ----------------------------------------------------------------------

def _demo(args):
    import dataclasses

    from minuet_sk.evaluation import PRESETS, run_benchmark, write_figures, write_report
    from minuet_sk.evaluation.config import DEMO_TRAINING

    check_writable_folder(args.out, f"cannot write the report to {args.out}")
    config = dataclasses.replace(PRESETS[args.preset], seed=args.seed, device=args.device)
    if args.size is not None:
        config.n_galaxies = args.size
    if args.train and "pretrained" in config.minuet:
        config.minuet = dict(DEMO_TRAINING)
    _use_pretrained(config, args.pretrained)
    if args.epochs is not None:
        if "pretrained" not in config.minuet:
            config.minuet = {**config.minuet, "max_epochs": args.epochs}
        config.vae = {**config.vae, "max_epochs": args.epochs}
    _, artifacts = run_benchmark(config, out_dir=args.out)
    write_figures(artifacts, args.out)
    page = write_report(args.out, title="minuet_sk demo on simulated galaxies")
    print(f"wrote {page}")


def _simulate(args):
    import numpy as np

    from minuet_sk.datasets import make_galaxies

    check_writable_folder(args.out, f"cannot write the galaxies to {args.out}")
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

    check_writable_folder(args.out, f"cannot save the model to {args.out}")
    settings = _parse_settings(args.set)
    if args.epochs is not None:
        settings["max_epochs"] = args.epochs
    if args.kind == "flow":
        if not (args.features and args.targets):
            raise CLIError("minuet fit flow needs --features and --targets")
        _, X = split_identifiers(read_table(args.features))
        y = read_table(args.targets)
        columns = [c for c in ("redshift", "log_mstar", "log_sfr") if c in y.columns]
        model = minuet_sk.FlowPropertyRegressor(random_state=args.seed, verbose=1, **settings)
        model.fit(X, y[columns] if columns else y)
    else:
        if not args.images:
            raise CLIError(f"minuet fit {args.kind} needs --images")
        cls = {"minuet": minuet_sk.MinuetEncoder, "vae": minuet_sk.VAEEncoder,
               "pca": minuet_sk.EigengalaxyPCA}[args.kind]
        extra = {} if args.kind == "pca" else {
            "verbose": 1, "device": args.device,
            "stretch": None if args.no_stretch else minuet_sk.AsinhStretch()}
        with open_images(args.images, args.dataset, image_size=args.image_size,
                         **_fits_options(args)) as (X, _):
            model = cls(args.n_components,
                        image_shape=tuple(X.shape[1:]) if X.ndim == 4 else None,
                        random_state=args.seed, **extra, **settings)
            model.fit(X if args.kind != "pca" else np.asarray(X))
    model.save(args.out)
    print(f"saved {type(model).__name__} to {args.out}")


def _model_input(model):
    """How FITS cutouts are read for ``model``: the image size, bands, flux unit and pixel
    scale that it says (``load_fits_cutouts``' defaults, the package's conventions, for the
    rest)."""
    if not hasattr(model, "image_shape_"):
        raise CLIError(f"{type(model).__name__} does not take images; use a saved encoder "
                       "(minuet, vae or pca) or shipped encoder weights")
    options = {"image_size": model.image_shape_[-1]}
    if getattr(model, "stretch_", None) is not None:
        options["bands"] = model.stretch_.bands
    if hasattr(model, "flux_unit"):
        options.update(unit=model.flux_unit, pixel_scale=model.pixel_scale)
    return options


def _encode(args):
    import pandas as pd

    from minuet_sk.encoders._latent_features import LATENT_ID

    check_output(args.out)
    model = load_model(args.model, args.device)
    note_input_units(model)
    with open_images(args.images, args.dataset, **_model_input(model),
                     **_fits_options(args)) as (images, ids):
        Z = model.transform(images)
    table = pd.concat([ids, pd.DataFrame(Z, columns=model.get_feature_names_out())], axis=1)
    table.attrs = {LATENT_ID: model.latent_id_}  # which model made them, for `predict`
    write_table(table, args.out)


def _reconstruct(args):
    import numpy as np

    check_output(args.out, (".h5", ".hdf5", ".npy"))
    model = load_model(args.model, args.device)
    if not hasattr(model, "reconstruct"):
        raise CLIError(f"{type(model).__name__} has no reconstruct(); use a MinuetEncoder")
    note_input_units(model)
    with open_images(args.images, args.dataset, **_model_input(model),
                     **_fits_options(args)) as (images, ids):
        # what MinuetEncoder.reconstruct gives: the mean of --n-samples draws, in the
        # input's orientation (or as drawn), from the model's own seed unless --seed
        draws = model.sample(np.asarray(model.transform(images)), n_samples=args.n_samples,
                             random_state=args.seed)
        turn = model.to_input_frame if args.frame == "input" else (lambda x, _: x)
        mean = turn(draws.mean(axis=1), images)
        draws = turn(draws, images) if args.keep_draws else None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if Path(args.out).suffix.lower() == ".npy":  # arrays only, rows in the input's order
        np.save(args.out, mean if draws is None else draws)
    else:
        write_reconstructions(args.out, mean, draws, ids, {
            "model": str(args.model), "frame": args.frame, "n_samples": args.n_samples})
    print(f"wrote {args.out} {mean.shape} (rows in the order of the input; the mean of "
          f"{args.n_samples} draw(s); {args.frame} frame)")


def _predict(args):
    check_output(args.out, folder=True)
    if args.keep_draws and Path(args.out).suffix.lower() == ".csv":
        raise CLIError("--keep-draws needs a Parquet output: a .parquet file or a folder")
    head = read_table_head(args.features)
    model = load_model(args.model, args.device)
    if not hasattr(model, "predict_dist"):
        raise CLIError(f"{type(model).__name__} does not predict posteriors; use a saved "
                       "FlowPropertyRegressor")
    from minuet_sk.flow import write_posterior_catalogue

    # identifiers carried, features fed (by the names the flow was fitted on, when it has
    # them); rows are numbered 0..n-1 in the galaxy column, and the table's attrs say which
    # encoder made the latents: the flow refuses another's
    fitted_on = getattr(model, "feature_names_in_", None)
    id_columns = None if head is None else list(split_identifiers(
        head, None if fitted_on is None else list(fitted_on))[0].columns)
    out = write_posterior_catalogue(
        model, args.features, args.out, chunk_size=args.chunk_size,
        n_samples=args.n_samples, keep_draws=args.keep_draws, id_columns=id_columns,
        dataset=args.dataset, restart=args.restart)
    print(f"wrote {out}")


def _neighbors(args):
    import numpy as np
    import pandas as pd

    from minuet_sk.neighbors import latent_neighbors

    check_output(args.out)
    ids, latents = split_identifiers(read_table(args.latents))
    Z = latents.to_numpy(dtype=np.float64)
    rows = np.arange(len(Z))
    if args.query is not None:
        try:
            rows = np.array([int(r) for r in args.query.split(",")])
        except ValueError:
            raise CLIError(f"--query takes comma-separated row numbers, got {args.query!r}") \
                from None
        if rows.max() >= len(Z) or rows.min() < 0:
            raise CLIError(f"--query rows must lie in 0..{len(Z) - 1}")
    # a galaxy is never its own neighbour, whether it is searched for by --query or not
    dist, idx = latent_neighbors(Z, Z[rows], k=args.k, query_index=rows)
    frame = pd.DataFrame({"query": np.repeat(rows, args.k),
                          "rank": np.tile(np.arange(1, args.k + 1), len(rows)),
                          "neighbor": idx.ravel(), "distance": dist.ravel()})
    named = [c for c in ids.columns if c != "row"]
    for prefix, column in (("query", "query"), ("neighbor", "neighbor")):
        for name in named:
            frame[f"{prefix}_{name}"] = ids[name].to_numpy()[frame[column]]
    write_table(frame, args.out)


def _use_pretrained(config, name):
    """Point ``config`` at the shipped Minuet weights ``name`` (None: leave it)."""
    if name:  # the shipped weights take 72x72 cutouts
        config.minuet = {**config.minuet, "pretrained": name}
        config.image_size = 72


def _benchmark(args):
    import dataclasses

    from minuet_sk.evaluation import PRESETS, run_benchmark, write_figures

    check_writable_folder(args.out, f"cannot write the results to {args.out}")
    config = dataclasses.replace(PRESETS[args.preset], seed=args.seed, device=args.device)
    _use_pretrained(config, args.pretrained)
    _, artifacts = run_benchmark(config, out_dir=args.out)
    write_figures(artifacts, args.out)
    print(f"wrote {Path(args.out) / 'results.json'} and results.md")


def _report(args):
    from minuet_sk.evaluation import write_report

    print(f"wrote {write_report(args.folder)}")


# ---- parser ---------------------------------------------------------------------------

class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's lines and shows each option's default where it has one (not
    for required options, flags, or help that already says it)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.required or action.default in (None, argparse.SUPPRESS)
                or isinstance(action.default, bool) or "default" in text):
            return text
        return f"{text} (default: %(default)s)"


def _debug_flag(parser, default):
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full traceback of an error")


def _add(sub, name, func, help_text, example):
    parser = sub.add_parser(name, help=help_text, description=help_text,
                            epilog=f"example:\n  {example}", formatter_class=_Formatter)
    _debug_flag(parser, argparse.SUPPRESS)  # also after the subcommand; keeps the top's value
    parser.set_defaults(func=func)
    return parser


def _add_images(parser, required=True):
    parser.add_argument("--images", required=required,
                        help=".npy, .h5/.hdf5 file, or FITS file(s), folder or glob")
    parser.add_argument("--dataset", default="images", help="HDF5 dataset name")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="FITS: stop at the first unreadable cutout (raise), or leave "
                             "out every unreadable one, listed with why, and go on (skip)")
    parser.add_argument("--strict", action="store_true",
                        help="FITS: refuse cutouts whose headers leave their bands, unit or "
                             "WCS unsaid (by default they are read, and listed in a warning)")


def _fits_options(args):
    """What the command line says of how to read FITS cutouts."""
    return {"on_error": args.on_error, "strict": args.strict}


def _add_device(parser):
    parser.add_argument("--device", default="auto",
                        help="where the model runs: auto (CUDA when available), cpu, cuda")


def _add_seed(parser, what):
    parser.add_argument("--seed", type=int, default=0, help=f"random seed of {what}")


def _add_out(parser, what):
    parser.add_argument("--out", required=True, help=what)


def build_parser():
    """The argument parser of ``minuet`` (one subparser per subcommand)."""
    from minuet_sk._version import __version__

    parser = argparse.ArgumentParser(prog="minuet", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"minuet_sk {__version__}")
    _debug_flag(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _add(sub, "demo", _demo, "simulate 72x72 galaxies, encode them with the shipped "
             "Minuet weights, fit PCA, a VAE, the flow and the probes; write an HTML report",
             "minuet demo --out report\n  minuet demo --train --out report   # Minuet "
             "trained here instead")
    p.add_argument("--size", type=int, help="number of simulated galaxies (default: the "
                   "preset's)")
    p.add_argument("--preset", choices=("tiny", "demo", "quick", "full"), default="demo",
                   help="settings (tiny: a smoke test in about a minute)")
    p.add_argument("--epochs", type=int, help="training epochs of the VAE (and of Minuet "
                   "when it is trained here; default: the preset's)")
    _add_device(p)
    _add_seed(p, "the simulation and every fit")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--train", action="store_true",
                       help="train Minuet from scratch here (minutes) instead of using the "
                       "shipped weights")
    which.add_argument("--pretrained", nargs="?", const="sim-grz-72-v4", metavar="NAME",
                       help="which shipped Minuet weights (the demo preset uses "
                       "sim-grz-72-v4)")
    p.add_argument("--out", default="report", help="output folder")

    p = _add(sub, "simulate", _simulate, "simulate galaxies with GalSim",
             "minuet simulate --n 1000 --out galaxies/")
    p.add_argument("--n", type=int, default=1000, help="number of galaxies")
    p.add_argument("--image-size", type=int, default=72, help="side of the cutouts (pixels)")
    p.add_argument("--no-neighbors", action="store_true",
                   help="leave out the stars and galaxies around the central one")
    p.add_argument("--n-jobs", type=int, help="parallel processes (joblib; default: one per "
                   "core)")
    _add_seed(p, "the simulation")
    p.add_argument("--table-format", choices=("csv", "parquet"), default="csv",
                   help="format of target, truth and votes tables")
    _add_out(p, "output folder")

    p = _add(sub, "fit", _fit, "fit an encoder on images, or the flow on features + targets",
             "minuet fit minuet --images galaxies/images.npy --epochs 20 --out model/")
    p.add_argument("kind", choices=("minuet", "vae", "pca", "flow"), help="what to fit")
    _add_images(p, required=False)
    p.add_argument("--image-size", type=int, default=72,
                   help="FITS cutouts are centre-cropped or padded to this size")
    p.add_argument("--no-stretch", action="store_true",
                   help="minuet, vae: feed the pixels as they are, without the AsinhStretch "
                   "that the model otherwise applies and keeps")
    p.add_argument("--features", help="flow: latents table (.parquet/.csv/.npy)")
    p.add_argument("--targets", help="flow: table with redshift, log_mstar, log_sfr")
    p.add_argument("--n-components", type=int, default=5, help="number of latents")
    p.add_argument("--epochs", type=int, help="training epochs (default: the estimator's)")
    _add_device(p)
    _add_seed(p, "the fit")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any estimator parameter, e.g. --set width=64 (repeatable)")
    _add_out(p, "model folder (safetensors + JSON)")

    p = _add(sub, "encode", _encode, "latents of images with a saved or shipped encoder",
             "minuet encode --model sim-grz-72-v4 --images cutouts/ --out latents.parquet")
    p.add_argument("--model", required=True, help="model folder, or shipped weights by name")
    _add_images(p)
    _add_device(p)
    _add_out(p, ".parquet or .csv: identifiers and latents")

    p = _add(sub, "reconstruct", _reconstruct, "posterior reconstructions with a Minuet model",
             "minuet reconstruct --model sim-grz-72-v4 --images cutouts/ --n-samples 5 "
             "--out r.h5")
    p.add_argument("--model", required=True, help="model folder, or shipped weights by name")
    _add_images(p)
    p.add_argument("--n-samples", type=int, default=1,
                   help="draws averaged per galaxy, as MinuetEncoder.reconstruct(n_samples=)")
    p.add_argument("--keep-draws", action="store_true",
                   help="also write every draw, (n, n_samples, C, H, W)")
    p.add_argument("--frame", choices=("input", "canonical"), default="input",
                   help="input: each reconstruction turned into its input's orientation (for "
                        "residual maps); canonical: as drawn, the major axis along x")
    _add_device(p)
    p.add_argument("--seed", type=int, default=None,
                   help="random seed of the starting noise (default: the model's own, as in "
                        "Python)")
    _add_out(p, ".h5/.hdf5: `reconstructions` (n, C, H, W) in the input's units, the "
                "identifiers, and `draws` with --keep-draws; .npy: the array alone")

    p = _add(sub, "predict", _predict, "posterior summaries of redshift, mass and SFR",
             "minuet predict --model flow/ --features latents.parquet --out posteriors.csv"
             "\n  minuet predict --model sim-grz-72-v4-flow --features latents.parquet "
             "--out catalogue/   # a Parquet file per chunk")
    p.add_argument("--model", required=True, help="folder of a saved FlowPropertyRegressor")
    p.add_argument("--features", required=True,
                   help="latents table (.parquet/.csv; identifier columns are carried over), "
                        "or an array of latents (.npy, .h5/.hdf5), read a chunk at a time")
    p.add_argument("--dataset", help="HDF5 features: the dataset of latents (default: the "
                   "file's only one)")
    p.add_argument("--n-samples", type=int,
                   help="posterior draws per galaxy (default: the model's n_samples)")
    p.add_argument("--chunk-size", type=int, default=10_000,
                   help="galaxies predicted and written at a time: memory holds one chunk's "
                        "draws")
    p.add_argument("--keep-draws", action="store_true",
                   help="also write every draw, a `draws` column (Parquet outputs only)")
    p.add_argument("--restart", action="store_true",
                   help="discard what an earlier, interrupted run wrote to --out and start "
                        "afresh (by default the same command goes on after the last chunk "
                        "written, and other settings are refused)")
    _add_device(p)
    _add_out(p, ".parquet or .csv file, or a folder (a Parquet file per chunk): identifiers "
                "and posterior summaries")

    p = _add(sub, "neighbors", _neighbors, "nearest galaxies in latent space (a galaxy is "
             "never its own neighbour)",
             "minuet neighbors --latents latents.parquet --k 5 --out neighbours.csv")
    p.add_argument("--latents", required=True,
                   help="latents table (.parquet/.csv), as `minuet encode` writes it")
    p.add_argument("--k", type=int, default=5, help="neighbours per galaxy")
    p.add_argument("--query", help="comma-separated rows to search for (default: every row)")
    _add_out(p, ".parquet or .csv: query, rank, neighbor, distance and their identifiers")

    p = _add(sub, "benchmark", _benchmark, "Minuet vs VAE vs PCA on the same galaxies",
             "minuet benchmark --quick --out bench")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="preset", action="store_const", const="quick",
                       help="the quick preset")
    group.add_argument("--full", dest="preset", action="store_const", const="full",
                       help="the full preset (paper settings; hours, a GPU)")
    group.add_argument("--preset", dest="preset", choices=("tiny", "demo", "quick", "full"),
                       help="any preset")
    p.set_defaults(preset="quick")
    p.add_argument("--pretrained", metavar="NAME",
                   help="shipped Minuet weights to measure instead of the preset's Minuet "
                   "(72x72 cutouts)")
    _add_device(p)
    _add_seed(p, "the simulation and every fit")
    _add_out(p, "output folder")

    p = _add(sub, "report", _report, "HTML report of a benchmark folder",
             "minuet report bench")
    p.add_argument("folder", help="folder written by `minuet benchmark`")
    return parser


def main(argv=None):
    """Run ``minuet``; returns the exit status (0 ok, 1 a bug inside, 2 a user mistake)."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"minuet {args.command}: warning: {_cli_wording(message)}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            args.func(args)
    except (CLIError, OSError, ValueError) as err:  # bad files, options or data
        if args.debug:
            raise
        print(f"minuet {args.command}: error: {_cli_wording(_first_line(err))}",
              file=sys.stderr)
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


def _cli_wording(text):
    """``text`` with the advice that only a Python caller can follow put as the command line
    would (``pixel_scale=None`` has no flag: the model fixes how cutouts are read)."""
    text = str(text)
    if "=None" not in text and "strict=True" not in text:
        return text
    from minuet_sk.datasets._fits_units import PYTHON_ONLY_ADVICE

    for python, cli in PYTHON_ONLY_ADVICE.items():
        text = text.replace(python, cli)
    return text


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
