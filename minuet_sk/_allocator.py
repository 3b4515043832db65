"""glibc's malloc, set to keep the memory that streaming work frees and allocates again.

Drawing from a flow streams galaxies through the same computation in batches: each batch
allocates and frees the same few dozen tensors of 0.1-10 MiB. By default glibc serves
blocks above a threshold with a fresh ``mmap`` and hands the top of its heap back to the
kernel as soon as more than a threshold is free there; both thresholds start at 128 KiB
and adapt as blocks are freed. For this pattern the adaptation loses: one batch's tensors
are mapped afresh or trimmed away at the end of the batch, and the next batch pays a
page fault (the kernel zeroing a 4 KiB page) for every page it touches. Measured on 2
cores, 3 x 10^6 draws from the default flow took 3.0-6.5 s with 0.1-2.8 million page
faults, by batch size; with the thresholds below, 2.7-3.1 s and under a thousand faults
(``benchmarks/notes/flow_speed.md``).

:func:`keep_freed_memory` sets the two thresholds once per process to the ceiling that
glibc's own adaptation reaches on 64-bit systems (blocks under 32 MiB come from the heap;
up to 64 MiB of freed memory stays mapped for reuse). It changes nothing where the user
chose the thresholds (``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` in the
environment) or where the C library is not glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # the ratio glibc's adaptation keeps
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


@functools.cache
def keep_freed_memory():
    """Set glibc's mmap and trim thresholds for streaming work, once per process.

    Returns
    -------
    bool
        True where the thresholds were set (or had been set by an earlier call); False on
        other C libraries or where the environment already chose them.

    Examples
    --------
    >>> from minuet_sk._allocator import keep_freed_memory
    >>> _ = keep_freed_memory()  # before a long sampling loop; later calls do nothing
    """
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
