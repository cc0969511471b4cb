"""How the process asks glibc's allocator to manage memory (Linux; elsewhere nothing changes).

Requests run in Gradio's worker threads, and glibc gives worker threads malloc arenas of their own.
Left to itself it hands each large tensor its own mmap and returns it to the system when freed, so
every request faults its buffers in again: measured on the receptive-field view (a backward pass),
~20 ms of a 110 ms request, against ~5 ms from the main thread. With fixed thresholds the freed
memory is reused instead; `malloc_trim` (the load test's memory check) still returns it on demand.
"""
from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENAS = 2                   # by default each worker thread gets an arena (up to 8 per core) that keeps freed memory
MMAP_THRESHOLD = 64 << 20    # blocks under 64 MB are reused (a 48-frame strip: 48×32×64×64 floats, 25 MB)
TRIM_THRESHOLD = 256 << 20   # an arena keeps up to 256 MB of free memory at its top before giving it back


def tune_malloc(arenas: int = ARENAS, mmap_threshold: int = MMAP_THRESHOLD,
                trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Cap glibc's arenas and fix its mmap and trim thresholds; True when glibc took them.

    Must run before the worker threads start (an arena, once made, stays).
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc: nothing to do
        return False
    taken = [mallopt(option, value) == 1 for option, value in
             ((M_ARENA_MAX, arenas), (M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold))]
    return all(taken)


def give_back() -> bool:
    """Return the allocator's free memory to the system (glibc's malloc_trim); True when glibc did.

    After a large decode the freed pixels stay in the arena (below the trim threshold above), so the
    process kept its peak: 404 → 868 MiB after one WebP.
    """
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False
