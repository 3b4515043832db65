"""What pytest collects from the package's doctests (``--doctest-modules``): the examples
of an optional extra run only where the extra is installed (the lowest-dependency check
installs none)."""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("statmorph") is None:
    collect_ignore.append("minuet_sk/metrics/_statmorph.py")
