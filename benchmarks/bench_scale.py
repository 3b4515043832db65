"""Scale on one machine: out-of-core transform and Dask workers.

1. Out of core: a ``np.memmap`` of 72x72 grz images larger than half this machine's RAM is
   written to disk (tiles of simulated galaxies, stretched), then encoded by the shipped
   ``MinuetEncoder.from_pretrained("sim-grz-72")`` reading one batch at a time; peak resident
   memory of the process is reported against the array's size.
2. Dask: ``minuet_sk.parallel.transform`` on a ``dask.distributed.LocalCluster`` with 1 and 2
   process workers (one thread each), galaxies/s.

Usage: python benchmarks/bench_scale.py [--gigabytes 13] [--dask-galaxies 20000] [--memmap-only]
Results: benchmarks/results/bench_scale/; the memmap goes to --scratch and is
deleted afterwards. ``--memmap-only`` measures the memmap transform alone and replaces only
its figures in the existing results.
"""

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from minuet_sk import AsinhStretch, MinuetEncoder, __version__, parallel
from minuet_sk.datasets import make_galaxies

from _common import RESULTS, record


def _peak_rss_gb():
    """Peak resident memory of this address space: VmHWM (Linux). ru_maxrss would not do for
    a child process: Linux keeps it across fork and exec, so a child reports its parent's."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _write_memmap(path, n, tiles):
    """n images: the simulated tiles repeated, each copy flipped/rolled so rows differ."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(n,) + tiles.shape[1:])
    for start in range(0, n, len(tiles)):
        stop = min(start + len(tiles), n)
        block = np.roll(tiles, start // len(tiles), axis=-1)[: stop - start]
        out[start:stop] = block
    out.flush()
    del out


def _transform_in_child(path, threads, queue):
    """Encode the file in this fresh process; report its time and peak RSS."""
    torch.set_num_threads(threads)
    model = MinuetEncoder.from_pretrained("sim-grz-72", device="cpu").set_params(batch_size=512)
    if str(path).endswith(".h5"):
        import h5py

        X = h5py.File(path, "r")["images"]
    else:
        X = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    Z = model.transform(X)
    queue.put({"seconds": round(time.perf_counter() - start, 1),
               "galaxies_per_s": round(len(Z) / (time.perf_counter() - start)),
               "peak_rss_gb": round(_peak_rss_gb(), 2), "latents": Z[:2048]})


def _measure(path, threads):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_transform_in_child, args=(str(path), threads, queue))
    child.start()
    out = queue.get()
    child.join()
    return out


def _write_h5(path, npy):
    import h5py

    X = np.load(npy, mmap_mode="r")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("images", shape=X.shape, dtype=X.dtype, chunks=(256,) + X.shape[1:])
        for start in range(0, len(X), 4096):
            d[start:start + 4096] = np.asarray(X[start:start + 4096])


def _read_rows(path, start, stop):
    return np.load(path, mmap_mode="r")[start:stop]


def _lazy_npy(path, n, chunk):
    """A dask array over rows of a .npy file that each worker reads itself (no data in the
    task graph)."""
    import dask
    import dask.array as da

    head = np.load(path, mmap_mode="r")
    parts = [da.from_delayed(dask.delayed(_read_rows)(str(path), s, min(s + chunk, n)),
                             shape=(min(s + chunk, n) - s,) + head.shape[1:], dtype=head.dtype)
             for s in range(0, n, chunk)]
    return da.concatenate(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=13.0)
    parser.add_argument("--dask-galaxies", type=int, default=20000)
    parser.add_argument("--scratch", default=tempfile.gettempdir())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memmap-only", action="store_true",
                        help="measure only the memmap transform; keep the other results")
    args = parser.parse_args(argv)
    if args.memmap_only:
        return _memmap_only(args)
    torch.set_num_threads(args.threads)

    tiles = AsinhStretch().fit_transform(
        make_galaxies(1000, image_size=72, random_state=5).images).reshape(-1, 3, 72, 72)
    model = MinuetEncoder.from_pretrained("sim-grz-72", device="cpu").set_params(batch_size=512)
    n = int(args.gigabytes * 1024**3 / tiles[0].nbytes)
    path = Path(args.scratch) / "minuet_scale_memmap.npy"
    result = {"package_version": __version__, "machine": platform.platform(),
              "cpu_count": os.cpu_count(), "torch_threads": args.threads,
              "ram_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3}
    try:
        start = time.perf_counter()
        _write_memmap(path, n, tiles)
        result["memmap"] = {"n_images": n, "gigabytes": round(path.stat().st_size / 1024**3, 2),
                            "write_seconds": round(time.perf_counter() - start, 1)}
        h5 = path.with_suffix(".h5")
        _write_h5(h5, path)
        result["out_of_core_transform"] = {}
        for name, source in (("hdf5", h5), ("npy_memmap", path)):
            out = _measure(source, args.threads)
            latents = out.pop("latents")
            result["out_of_core_transform"][name] = {**out, "torch_threads": args.threads,
                                                     "command": _command(args)}
        h5.unlink()
        Z = latents  # the first 2048 latents, for the Dask comparison
        print(json.dumps(result, indent=1))

        from distributed import Client, LocalCluster

        Xd = _lazy_npy(path, args.dask_galaxies, 2048)
        result["dask"] = {"n_galaxies": args.dask_galaxies}
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                lazy = parallel.transform(model, Xd)
                client.compute(lazy[:2048]).result()  # ship the model, warm the workers
                start = time.perf_counter()
                out = client.compute(lazy).result()
                seconds = time.perf_counter() - start
            result["dask"][f"{workers}_workers"] = {
                "seconds": round(seconds, 1),
                "galaxies_per_s": round(args.dask_galaxies / seconds),
                "equal_to_in_memory": bool(np.allclose(out[: len(Z)], Z,
                                                       rtol=1e-4, atol=1e-5)),
            }
    finally:
        path.unlink(missing_ok=True)
        path.with_suffix(".h5").unlink(missing_ok=True)
    _write_results(result, args)


def _command(args):
    return ("python benchmarks/bench_scale.py --gigabytes "
            f"{args.gigabytes} --threads {args.threads}"
            + (" --memmap-only" if args.memmap_only else ""))


def _memmap_only(args):
    """Re-measure the memmap transform; the other figures stay as they were."""
    torch.set_num_threads(args.threads)
    result = json.loads((RESULTS / "bench_scale" / "latest.json").read_text())["figures"]
    tiles = AsinhStretch().fit_transform(
        make_galaxies(1000, image_size=72, random_state=5).images).reshape(-1, 3, 72, 72)
    n = int(args.gigabytes * 1024**3 / tiles[0].nbytes)
    path = Path(args.scratch) / "minuet_scale_memmap.npy"
    try:
        _write_memmap(path, n, tiles)
        gigabytes = round(path.stat().st_size / 1024**3, 2)
        out = _measure(path, args.threads)
    finally:
        path.unlink(missing_ok=True)
    out.pop("latents")
    result["out_of_core_transform"]["npy_memmap"] = {
        **out, "n_images": n, "gigabytes": gigabytes, "torch_threads": args.threads,
        "command": _command(args)}
    _write_results(result, args)


def _write_results(result, args):
    oc, dk = result["out_of_core_transform"], result["dask"]
    lines = []
    for name, o in oc.items():
        n_images = o.get("n_images", result["memmap"]["n_images"])
        gigabytes = o.get("gigabytes", result["memmap"]["gigabytes"])
        threads = o.get("torch_threads", result["torch_threads"])
        command = o.get("command", "python benchmarks/bench_scale.py --gigabytes "
                                   f"{result['memmap']['gigabytes']}")
        lines.append(
            f"- Out of core, {name}: {n_images} images of 3x72x72 float32 ({gigabytes} GB on "
            f"disk) encoded by the shipped sim-grz-72 model in a fresh process: {o['seconds']} "
            f"s ({o['galaxies_per_s']} galaxies/s, {threads} torch threads), peak RSS "
            f"{o['peak_rss_gb']} GB (`{command}`).")
    markdown = (
        "# Scale on one machine\n\n"
        f"On {result['machine']} ({result['cpu_count']} cores, {result['ram_gb']:.0f} GB RAM).\n\n"
        + "\n".join(lines) + "\n"
        "  (Memmap rows are copied and their pages released with madvise(MADV_DONTNEED) as "
        "they are read, so the file's pages do not stay in the reader's RSS; HDF5 reads into "
        "fresh buffers.)\n"
        f"- Dask LocalCluster, process workers with 1 thread, {dk['n_galaxies']} galaxies read "
        f"by the workers from the .npy file: 1 worker {dk['1_workers']['galaxies_per_s']} "
        f"galaxies/s, 2 workers {dk['2_workers']['galaxies_per_s']} galaxies/s; equal to "
        f"the in-process latents: "
        f"{dk['1_workers']['equal_to_in_memory'] and dk['2_workers']['equal_to_in_memory']}.\n")
    print(markdown)
    npy = oc["npy_memmap"]
    record("bench_scale", figures=result, markdown=markdown,
           settings={"gigabytes": args.gigabytes, "threads": args.threads,
                     "dask_galaxies": args.dask_galaxies, "memmap_only": args.memmap_only},
           headline=f"out of core: {npy.get('gigabytes', result['memmap']['gigabytes'])} GB at "
                    f"{npy['galaxies_per_s']} galaxies/s, peak RSS {npy['peak_rss_gb']} GB; Dask "
                    f"2 workers {dk['2_workers']['galaxies_per_s']}/s",
           target="peak RSS well below the array's size")


if __name__ == "__main__":
    main()
