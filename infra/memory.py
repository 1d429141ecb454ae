"""Keep long-lived objects out of the cyclic garbage collector's way.

A full collection walks every tracked object: about 160,000 once the app is imported, and
780,000 once a county's 200,000 parcels are in the geofence index, which costs 80-170 ms
here, paid by whichever request happens to trigger it. :func:`freeze_long_lived` moves what
is alive now (modules, the app, an index just built) to the collector's permanent
generation, so later collections only walk what requests allocate. Frozen objects are still
freed by reference counting; only cyclic garbage among them would stay.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import sys
import threading
from collections.abc import Iterator

__all__ = ["freeze_long_lived", "no_cyclic_collection", "release_free_memory"]


def freeze_long_lived(*, collect: bool = False) -> None:
    """Exempt every object alive now from later cyclic collections.

    ``collect`` first frees what is already garbage (a full collection: use it once, at
    start-up, not on a request path).
    """
    if collect:
        gc.collect()
    gc.freeze()


_PAUSES = threading.Lock()
_paused = 0


@contextlib.contextmanager
def no_cyclic_collection() -> Iterator[None]:
    """No cyclic collection while a large answer of acyclic objects is built (a batch check's
    10,000 answers: about 30,000 Structs and lists, freed by reference counting).

    Allocating that many objects set off a few dozen young and some full collections, each
    walking everything built so far: a build of 27 ms took up to 140 ms. Nested and
    concurrent uses (worker threads) keep collection off until the last one ends.
    """
    global _paused  # noqa: PLW0603 - one count for the process, like the collector itself
    with _PAUSES:
        # switched off by someone else (a test, an embedding program): leave it as it is
        ours = _paused > 0 or gc.isenabled()
        if ours:
            _paused += 1
            gc.disable()
    try:
        yield
    finally:
        if ours:
            with _PAUSES:
                _paused -= 1
                if _paused == 0:
                    gc.enable()


# glibc's mmap threshold is left dynamic on purpose. Fixing it (at 256 KiB) gave every large
# temporary buffer (1 MiB read chunks, a photo's spool) pages of its own, faulted in anew each
# time: evidence intake fell from 57 to 46 photos/s and raw S3 reads from 92 to 81 objects/s
# (bench_evidence.py, three runs each), while an evicted county's arrays go back to the system
# through malloc_trim (below) all the same (bench_index_memory.py: peak 130 MiB for a 153 MiB
# budget without it, 126 MiB with it).


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
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
