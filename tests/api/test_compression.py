"""Answers are gzipped at a level chosen by their size (api/compression.py), on a small app
with the same middleware, and on the real app's schema."""

from __future__ import annotations

import gzip
import json
import random
import zlib
from collections.abc import AsyncIterator

import pytest
from isal import isal_zlib
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.response import Stream
from litestar.testing import AsyncTestClient

from api.compression import LARGE_FROM, MINIMUM_SIZE, PARALLEL_FROM, AdaptiveGzip, gzip_in_pieces

# gzip's XFL header byte (RFC 1952): 4 when the fastest level wrote the stream, 0 otherwise
_FASTEST, _DEFAULT = 4, 0
_BODY = bytes(range(32, 127)) * 50_000  # 4.75 MB, compressible
_rng = random.Random(7)
#: 3.5 MB shaped like a batch answer (ISA-L's ratio on ``_BODY``'s period moves by a few
#: per cent with where a piece starts; on answers by a hundredth of one)
_ANSWERS = json.dumps(
    [
        {
            "index": i,
            "lon": 112 + _rng.random(),
            "featureId": f"{_rng.getrandbits(128):032x}",
            "relation": _rng.choice(["inside", "near", "boundary"]),
            "distanceM": _rng.random(),
        }
        for i in range(28_000)
    ],
    separators=(",", ":"),
).encode()


@get("/sized/{n:int}", media_type="text/plain")
async def sized(n: FromPath[int]) -> bytes:
    return _BODY[:n]


@get("/zip", media_type="application/zip", opt={"skip_compression": True})
async def already_compressed() -> bytes:
    return _BODY[:50_000]


@get("/stream/{n:int}", media_type="text/plain")
async def streamed(n: FromPath[int]) -> Stream:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(_BODY), n):
            yield _BODY[i : i + n]

    return Stream(chunks())


@pytest.fixture
async def small_app() -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = Litestar([sized, already_compressed, streamed], middleware=[AdaptiveGzip()])
    async with AsyncTestClient(app) as client:
        yield client


GZ = {"Accept-Encoding": "gzip, deflate"}


async def _raw(client: AsyncTestClient[Litestar], path: str) -> tuple[dict[str, str], bytes]:
    """Headers and the body as sent (not decoded by the client)."""
    async with client.stream("GET", path, headers=GZ) as resp:
        assert resp.status_code == 200
        body = b"".join([part async for part in resp.aiter_raw()])
        return dict(resp.headers), body


@pytest.mark.parametrize(
    ("size", "level"),
    [
        (MINIMUM_SIZE, _DEFAULT),
        (LARGE_FROM - 1, _DEFAULT),
        (LARGE_FROM, _FASTEST),
        (PARALLEL_FROM - 1, _FASTEST),
        (PARALLEL_FROM, _FASTEST),  # in pieces on worker threads, one gzip stream
        (4_000_000, _FASTEST),
    ],
)
async def test_level_by_size(small_app: AsyncTestClient[Litestar], size: int, level: int) -> None:
    headers, body = await _raw(small_app, f"/sized/{size}")
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(body) < size
    assert body[8] == level
    assert gzip.decompress(body) == _BODY[:size]


async def test_small_answers_and_no_gzip_stay_plain(small_app: AsyncTestClient[Litestar]) -> None:
    headers, body = await _raw(small_app, f"/sized/{MINIMUM_SIZE - 1}")
    assert "content-encoding" not in headers and body == _BODY[: MINIMUM_SIZE - 1]
    resp = await small_app.get("/sized/5000", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in resp.headers and resp.content == _BODY[:5000]
    headers, body = await _raw(small_app, "/zip")
    assert "content-encoding" not in headers and body == _BODY[:50_000]


@pytest.mark.parametrize(("chunk", "level"), [(8192, _DEFAULT), (1 << 20, _FASTEST)])
async def test_streamed_answers(
    small_app: AsyncTestClient[Litestar], chunk: int, level: int
) -> None:
    headers, body = await _raw(small_app, f"/stream/{chunk}")
    assert headers["content-encoding"] == "gzip" and "content-length" not in headers
    assert body[8] == level
    assert zlib.decompress(body, 31) == _BODY


@pytest.mark.parametrize("pieces", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [PARALLEL_FROM, 3_000_001])
async def test_a_body_compressed_in_pieces_is_one_gzip_stream(pieces: int, size: int) -> None:
    """Decoded as one member (a client that stops after the first member still gets it all),
    with the body's CRC-32 and length in the trailer, whatever the number of pieces; pieces
    primed with the data before them compress about as well as one stream."""
    body = _ANSWERS[:size]
    data = await gzip_in_pieces(body, 1, pieces=pieces)
    one = zlib.decompressobj(31)
    assert one.decompress(data) == body and one.eof and one.unused_data == b""
    assert gzip.decompress(data) == body
    zlib_header = zlib.compressobj(1, zlib.DEFLATED, 31).compress(body)[:10]
    assert data[:10] == zlib_header  # the same header as zlib's at its fastest
    whole = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)  # the library that deflates it
    single = whole.compress(body) + whole.flush()
    assert len(data) <= len(single) * 1.02
