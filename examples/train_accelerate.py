"""Train a MinuetEncoder data-parallel on several GPUs, nodes or CPU processes.

Launch one process per GPU with Hugging Face accelerate; every process runs this script::

    accelerate launch --multi_gpu --num_processes 4 examples/train_accelerate.py \
        survey.h5 models/minuet --preset paper --batch-size 512
    # a check on a laptop: two CPU processes (gloo)
    accelerate launch --cpu --num_processes 2 examples/train_accelerate.py \
        images.npy models/minuet --epochs 2

``--batch-size`` is the global batch: each of ``w`` processes computes the loss of
``batch_size / w`` of its images, and the model is the one that one process would train
with that batch. The images (``.h5``/``.hdf5`` with an ``images`` dataset, ``.npy`` or
``.zarr``, shape ``(n, 3, 72, 72)``) are read from disk by every process, so keep them on a
disk every node sees. The main process prints, writes a checkpoint after every epoch (run
the same command again to resume) and saves the model; load it anywhere, with or without
accelerate, with ``MinuetEncoder.load("models/minuet", device="cpu")``.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator

from minuet_sk import MinuetEncoder


def open_images(path):
    """An out-of-core view of the images: nothing is loaded whole into memory."""
    if path.endswith((".h5", ".hdf5")):
        import h5py

        return h5py.File(path, "r")["images"]
    if path.endswith(".zarr"):
        import zarr

        return zarr.open_array(path, mode="r")
    return np.load(path, mmap_mode="r")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images")
    parser.add_argument("out")
    parser.add_argument("--preset", choices=["paper"], default=None)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)

    # bf16 on GPUs; the accelerator picks each process's device
    accelerator = Accelerator(mixed_precision="bf16" if torch.cuda.is_available() else "no")
    params = {"max_epochs": args.epochs, "batch_size": args.batch_size, "random_state": 0,
              "checkpoint_dir": Path(args.out) / "checkpoint", "accelerator": accelerator,
              "verbose": 1}
    encoder = (MinuetEncoder.from_preset(args.preset, **params) if args.preset
               else MinuetEncoder(**params))
    encoder.fit(open_images(args.images))
    encoder.save(args.out)  # written by the main process only
    accelerator.print(f"saved to {args.out}; last epoch: {encoder.history_[-1]}")


if __name__ == "__main__":
    main()
