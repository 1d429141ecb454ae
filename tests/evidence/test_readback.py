"""Reading an uploaded object back (evidence.readback) against the real object store: a photo
of at most 8 MiB goes into one buffer, anything else through the spool, with the same answers
and the same refusals."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from evidence.errors import EvidenceSizeMismatchError
from evidence.media import declared_media_type
from evidence.metadata import read_photo_meta
from evidence.readback import Inspection, inspect_object, spooled_object
from infra.ids import uuid7
from infra.launchers import LocalServices
from infra.objectstore import ObjectNotFoundError, S3ObjectStore
from tests.evidence import media
from tests.tcp_relay import Relay

JPEG = declared_media_type("image/jpeg")
MiB = 1024 * 1024


def _key() -> str:
    return f"scratch/readback/{uuid7()}"


async def _stored(store: S3ObjectStore, data: bytes) -> str:
    key = _key()
    await store.put_bytes(key, data, content_type="image/jpeg")
    return key


def _photo(extra: int = 0) -> bytes:
    """A JPEG with GPS EXIF, grown by ``extra`` bytes after its end marker (still whole)."""
    when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    return media.jpeg(1600, 1200, exif=media.exif_bytes(lon=116.4, lat=39.9, when=when)) + bytes(
        extra
    )


def _spooled(
    store: S3ObjectStore, key: str, *, on_disk: bool, limit: int
) -> tuple[bytes, int, bytes, str]:
    hasher = hashlib.sha256()
    with spooled_object(
        store, key, on_disk=on_disk, spool_dir=None, limit=limit, hasher=hasher
    ) as (file, size, head, _info):
        return file.read(), size, head, hasher.hexdigest()


async def _inspect(store: S3ObjectStore, key: str, declared: bytes) -> Inspection:
    """``inspect_object`` of ``key`` (in a thread) as a JPEG declared to be ``declared``."""
    return await asyncio.to_thread(
        inspect_object,
        store,
        key,
        declared_sha256=hashlib.sha256(declared).hexdigest(),
        declared_size=len(declared),
        declared=JPEG,
    )


@pytest.mark.parametrize("extra", [0, 9 * MiB], ids=["in-memory", "spooled-above-8-MiB"])
async def test_a_photo_reads_back_with_its_digest_size_and_metadata(
    store: S3ObjectStore, extra: int
) -> None:
    data = _photo(extra)
    key = await _stored(store, data)
    found = await _inspect(store, key, data)
    assert (found.sha256, found.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert found.meta == read_photo_meta(io.BytesIO(data), JPEG)
    assert found.meta.gps is not None


async def test_the_buffer_and_the_spool_yield_the_same_bytes(store: S3ObjectStore) -> None:
    data = _photo()
    key = await _stored(store, data)
    in_memory = await asyncio.to_thread(_spooled, store, key, on_disk=False, limit=len(data))
    on_disk = await asyncio.to_thread(_spooled, store, key, on_disk=True, limit=len(data))
    assert in_memory == on_disk
    assert in_memory == (data, len(data), data[:64], hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("stored_extra", [1, -1], ids=["longer", "shorter"])
async def test_an_object_of_another_size_than_declared_is_refused(
    store: S3ObjectStore, stored_extra: int
) -> None:
    data = _photo()
    stored = data + b"\0" if stored_extra > 0 else data[:-1]
    key = await _stored(store, stored)
    with pytest.raises(EvidenceSizeMismatchError) as error:
        await _inspect(store, key, data)
    assert (error.value.extra["declared"], error.value.extra["stored"]) == (
        len(data),
        len(stored),
    )


async def test_a_larger_object_is_not_read_whole(store: S3ObjectStore) -> None:
    data = os.urandom(6 * MiB)  # swapped in for a 1 MiB photo
    key = await _stored(store, data)
    read, size, _head, _digest = await asyncio.to_thread(
        _spooled, store, key, on_disk=False, limit=MiB
    )
    assert MiB < size < len(data)
    assert read == data[:size]


async def test_a_missing_object_is_not_found(store: S3ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        await asyncio.to_thread(
            inspect_object,
            store,
            _key(),
            declared_sha256="0" * 64,
            declared_size=1000,
            declared=JPEG,
        )


async def test_a_read_back_gives_its_connection_back(
    store: S3ObjectStore, services: LocalServices
) -> None:
    if not services.object_store.endpoint_url.startswith("http://"):
        pytest.skip("the relay speaks plain HTTP")
    photos = [_photo(n) for n in (0, 10, 20)]
    keys = [await _stored(store, photo) for photo in photos]

    def read_back(through: S3ObjectStore, key: str, photo: bytes) -> None:
        inspect_object(
            through,
            key,
            declared_sha256=hashlib.sha256(photo).hexdigest(),
            declared_size=len(photo),
            declared=JPEG,
        )

    with Relay(services.object_store.endpoint_url) as relay:
        relayed = S3ObjectStore(replace(services.object_store, endpoint_url=relay.url))
        for key, photo in zip(keys, photos, strict=True):
            await asyncio.to_thread(read_back, relayed, key, photo)
        assert relay.connections == 1
