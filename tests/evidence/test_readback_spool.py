"""Where a read-back keeps the object's bytes (evidence/readback.py): a photo the store says is
at most 8 MiB in memory, larger ones and videos on disk; the same size, first bytes and
SHA-256 either way, and a store sending more than it announced is cut off."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence import readback
from evidence.readback import spooled_object
from infra.objectstore import ObjectInfo, S3ObjectStore


def _files(directory: Path) -> list[Path]:
    return list(directory.iterdir())


@pytest.mark.parametrize(
    ("size", "on_disk", "in_memory"),
    [
        (5 * 1024 * 1024 + 17, False, True),  # a phone photo: in memory
        (readback._PHOTO_SPOOL_IN_MEMORY, False, True),
        (readback._PHOTO_SPOOL_IN_MEMORY + 1, False, False),
        (300_000, True, False),  # a video, however small
        (0, False, True),
    ],
)
async def test_where_the_bytes_are_kept(
    store: S3ObjectStore, tmp_path: Path, size: int, on_disk: bool, in_memory: bool
) -> None:
    data = os.urandom(size)
    key = f"tests/spool-{size}-{on_disk}"
    await store.put_bytes(key, data, content_type="application/octet-stream")
    hasher = hashlib.sha256()
    with spooled_object(
        store, key, on_disk=on_disk, spool_dir=tmp_path, limit=size, hasher=hasher,
        expect_size=size,
    ) as (spool, got, head, info):  # fmt: skip
        assert isinstance(spool, io.BytesIO) is in_memory
        assert (_files(tmp_path) == []) is in_memory  # on disk: a file in the spool dir
        assert got == info.size == size
        assert head == data[: readback.SNIFF_BYTES]
        assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
        assert spool.read() == data
    assert _files(tmp_path) == []  # nothing left behind


class _Liar:
    """A store announcing ``announced`` bytes and sending chunks without end."""

    def __init__(self, announced: int) -> None:
        self.announced = announced
        self.sent = 0
        self.closed = False

    def open_chunks(self, key: str, *, chunk_size: int) -> tuple[ObjectInfo, Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    self.sent += chunk_size
                    yield b"\xff" * chunk_size
            finally:
                self.closed = True

        return ObjectInfo(key=key, size=self.announced, etag="x"), chunks()


@pytest.mark.parametrize("limit", [3 * 1024 * 1024, 64 * 1024 * 1024])
def test_a_store_sending_more_than_it_announced_is_cut_off(tmp_path: Path, limit: int) -> None:
    """Memory stays bounded by the smaller of the limit and the in-memory bound, whatever
    the store sends; the size read tells the caller it was not the object announced."""
    liar = _Liar(announced=1024)
    bound = min(limit, readback._PHOTO_SPOOL_IN_MEMORY)
    with spooled_object(
        liar,
        "k",
        on_disk=False,
        spool_dir=tmp_path,
        limit=limit,  # type: ignore[arg-type]
    ) as (spool, got, _head, info):
        assert info.size == 1024
        assert bound < got <= bound + readback._CHUNK
        assert len(spool.read()) == got
    assert liar.closed and liar.sent == got
