"""Reading an uploaded object back: hash while streaming, then sniff, check and parse.

Runs in a worker thread (blocking boto3 reads). Memory stays bounded: the object arrives in
1 MiB chunks and is spooled to a temporary file (photos stay in memory up to 8 MiB, videos
always go to disk), so a 4 GiB video costs one chunk of RAM plus FFmpeg's own buffers.
The declared SHA-256 is checked before any parser sees the bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from evidence.errors import (
    EvidenceHashMismatchError,
    EvidenceSizeMismatchError,
    EvidenceTypeMismatchError,
    FileEmptyError,
)
from evidence.media import SNIFF_BYTES, MediaType, Sniffed, check_container, sniff
from evidence.metadata import DEFAULT_MAX_PIXELS, FileMeta, read_photo_meta, read_video_meta
from infra.objectstore import ObjectInfo, ObjectStore

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
    """Stream ``key`` into a temporary file; yields ``(file, size, first bytes, info)``, the
    info (size, ETag) as the store answered the read.

    Stops reading once more than ``limit`` bytes arrived (the size check then fails) so a
    swapped, larger object cannot fill the disk. With ``expect_size``, an object the store
    says is of another size is refused before any byte is read
    (:class:`EvidenceSizeMismatchError`). A missing object raises ``ObjectNotFoundError``.
    """
    directory = str(spool_dir) if spool_dir is not None else None
    spool: IO[bytes]
    if on_disk:
        spool = tempfile.NamedTemporaryFile(prefix="evidence-", dir=directory)  # noqa: SIM115
    else:
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=_PHOTO_SPOOL_IN_MEMORY, prefix="evidence-", dir=directory
        )
    with spool:
        info, chunks = store.open_chunks(key, chunk_size=_CHUNK)
        if expect_size is not None and info.size != expect_size:
            chunks.close()
            raise _size_mismatch(info.size, expect_size)
        size = 0
        head = b""
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
        yield spool, size, head, info


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
