"""The S3 object store against a real ``rclone serve s3`` (or ``S3_ENDPOINT_URL``)."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from infra.ids import uuid7
from infra.launchers import LocalServices
from infra.objectstore import (
    MIN_PART_BYTES,
    MultipartNotFoundError,
    ObjectBody,
    ObjectNotFoundError,
    ObjectProtectedError,
    ObjectRejectedError,
    ObjectStore,
    ObjectStoreUnavailableError,
    PartInfo,
    S3ObjectStore,
    md5_b64,
)
from infra.settings import ObjectStoreSettings
from tests.tcp_relay import Relay


@pytest.fixture
async def store(services: LocalServices) -> AsyncIterator[S3ObjectStore]:
    store = S3ObjectStore(services.object_store)
    await store.ensure_bucket()
    yield store


def _key(prefix: str = "scratch") -> str:
    return f"{prefix}/tests/{uuid7()}"


async def test_is_an_object_store(store: S3ObjectStore) -> None:
    assert isinstance(store, ObjectStore)
    assert await store.ping()


async def test_ping_is_false_when_the_server_is_down() -> None:
    down = S3ObjectStore(
        ObjectStoreSettings(
            endpoint_url="http://127.0.0.1:9",
            bucket="nope",
            access_key_id="a",
            secret_access_key="b",
        ),
        connect_timeout_s=0.5,
        max_attempts=1,
    )
    assert not await down.ping()  # one attempt, refused: an answer, not a hang


async def test_ensure_bucket_creates_a_missing_bucket(services: LocalServices) -> None:
    settings = ObjectStoreSettings(
        endpoint_url=services.object_store.endpoint_url,
        bucket=f"made-{uuid7().hex[:12]}",
        access_key_id=services.object_store.access_key_id,
        secret_access_key=services.object_store.secret_access_key,
    )
    store = S3ObjectStore(settings)
    await store.ensure_bucket()
    await store.ensure_bucket()  # twice is harmless
    assert await store.ping()


async def test_put_head_read_copy_delete(store: S3ObjectStore) -> None:
    key = _key()
    data = b"hello evidence " * 1000
    info = await store.put_bytes(key, data, content_type="text/plain")
    assert info.size == len(data)
    head = await store.head(key)
    assert head is not None
    assert head.size == len(data)
    assert await store.exists(key)
    assert b"".join([c async for c in store.aiter_chunks(key, chunk_size=4096)]) == data

    copy_key = _key()
    await store.copy(key, copy_key)
    assert await store.read_range(copy_key, 0, len(data) - 1) == data

    await store.delete(copy_key)
    assert not await store.exists(copy_key)
    assert await store.head(copy_key) is None


async def test_range_reads(store: S3ObjectStore) -> None:
    key = _key()
    data = bytes(range(256)) * 4096  # 1 MiB
    await store.put_bytes(key, data, content_type="application/octet-stream")
    assert await store.read_range(key, 10, 19) == data[10:20]
    assert await store.read_range(key, len(data) - 5, len(data) + 100) == data[-5:]
    chunks = list(store.iter_chunks(key, chunk_size=1000, start=4096))
    assert max(len(c) for c in chunks) <= 1000
    assert b"".join(chunks) == data[4096:]


async def test_reading_a_missing_object_is_not_found(store: S3ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        await store.read_range(_key(), 0, 10)


async def test_protected_keys_are_never_deleted(store: S3ObjectStore) -> None:
    key = _key("originals")
    await store.put_bytes(key, b"original", content_type="image/jpeg")
    with pytest.raises(ObjectProtectedError):
        await store.delete(key)
    assert await store.exists(key)


async def test_presigned_put_with_md5_and_get(store: S3ObjectStore) -> None:
    key = _key()
    data = os.urandom(200_000)
    req = store.presign_put(key, content_md5=md5_b64(data), content_type="image/jpeg")
    assert req.method == "PUT"
    assert req.headers == {"Content-MD5": md5_b64(data), "Content-Type": "image/jpeg"}
    async with httpx.AsyncClient() as http:
        response = await http.put(req.url, content=data, headers=req.headers)
        assert response.status_code == 200, response.text
        get = store.presign_get(key, filename="现场 photo 1.jpg")
        downloaded = await http.get(get.url)
    assert downloaded.status_code == 200
    assert downloaded.content == data
    disposition = downloaded.headers.get("content-disposition", "")
    assert "attachment" in disposition
    assert "filename*=UTF-8''%E7%8E%B0%E5%9C%BA" in disposition


async def test_presigned_put_refuses_bytes_that_do_not_match_the_md5(
    store: S3ObjectStore,
) -> None:
    key = _key()
    data = os.urandom(10_000)
    req = store.presign_put(key, content_md5=md5_b64(data), content_type="image/jpeg")
    tampered = b"x" + data[1:]
    async with httpx.AsyncClient() as http:
        response = await http.put(req.url, content=tampered, headers=req.headers)
        assert response.status_code == 400
        # Leaving the signed header out breaks the signature.
        unsigned = await http.put(req.url, content=data, headers={"Content-Type": "image/jpeg"})
        assert unsigned.status_code == 403
    assert not await store.exists(key)


async def test_put_bytes_rejects_nothing_valid(store: S3ObjectStore) -> None:
    key = _key()
    await store.put_bytes(key, b"", content_type="application/octet-stream")
    head = await store.head(key)
    assert head is not None
    assert head.size == 0


async def test_multipart_upload_through_presigned_parts_with_resume(
    store: S3ObjectStore,
) -> None:
    key = _key()
    part1 = os.urandom(MIN_PART_BYTES)
    part2 = os.urandom(MIN_PART_BYTES + 1234)
    part3 = os.urandom(1000)
    upload_id = await store.create_multipart(key, content_type="video/mp4")
    async with httpx.AsyncClient(timeout=30) as http:
        for number, body in ((1, part1), (2, part2)):
            req = store.presign_part(key, upload_id, number, content_md5=md5_b64(body))
            response = await http.put(req.url, content=body, headers=req.headers)
            assert response.status_code == 200, response.text

        # A phone that lost the network asks which parts arrived and resumes from there.
        received = await store.list_parts(key, upload_id)
        assert [(p.part_number, p.size) for p in received] == [(1, len(part1)), (2, len(part2))]
        # A part may be sent without Content-MD5 too.
        req = store.presign_part(key, upload_id, 3)
        assert req.headers == {}
        response = await http.put(req.url, content=part3)
        assert response.status_code == 200
        # Repeating a part (retry after a lost answer) replaces it with the same bytes.
        req = store.presign_part(key, upload_id, 2, content_md5=md5_b64(part2))
        response = await http.put(req.url, content=part2, headers=req.headers)
        assert response.status_code == 200

    parts = await store.list_parts(key, upload_id)
    assert len(parts) == 3
    info = await store.complete_multipart(key, upload_id, list(reversed(parts)))
    whole = part1 + part2 + part3
    assert info.size == len(whole)
    head = await store.head(key)
    assert head is not None
    assert head.size == len(whole)
    digest = hashlib.sha256()
    for chunk in store.iter_chunks(key, chunk_size=256 * 1024):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(whole).hexdigest()


async def test_list_parts_reads_every_page(store: S3ObjectStore) -> None:
    key = _key()
    upload_id = await store.create_multipart(key, content_type="application/octet-stream")
    for number in range(1, 1003):
        store.client.upload_part(
            Bucket=store.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=b"p",
        )
    parts = await store.list_parts(key, upload_id)
    assert [p.part_number for p in parts] == list(range(1, 1003))
    await store.abort_multipart(key, upload_id)


async def test_abort_drops_the_upload(store: S3ObjectStore) -> None:
    key = _key()
    upload_id = await store.create_multipart(key, content_type="video/mp4")
    body = os.urandom(MIN_PART_BYTES)
    req = store.presign_part(key, upload_id, 1, content_md5=md5_b64(body))
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.put(req.url, content=body, headers=req.headers)).status_code == 200
    await store.abort_multipart(key, upload_id)
    await store.abort_multipart(key, upload_id)  # idempotent
    assert not await store.exists(key)
    with pytest.raises(MultipartNotFoundError):
        await store.complete_multipart(key, upload_id, [PartInfo(1, "x", len(body))])


async def test_complete_with_a_wrong_part_etag_is_rejected(store: S3ObjectStore) -> None:
    key = _key()
    upload_id = await store.create_multipart(key, content_type="video/mp4")
    store.client.upload_part(
        Bucket=store.bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=1,
        Body=b"tiny",
    )
    with pytest.raises(ObjectRejectedError):
        await store.complete_multipart(key, upload_id, [PartInfo(1, "0" * 32, 4)])
    assert not await store.exists(key)
    await store.abort_multipart(key, upload_id)


async def test_a_part_with_a_wrong_md5_is_refused(store: S3ObjectStore) -> None:
    """rclone (gofakes3) then drops the whole multipart upload; AWS keeps the other parts.

    Callers therefore treat :class:`MultipartNotFoundError` on resume as "start again".
    """
    key = _key()
    upload_id = await store.create_multipart(key, content_type="video/mp4")
    good = os.urandom(1000)
    async with httpx.AsyncClient(timeout=30) as http:
        req = store.presign_part(key, upload_id, 1, content_md5=md5_b64(good))
        assert (await http.put(req.url, content=good, headers=req.headers)).status_code == 200
        req = store.presign_part(key, upload_id, 2, content_md5=md5_b64(good))
        bad = await http.put(req.url, content=b"y" * len(good), headers=req.headers)
    assert bad.status_code == 400
    assert "BadDigest" in bad.text
    # The tests run against rclone, which forgets the whole upload: resuming must start again.
    with pytest.raises(MultipartNotFoundError):
        await store.list_parts(key, upload_id)


@pytest.mark.parametrize("size", [0, 1000, MIN_PART_BYTES * 2 + 12345])
async def test_put_file_sends_any_size_in_parts(
    store: S3ObjectStore, tmp_path: Path, size: int
) -> None:
    key = _key("derived")
    data = os.urandom(size)
    path = tmp_path / "copy.mp4"
    path.write_bytes(data)
    hasher = hashlib.sha256()
    info = await store.put_file(
        key, path, content_type="video/mp4", part_size=MIN_PART_BYTES, hasher=hasher
    )
    assert info.size == size
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
    head = await store.head(key)
    assert head is not None
    assert (head.size, head.content_type) == (size, "video/mp4")
    assert b"".join(store.iter_chunks(key)) == data
    if size > MIN_PART_BYTES:
        assert info.etag.endswith("-3")  # three parts, assembled by the store


# -- open_object: one GET read into the caller's buffer ------------------------------------------
def _read_into(body: ObjectBody, size: int) -> bytes:
    view = memoryview(bytearray(size))
    filled = 0
    while count := body.readinto(view[filled : filled + 256 * 1024]):
        filled += count
    return view[:filled].tobytes()


def _relayed(services: LocalServices, relay: Relay) -> S3ObjectStore:
    if not services.object_store.endpoint_url.startswith("http://"):
        pytest.skip("the relay speaks plain HTTP")
    settings = replace(services.object_store, endpoint_url=relay.url)
    return S3ObjectStore(settings, max_attempts=1)


async def test_open_object_fills_a_buffer_from_the_socket_without_copies(
    store: S3ObjectStore,
) -> None:
    key = _key()
    data = os.urandom(3 * 1024 * 1024 + 17)
    await store.put_bytes(key, data, content_type="image/jpeg")
    info, body = store.open_object(key)
    assert info.size == len(data)
    view = memoryview(bytearray(info.size))
    tracemalloc.start()
    try:
        filled = 0
        while count := body.readinto(view[filled : filled + 1024 * 1024]):
            filled += count
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        body.close()
    assert view[:filled] == data
    # http.client's read(amt) and urllib3's readinto would allocate a chunk (1 MiB) per read
    assert peak < 128 * 1024


async def test_open_object_of_a_missing_key_is_not_found(store: S3ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.open_object(_key())


async def test_a_body_read_to_its_end_gives_its_connection_back(
    store: S3ObjectStore, services: LocalServices
) -> None:
    keys = [_key() for _ in range(3)]
    data = os.urandom(2 * 1024 * 1024)
    for key in keys:
        await store.put_bytes(key, data, content_type="image/jpeg")
    with Relay(services.object_store.endpoint_url) as relay:
        relayed = _relayed(services, relay)
        for key in keys[:2]:
            info, body = relayed.open_object(key)
            try:
                assert _read_into(body, info.size) == data
            finally:
                body.close()
        assert relay.connections == 1  # the second GET went over the first one's connection
        info, body = relayed.open_object(keys[2])
        body.readinto(memoryview(bytearray(1000)))
        body.close()  # the rest never read: this connection is not reused
        assert b"".join(relayed.iter_chunks(keys[0])) == data
        assert relay.connections == 2


async def test_a_body_cut_short_is_unavailable_not_short(
    store: S3ObjectStore, services: LocalServices
) -> None:
    key = _key()
    data = os.urandom(2 * 1024 * 1024)
    await store.put_bytes(key, data, content_type="image/jpeg")
    with Relay(services.object_store.endpoint_url, cut_after=512 * 1024) as relay:
        relayed = _relayed(services, relay)
        info, body = relayed.open_object(key)
        assert info.size == len(data)
        with pytest.raises(ObjectStoreUnavailableError) as error:
            _read_into(body, info.size)
        body.close()
        assert error.value.extra["reason"] == "IncompleteReadError"
        info, chunks = relayed.open_chunks(key)  # the chunked read says the same
        with pytest.raises(ObjectStoreUnavailableError) as error:
            b"".join(chunks)
        assert error.value.extra["reason"] == "IncompleteReadError"
