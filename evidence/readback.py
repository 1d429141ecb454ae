"""Reading an uploaded object back: hash while streaming, then sniff, check and parse.

Runs in a worker thread (blocking boto3 reads). Memory stays bounded: a photo of at most 8 MiB
(its size as the GET answered it) is read into one buffer of that size, straight from the
socket, and parsed in place, so its bytes are copied once; any other object arrives in 1 MiB
chunks and is spooled to a temporary file (larger photos in memory up to 8 MiB, videos always
on disk), so a 4 GiB video costs one chunk of RAM plus FFmpeg's own buffers. Either way every
byte is hashed as it arrives, and the declared SHA-256 is checked before any parser sees the
bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from evidence.errors import (
    EvidenceHashMismatchError,
    EvidenceSizeMismatchError,
    EvidenceTypeMismatchError,
    FileEmptyError,
)
from evidence.media import SNIFF_BYTES, MediaType, Sniffed, check_container, sniff
from evidence.metadata import DEFAULT_MAX_PIXELS, FileMeta, read_photo_meta, read_video_meta
from infra.objectstore import ObjectBody, ObjectInfo, ObjectStore

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["Inspection", "inspect_object", "spooled_object"]

_CHUNK = 1024 * 1024
_PHOTO_SPOOL_IN_MEMORY = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Inspection:
    sha256: str
    size: int
    media: MediaType
    meta: FileMeta
    etag: str  # the store's ETag of the bytes read


@contextmanager
def spooled_object(
    store: ObjectStore,
    key: str,
    *,
    on_disk: bool,
    spool_dir: Path | None,
    limit: int,
    hasher: Any = None,
    expect_size: int | None = None,
) -> Iterator[tuple[IO[bytes], int, bytes, ObjectInfo]]:
    """Read ``key`` into a file; yields ``(file, size, first bytes, info)``, the info (size,
    ETag) as the store answered the read.

    A photo (not ``on_disk``) the GET says is of at most ``limit`` bytes and 8 MiB lands in one
    buffer of that size, read from the socket without a copy between; anything else is
    spooled to a temporary file in chunks. Stops reading once more than ``limit`` bytes
    arrived (the size check then fails) so a swapped, larger object cannot fill the disk. With
    ``expect_size``, an object the store says is of another size is refused before any byte
    is read (:class:`EvidenceSizeMismatchError`). A missing object raises
    ``ObjectNotFoundError``; a body that ends short of the size its GET answered,
    ``ObjectStoreUnavailableError``.
    """
    info, body = store.open_object(key)
    try:
        if expect_size is not None and info.size != expect_size:
            raise _size_mismatch(info.size, expect_size)
        if not on_disk and info.size <= min(limit, _PHOTO_SPOOL_IN_MEMORY):
            file, size, head = _read_in_memory(body, info.size, hasher)
        else:
            file, size, head = _spool(
                body, on_disk=on_disk, spool_dir=spool_dir, limit=limit, hasher=hasher
            )
    finally:
        body.close()  # read to its end: the connection goes back to the pool before parsing
    with file:
        yield file, size, head, info


def _read_in_memory(body: ObjectBody, size: int, hasher: Any) -> tuple[IO[bytes], int, bytes]:
    """The body into one buffer of the ``size`` its GET answered, a slice at a time, each slice
    hashed as it arrives (hashlib hashes a buffer without copying it).

    One byte more is asked for at the end: a body longer than its answered size is refused
    rather than cut to fit. A shorter one raises in ``body.readinto``; a body ending early
    anyway yields the bytes it gave, and the caller's size check refuses them.
    """
    view = memoryview(bytearray(size))
    filled = 0
    while filled < size:
        count = body.readinto(view[filled : filled + _CHUNK])
        if count == 0:
            break
        if hasher is not None:
            hasher.update(view[filled : filled + count])
        filled += count
    if filled == size and body.readinto(memoryview(bytearray(1))):
        msg = f"the stored file has more than the {size} bytes its store answered"
        raise EvidenceSizeMismatchError(msg, declared=size, stored=size + 1)
    return _ReadOnlyBuffer(view[:filled]), filled, view[: min(filled, SNIFF_BYTES)].tobytes()


def _spool(
    body: ObjectBody, *, on_disk: bool, spool_dir: Path | None, limit: int, hasher: Any
) -> tuple[IO[bytes], int, bytes]:
    """The body in 1 MiB chunks into a temporary file (on disk, or in memory up to 8 MiB)."""
    directory = str(spool_dir) if spool_dir is not None else None
    spool: IO[bytes]
    if on_disk:
        spool = tempfile.NamedTemporaryFile(prefix="evidence-", dir=directory)  # noqa: SIM115
    else:
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=_PHOTO_SPOOL_IN_MEMORY, prefix="evidence-", dir=directory
        )
    try:
        size = 0
        head = b""
        with contextlib.closing(body.chunks(_CHUNK)) as chunks:
            for chunk in chunks:
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                size += len(chunk)
                if hasher is not None:
                    hasher.update(chunk)
                spool.write(chunk)
                if size > limit:
                    break
        spool.flush()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, size, head


class _ReadOnlyBuffer(io.BufferedIOBase, BinaryIO):
    """A seekable, read-only file over a memoryview, for the parsers: a read copies only the
    bytes it returns (``io.BytesIO`` would copy a bytearray whole first)."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _take(self, size: int | None) -> memoryview:
        if self.closed:
            msg = "I/O operation on closed file"
            raise ValueError(msg)
        start = min(self._pos, len(self._view))
        end = len(self._view) if size is None or size < 0 else min(start + size, len(self._view))
        self._pos = max(self._pos, end)
        return self._view[start:end]

    def read(self, size: int | None = -1) -> bytes:
        return self._take(size).tobytes()

    def read1(self, size: int | None = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        part = self._take(len(target))
        target[: len(part)] = part
        return len(part)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            msg = f"negative seek position {base + offset}"
            raise ValueError(msg)
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._view.release()
        super().close()


def _size_mismatch(stored: int, declared: int) -> EvidenceSizeMismatchError:
    msg = f"the stored file has {stored} bytes, {declared} were declared"
    return EvidenceSizeMismatchError(msg, declared=declared, stored=stored)


def _sniffed(head: bytes, declared: MediaType) -> Sniffed:
    found = sniff(head)
    if found is None:
        msg = "the bytes are not a supported photo or video"
        raise EvidenceTypeMismatchError(msg, declared=declared.mime, detected=None)
    if not found.agrees_with(declared):
        msg = f"the bytes are {found.media.mime}, not {declared.mime} as declared"
        raise EvidenceTypeMismatchError(msg, declared=declared.mime, detected=found.media.mime)
    return found


def inspect_object(
    store: ObjectStore,
    key: str,
    *,
    declared_sha256: str,
    declared_size: int,
    declared: MediaType,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    spool_dir: Path | None = None,
) -> Inspection:
    """Verify size and SHA-256 of the stored object, then its real type and metadata.

    Raises (all 422): :class:`EvidenceSizeMismatchError`, :class:`EvidenceHashMismatchError`,
    :class:`FileEmptyError`, :class:`EvidenceTypeMismatchError`, ``FileCorruptError``,
    ``ImageTooLargeError``.
    """
    hasher = hashlib.sha256()
    with spooled_object(
        store,
        key,
        on_disk=declared.kind == "video",
        spool_dir=spool_dir,
        limit=declared_size,
        hasher=hasher,
        expect_size=declared_size,
    ) as (spool, size, head, info):
        if size == 0:
            msg = "the stored file is empty"
            raise FileEmptyError(msg)
        if size != declared_size:
            raise _size_mismatch(size, declared_size)
        digest = hasher.hexdigest()
        if not hmac.compare_digest(digest, declared_sha256):
            msg = "the stored bytes do not match the declared SHA-256"
            raise EvidenceHashMismatchError(msg, declared=declared_sha256, stored=digest)
        found = _sniffed(head, declared)
        check_container(spool, size, found.media)
        if found.media.kind == "video":
            meta = read_video_meta(spool.name, found.media)
        else:
            meta = read_photo_meta(spool, found.media, max_pixels=max_pixels)
    return Inspection(sha256=digest, size=size, media=found.media, meta=meta, etag=info.etag)
