#!/usr/bin/env bash
# Are the floors in pyproject.toml true? Installs the lowest version of each direct runtime
# dependency that pyproject.toml allows (uv's lowest-direct resolution), then the test tools
# constrained to that set, and runs the fast tests (not the `slow` ones) against it.
#
# CI runs it last (about 3 minutes on 2 cores once uv's cache holds torch's floor, a CUDA
# build from PyPI with several GB of NVIDIA libraries; the tests run on the CPU).
#
#   bash scripts/check_lowest_deps.sh            # PYTHON=python3.12 to vary
#   bash scripts/check_lowest_deps.sh benchmarks/quality_flow_calibration.py --seeds 10
#                                                # a script at the floors instead of the tests
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHON=${PYTHON:-python3}

"$PYTHON" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet uv
uv="$work/tools/bin/uv"
"$uv" venv --quiet --python "$PYTHON" "$work/venv"
py="$work/venv/bin/python"

# 1. The runtime dependencies at their floors (the lowest that satisfy every constraint).
"$uv" pip install --quiet --python "$py" --resolution lowest-direct -r "$root/pyproject.toml"
"$uv" pip freeze --python "$py" >"$work/floors.txt"
# 2. The test tools, without moving any runtime dependency (constrained to step 1's set).
"$uv" pip install --quiet --python "$py" -c "$work/floors.txt" \
  pytest pytest-xdist pyarrow "dask[array,dataframe,distributed]" accelerate zarr
"$uv" pip install --quiet --python "$py" --no-deps -e "$root"

echo "installed (direct runtime dependencies):"
"$py" - "$root/pyproject.toml" <<'PY'
import re, sys, tomllib
from importlib.metadata import version
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
for spec in deps:
    name = re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0]
    print(f"  {spec:28s} -> {name}=={version(name)}")
PY
cd "$root"
if [ $# -gt 0 ]; then  # a command of its own at the floors, e.g. a benchmark: python ARGS
  MPLBACKEND=Agg "$py" "$@"
else
  MPLBACKEND=Agg "$py" -m pytest -m "not slow" -q -n 2 -p no:cacheprovider
fi
