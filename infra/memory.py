"""Keep long-lived objects out of the cyclic garbage collector's way.

A full collection walks every tracked object: about 160,000 once the app is imported, and
780,000 once a county's 200,000 parcels are in the geofence index, which costs 80-170 ms
here, paid by whichever request happens to trigger it. :func:`freeze_long_lived` moves what
is alive now (modules, the app, an index just built) to the collector's permanent
generation, so later collections only walk what requests allocate. Frozen objects are still
freed by reference counting; only cyclic garbage among them would stay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

__all__ = ["freeze_long_lived", "release_free_memory"]


def freeze_long_lived(*, collect: bool = False) -> None:
    """Exempt every object alive now from later cyclic collections.

    ``collect`` first frees what is already garbage (a full collection: use it once, at
    start-up, not on a request path).
    """
    if collect:
        gc.collect()
    gc.freeze()


#: glibc's ``M_MMAP_THRESHOLD``: allocations at least this large get pages of their own,
#: returned to the system when freed. glibc raises the threshold each time such a block is
#: freed (up to 32 MiB), after which the large arrays of an evicted index would stay in the
#: heap; fixing it keeps them out.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 256 * 1024


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


_LIBC = _libc()


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``).

    Building a large structure from many small temporary allocations (GEOS geometries of a
    county's layers) leaves their pages free but resident; without this the process's
    resident memory stays at its high-water mark instead of what it holds.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
