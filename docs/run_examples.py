"""Run the Python code of the documentation's example pages, to check that it still works.

``make docs`` shows the examples without running them. This script runs them: the code
blocks of ``getting_started.rst`` and of every page of ``examples/`` (the shared set-up of
``examples/index.rst`` first, then each page in the order of its toctree), in a temporary
folder where the figures are written.

By default the sizes are shrunk so that everything runs in a couple of minutes on a CPU (160
simulated 32 x 32 galaxies, one-epoch encoders, small flows): this checks that the code runs,
not what it finds. ``--full`` runs the pages as written (the sizes of a real analysis).

Run from the repository root:

    .venv/bin/python docs/run_examples.py            # quick smoke run
    .venv/bin/python docs/run_examples.py --full     # the real thing (long)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

DOCS = Path(__file__).resolve().parent

_SHAPE = "image_shape=(3, 32, 32)"
_TINY_MINUET = (
    f"{_SHAPE}, patch_size=8, width=16, encoder_depth=1, decoder_depth=1, diffusion_steps=50, "
    "sampling_steps=4, max_epochs=1, random_state=0"
)
#: (text in the pages, what the quick run uses instead)
TINY = [
    ("make_galaxies(5000, n_jobs=-1, random_state=0)",
     "make_galaxies(160, image_size=32, cache=False, random_state=0)"),
    ("make_galaxies(2000, random_state=0)",
     "make_galaxies(160, image_size=32, cache=False, random_state=0)"),
    ("MinuetEncoder(n_components=5, random_state=0)", f"MinuetEncoder(5, {_TINY_MINUET})"),
    ("MinuetEncoder(5, random_state=0)", f"MinuetEncoder(5, {_TINY_MINUET})"),
    ("VAEEncoder(5, random_state=0)",
     f"VAEEncoder(5, {_SHAPE}, channels=(4,), max_epochs=1, random_state=0)"),
    ("EigengalaxyPCA(5)", f"EigengalaxyPCA(5, {_SHAPE})"),
    ("AsinhStretch()", f"AsinhStretch({_SHAPE})"),
    ("max_epochs=30, lr=3e-4", "max_epochs=2, lr=3e-4"),
    ("make_galaxies(400, random_state=2)", "make_galaxies(16, cache=False, random_state=2)"),
    ("FlowPropertyRegressor(random_state=0)",
     ("FlowPropertyRegressor(max_epochs=2, hidden_features=8, n_transforms=2, n_samples=50, "
      "random_state=0)")),
]


def code_blocks(page):
    """The ``.. code-block:: python`` blocks of an rst page, dedented."""
    text = (DOCS / page).read_text(encoding="utf-8")
    pattern = r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)"
    blocks = re.finditer(pattern, text, flags=re.MULTILINE)
    return ["\n".join(line[3:] for line in b.group(1).splitlines()) for b in blocks]


def toctree(page):
    """Pages listed in the toctree of ``page`` (relative to its folder)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    block = re.search(r"\.\. toctree::\n((?:[ \t]+.*\n|\n)+)", text).group(1)
    entries = [e.strip() for e in block.splitlines()]
    folder = Path(page).parent
    return [str(folder / f"{e}.rst") for e in entries if e and not e.startswith(":")]


def run(code, label, namespace):
    """Execute ``code`` in ``namespace``; print and return whether it worked."""
    start = time.perf_counter()
    try:
        exec(compile(code, label, "exec"), namespace)  # noqa: S102 (our own pages' code)
    except Exception:  # noqa: BLE001 (report any failure of a page, then go on)
        traceback.print_exc()
        print(f"FAILED  {label}")
        return False
    print(f"ok      {label} ({time.perf_counter() - start:.0f} s)")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run the pages as written")
    args = parser.parse_args(argv)
    os.environ["MPLBACKEND"] = "Agg"

    def prepare(page):
        code = "\n".join(code_blocks(page))
        for old, new in [] if args.full else TINY:
            code = code.replace(old, new)
        return code

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # figures land here
        os.environ.setdefault("MINUET_SK_DATA", os.path.join(tmp, "cache"))
        results.append(run(prepare("getting_started.rst"), "getting_started.rst", {}))
        # The example pages share one session: each starts from examples/index.rst, and later
        # pages reuse what earlier ones defined (anomalies uses the posterior model).
        session = {"__name__": "__main__"}
        for page in ["examples/index.rst", *toctree("examples/index.rst")]:
            results.append(run(prepare(page), page, session))
    print(f"{sum(results)} of {len(results)} pages ran")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
