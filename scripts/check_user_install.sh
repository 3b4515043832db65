#!/usr/bin/env bash
# Install minuet_sk as a user does and run its entry points: a wheel built from this
# checkout, installed with its runtime dependencies only (no extras) into a fresh virtual
# environment, then `minuet --version`, `minuet --help` and the tiny demo, run away from the
# checkout so that only the installed package can be imported, and the README's recipe for
# your own cutouts (its Python and its command line, as written). A runtime dependency missing
# from pyproject.toml fails here, where the test extras cannot hide it. CI runs it first.
#
#   bash scripts/check_user_install.sh           # PYTHON=python3.12 TORCH=torch to vary
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHON=${PYTHON:-python3}
TORCH=${TORCH:-torch==2.13.0}  # this machine's CPU wheel, as in the Makefile
start=$SECONDS

"$PYTHON" -m venv "$work/venv"
bin="$work/venv/bin"
"$bin/python" -m pip install --quiet --upgrade pip
# build from a copy of the checkout's files (tracked, and untracked but not ignored): an
# in-tree build would package whatever stale modules an old build/ folder still holds
mkdir "$work/src"
git -C "$root" ls-files -z --cached --others --exclude-standard \
  | tar -C "$root" --null --ignore-failed-read -T - -cf - | tar -C "$work/src" -xf -
"$bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$work/src"
"$bin/python" -m pip install --quiet "$TORCH"
"$bin/python" -m pip install --quiet "$work"/dist/minuet_sk-*.whl
installed=$SECONDS

cd "$work"
"$bin/minuet" --version
"$bin/minuet" --help >/dev/null
"$bin/minuet" demo --preset tiny --out "$work/demo"
test -s "$work/demo/index.html"

# The README's recipe for your own cutouts, Python and command line, run as written on a
# folder of real Legacy Survey cutouts (tests/data/legacysurvey: the native-scale one, twice)
mkdir "$work/my_cutouts"
cp "$root/tests/data/legacysurvey/dr5_native_0p262.fits" "$work/my_cutouts/a.fits"
cp "$root/tests/data/legacysurvey/dr5_native_0p262.fits" "$work/my_cutouts/b.fits"
"$bin/python" - "$root/README.md" "$work/recipe" <<'PY'
import re, sys
from pathlib import Path
readme, out = Path(sys.argv[1]).read_text(), Path(sys.argv[2])
blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
          if 'load_fits_cutouts("my_cutouts/")' in b]
commands = re.findall(r"`(minuet (?:encode|predict) [^`]+)`", readme)
assert len(blocks) == 1 and len(commands) == 2, (len(blocks), commands)
out.with_suffix(".py").write_text(blocks[0] + "\nprint(posterior.to_frame())\n")
out.with_suffix(".sh").write_text("set -e\n" + "\n".join(commands) + "\n")
PY
"$bin/python" "$work/recipe.py"
PATH="$bin:$PATH" bash "$work/recipe.sh"
test -s latents.parquet && test -s posteriors.csv
echo "user install: $((installed - start)) s; --version, --help, the tiny demo and the README's recipe: $((SECONDS - installed)) s"
