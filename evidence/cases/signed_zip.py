"""Signed ZIP exports streamed from the object store: the referral package and the 案卷.

Both exports are built the same way: a list of :class:`ZipEntry` (files made in memory, or
objects streamed from the store and hashed while they stream), a ``manifest.json`` listing
every file's SHA-256 and size, and its Ed25519 signature under the package key pair
(``manifest.sig`` as JSON, ``manifest.sig.bin`` raw for OpenSSL). :func:`signed_entries`
signs a manifest; :func:`stream_zip` writes the ZIP (stored, ZIP64 when needed) in chunks of
about ``chunk_size`` bytes, stopping with :class:`PackageSourceMismatchError` when a stored
object's bytes differ from the hash recorded for it. :func:`evidence.cases.package.verify_package`
checks either kind of export.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import zipfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from evidence.cases.errors import PackageSourceMismatchError
from evidence.cases.package_keys import ALGORITHM, PackageSigner
from infra.objectstore import ObjectStore
from infra.scope import COUNTY_TZ

__all__ = [
    "CHUNK",
    "MANIFEST",
    "PUBLIC_KEY",
    "SIGNATURE",
    "SIGNATURE_BIN",
    "SignedManifest",
    "StreamedZip",
    "ZipEntry",
    "data_entry",
    "signed_entries",
    "stream_zip",
]

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNATURE_BIN = "manifest.sig.bin"
PUBLIC_KEY = "public-key.pem"
CHUNK = 1024 * 1024
_ZIP64_AT = 1 << 31


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One file of an export: ``data`` made here (small), or ``key`` streamed from the store
    (its ``size`` and ``sha256`` are the ones recorded when it was stored)."""

    path: str
    size: int
    sha256: str
    key: str | None = None
    data: bytes | None = None


def data_entry(path: str, data: bytes) -> ZipEntry:
    return ZipEntry(path, len(data), hashlib.sha256(data).hexdigest(), data=data)


@dataclass(frozen=True, slots=True)
class SignedManifest:
    manifest_bytes: bytes
    signature: str  # base64 Ed25519 signature of manifest_bytes
    entries: tuple[ZipEntry, ...]  # manifest.json, manifest.sig, manifest.sig.bin

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_bytes).hexdigest()


def signed_entries(manifest: Mapping[str, Any], signer: PackageSigner) -> SignedManifest:
    """``manifest`` as JSON and its Ed25519 signature under ``signer`` (the three files that
    end an export)."""
    manifest_bytes = json.dumps(
        manifest, ensure_ascii=False, indent=1, sort_keys=True, allow_nan=False
    ).encode("utf-8")
    raw = signer.sign(manifest_bytes)
    signature = base64.b64encode(raw).decode("ascii")
    sig_bytes = json.dumps(
        {
            "alg": ALGORITHM,
            "keyId": signer.key_id,
            "signature": signature,
            "manifestSha256": hashlib.sha256(manifest_bytes).hexdigest(),
        },
        indent=1,
        sort_keys=True,
    ).encode("utf-8")
    entries = (
        data_entry(MANIFEST, manifest_bytes),
        data_entry(SIGNATURE, sig_bytes),
        data_entry(SIGNATURE_BIN, raw),
    )
    return SignedManifest(manifest_bytes, signature, entries)


class _Sink:
    """A write-only, unseekable file for :mod:`zipfile`; bytes are taken out as they come."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def write(self, data: bytes) -> int:
        self._buf += data
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def pending(self) -> int:
        return len(self._buf)

    def take(self) -> bytes:
        out = bytes(self._buf)
        self._buf.clear()
        return out


@dataclass(frozen=True, slots=True)
class _Feed:
    """Absorbs one streamed object into the ZIP entry, hashing as it goes."""

    out: IO[bytes]
    digest: Any = field(default_factory=hashlib.sha256)

    def absorb(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.out.write(chunk)


async def _stream_object(
    store: ObjectStore, entry: ZipEntry, out: IO[bytes], sink: _Sink, chunk_size: int
) -> AsyncIterator[bytes]:
    assert entry.key is not None
    feed = _Feed(out)
    size = 0
    async for chunk in store.aiter_chunks(entry.key, chunk_size=chunk_size):
        size += len(chunk)
        await asyncio.to_thread(feed.absorb, chunk)
        if sink.pending >= chunk_size:
            yield sink.take()
    digest = feed.digest.hexdigest()
    if size != entry.size or digest != entry.sha256:
        raise PackageSourceMismatchError(
            "a stored original no longer matches the hash taken when it was accepted",
            path=entry.path,
            expected_sha256=entry.sha256,
            actual_sha256=digest,
            expected_size=entry.size,
            actual_size=size,
        )


async def stream_zip(
    entries: Sequence[ZipEntry],
    store: ObjectStore,
    *,
    created_at: datetime,
    chunk_size: int = CHUNK,
) -> AsyncIterator[bytes]:
    """The ZIP of ``entries`` in their order, in chunks of about ``chunk_size`` bytes."""
    sink = _Sink()
    stamp = created_at.astimezone(COUNTY_TZ).timetuple()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for entry in entries:
            info = zipfile.ZipInfo(entry.path, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = entry.size
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=entry.size >= _ZIP64_AT) as out:
                if entry.data is not None:
                    out.write(entry.data)
                else:
                    async for piece in _stream_object(store, entry, out, sink, chunk_size):
                        yield piece
            if sink.pending:
                yield sink.take()
    if sink.pending:
        yield sink.take()


class StreamedZip:
    """What a prepared export (a referral package, a case file) does with its entries: stream
    them as one ZIP (``async for chunk in export``, exactly once) or save it to a file. The
    export is a slotted dataclass holding these members."""

    __slots__ = ()
    created_at: datetime
    manifest_bytes: bytes
    _entries: list[ZipEntry]
    _store: ObjectStore
    _chunk_size: int

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_bytes).hexdigest()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.chunks()

    def chunks(self) -> AsyncIterator[bytes]:
        """The ZIP, in chunks of about ``chunk_size`` bytes."""
        return stream_zip(
            self._entries, self._store, created_at=self.created_at, chunk_size=self._chunk_size
        )

    async def save(self, path: Path) -> int:
        """Write the ZIP to ``path`` (the CLI, tests, benches); returns its size."""
        written = 0
        with path.open("wb") as handle:
            async for chunk in self.chunks():
                handle.write(chunk)
                written += len(chunk)
        return written
