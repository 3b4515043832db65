#!/usr/bin/env bash
# Refresh requirements/test-constraints.txt, the versions that `make test`, `make docs` and CI
# install for the test environment: the newest the registry gives today for the package with
# its test and docs extras, in a fresh venv. Run it on purpose (a dependency upgrade is a
# change to review: run `make test` after it and commit the file with what it fixed or
# broke), never from CI. Users installing the package are not pinned.
#
#   bash scripts/refresh_constraints.sh          # TORCH="torch==X" PYTHON=python3.12 to vary
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHON=${PYTHON:-python3}
TORCH=${TORCH:-torch==2.13.0}
out="$root/requirements/test-constraints.txt"

"$PYTHON" -m venv "$work/venv"
pip="$work/venv/bin/pip"
"$pip" install --quiet --upgrade pip
"$pip" install --quiet "$TORCH"
"$pip" install --quiet --upgrade -e "$root[test,docs]"
{
  echo "# The test environment of make test, make docs and CI, pinned (pip -c)."
  echo "# Made by scripts/refresh_constraints.sh on $(date -u +%Y-%m-%d) with $("$work/venv/bin/python" --version);"
  echo "# torch is pinned apart (the Makefile's TORCH); refresh on purpose, never by hand."
  "$pip" freeze --exclude-editable | grep -viE '^(torch|nvidia-|triton)([=-]|$)' | sort -f
} >"$out"
echo "wrote $out ($(grep -vc '^#' "$out") packages)"
