#!/usr/bin/env bash
# Does the suite pass at the newest dependency versions? `make test` and CI's main step run
# at the versions pinned in requirements/test-constraints.txt, so that a new release cannot
# turn them red unannounced; this step installs the newest versions the registry gives
# (torch pinned as in the Makefile) in a fresh venv, lists what differs from the pins, and
# runs the fast tests. It says plainly whether they pass; CI reports it and goes on (exit 0
# with REPORT_ONLY=1), and a failure is the cue to fix the code before refreshing the pins
# (scripts/refresh_constraints.sh).
#
#   bash scripts/check_newest_deps.sh            # REPORT_ONLY=1 to exit 0 whatever happens
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHON=${PYTHON:-python3}
TORCH=${TORCH:-torch==2.13.0}

"$PYTHON" -m venv "$work/venv"
pip="$work/venv/bin/pip"
"$pip" install --quiet --upgrade pip
"$pip" install --quiet "$TORCH" && "$pip" install --quiet --upgrade -e "$root[test]" || {
  echo "newest dependency versions: could not install them (see above)"
  [ "${REPORT_ONLY:-0}" = 1 ] && exit 0 || exit 1
}
"$pip" freeze --exclude-editable | LC_ALL=C sort >"$work/newest.txt"
echo "newest dependency versions, where they differ from requirements/test-constraints.txt:"
grep -v '^#' "$root/requirements/test-constraints.txt" | LC_ALL=C sort \
  | LC_ALL=C comm -13 - "$work/newest.txt" | grep -viE '^(torch|nvidia-|triton)' \
  | sed 's/^/  /' || echo "  (none)"
cd "$root"
if MPLBACKEND=Agg "$work/venv/bin/python" -m pytest -m "not slow" -q -n 2 -p no:cacheprovider; then
  echo "newest dependency versions: the fast tests PASS"
else
  echo "newest dependency versions: the fast tests FAIL (the pinned suite is what gates CI;"
  echo "fix the code for the versions listed above before refreshing the pins)"
  [ "${REPORT_ONLY:-0}" = 1 ] && exit 0 || exit 1
fi
