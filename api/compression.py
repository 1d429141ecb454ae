"""gzip for answers, at a level chosen by the answer's size.

zlib's level 6 makes a small answer smallest for little work, but on the bulk answers (a
10,000-point ``CheckLocations`` answer of 5–6 MB, GeoJSON pages of up to 16 MiB, sync pages)
it costs more than building and encoding the answer together: 65 ms for 6 MB of JSON here,
against 32 ms at zlib's level 1 for 15 % more bytes, and 8 ms with ISA-L's level 1 (``isal``,
the same deflate format, vectorised; 8 % fewer bytes than zlib's level 1). So a body (or a
streamed body's first chunk) of :data:`LARGE_FROM` bytes or more is compressed by ISA-L at
its level 1, anything smaller by zlib at level 6.

A whole body of :data:`PARALLEL_FROM` bytes or more is compressed off the event loop, in
pieces on worker threads at once (ISA-L lets go of the interpreter while it works), joined
into one gzip stream as ``pigz`` joins them: each piece a raw deflate stream primed with the
32 KiB before it and ended on a byte boundary, the CRC-32 of the whole body in the trailer.
A 5.5 MB answer took 23 ms on the event loop with zlib, 15 ms in two zlib pieces, and
about 4 ms in two ISA-L pieces; other requests are answered meanwhile.

Same rules otherwise as Litestar's own compression: only when the client accepts gzip, only
bodies of :data:`MINIMUM_SIZE` bytes or more (a streamed body always), ``Vary:
Accept-Encoding``, and never for handlers whose ``opt`` holds ``skip_compression`` (they
stream bytes that are compressed already, such as ZIP packages).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import zlib
from typing import TYPE_CHECKING, Any, cast

from isal import isal_zlib
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

if TYPE_CHECKING:
    from litestar.types import (
        ASGIApp,
        HTTPResponseBodyEvent,
        HTTPResponseStartEvent,
        Message,
        Receive,
        Scope,
        Send,
    )

__all__ = [
    "LARGE_FROM",
    "MINIMUM_SIZE",
    "PARALLEL_FROM",
    "AdaptiveGzip",
    "gzip_in_pieces",
    "gzip_level",
]

MINIMUM_SIZE = 1024
LARGE_FROM = 256 * 1024
SMALL_LEVEL, LARGE_LEVEL = 6, 1  # zlib's level 6; ISA-L's level 1 (its levels are 0-3)


PARALLEL_FROM = 1024 * 1024
_PIECES = max(1, min(4, os.cpu_count() or 1))
_WINDOW = 32 * 1024


def _gzip_header(level: int) -> bytes:
    """gzip's header as zlib writes it: magic, deflate, no flags or time, the extra-flags byte
    telling the fastest (4) or best (2) level, Unix."""
    xfl = 4 if level == 1 else 2 if level == 9 else 0
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([xfl, 3])


def _compressor(level: int, wbits: int, zdict: bytes = b"") -> Any:
    """A deflate compressor for :func:`gzip_level`'s ``level``: ISA-L's for
    :data:`LARGE_LEVEL`, zlib's otherwise."""
    library: Any = isal_zlib if level == LARGE_LEVEL else zlib
    if zdict:
        return library.compressobj(level, library.DEFLATED, wbits, zdict=zdict)
    return library.compressobj(level, library.DEFLATED, wbits)


def _deflate_piece(body: memoryview, lo: int, hi: int, level: int, *, last: bool) -> bytes:
    compressor = _compressor(level, -15, bytes(body[max(0, lo - _WINDOW) : lo]))
    out: bytes = compressor.compress(body[lo:hi])
    end: bytes = compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return out + end


class _GzipStream:
    """One gzip stream written chunk by chunk: the header of :func:`_gzip_header`, raw deflate,
    and the CRC-32 and size of everything written after the last chunk (the same header
    whichever library deflates, and as :func:`gzip_in_pieces` writes)."""

    __slots__ = ("_compressor", "_crc", "_head", "_size")

    def __init__(self, level: int) -> None:
        self._compressor = _compressor(level, -15)
        self._head = _gzip_header(level)
        self._crc = 0
        self._size = 0

    def write(self, body: bytes, *, last: bool) -> bytes:
        self._crc = isal_zlib.crc32(body, self._crc)
        self._size += len(body)
        out: bytes = self._head + self._compressor.compress(body)
        out += self._compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        self._head = b""
        if last:
            out += struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        return out


async def gzip_in_pieces(body: bytes, level: int, *, pieces: int = _PIECES) -> bytes:
    """``body`` as one gzip stream, compressed in ``pieces`` on worker threads at once."""
    view = memoryview(body)
    cuts = [len(body) * k // pieces for k in range(pieces + 1)]
    parts = await asyncio.gather(
        *(
            asyncio.to_thread(_deflate_piece, view, lo, hi, level, last=k == pieces - 1)
            for k, (lo, hi) in enumerate(itertools.pairwise(cuts))
        ),
        asyncio.to_thread(isal_zlib.crc32, view),
    )
    crc = cast("int", parts.pop())
    trailer = struct.pack("<II", crc & 0xFFFFFFFF, len(body) & 0xFFFFFFFF)
    return b"".join([_gzip_header(level), *cast("list[bytes]", parts), trailer])


def gzip_level(first_chunk_bytes: int) -> int:
    """The level for a body whose first chunk has this many bytes."""
    return LARGE_LEVEL if first_chunk_bytes >= LARGE_FROM else SMALL_LEVEL


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept-encoding":
            return b"gzip" in value.lower()
    return False


class AdaptiveGzip(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    exclude_opt_key = "skip_compression"

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if not _accepts_gzip(scope):
            await next_app(scope, receive, send)
            return
        await next_app(scope, receive, _GzipSend(send).send)


class _GzipSend:
    """Holds the response start until the first body chunk tells whether and how to compress."""

    __slots__ = ("_compressor", "_send", "_start")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._start: HTTPResponseStartEvent | None = None
        self._compressor: _GzipStream | None = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._start = cast("HTTPResponseStartEvent", message)
            return
        if kind != "http.response.body":
            await self._send(message)
            return
        chunk = cast("HTTPResponseBodyEvent", message)
        body = chunk.get("body", b"")
        more = bool(chunk.get("more_body", False))
        start, self._start = self._start, None
        if start is None:  # a later chunk of a streamed body
            if self._compressor is not None:
                chunk = {**chunk, "body": self._compressor.write(body, last=not more)}
            await self._send(chunk)
            return
        headers = MutableScopeHeaders(start)
        if "content-encoding" in headers or (not more and len(body) < MINIMUM_SIZE):
            await self._send(start)
            await self._send(message)
            return
        if not more and len(body) >= PARALLEL_FROM:
            data = await gzip_in_pieces(body, gzip_level(len(body)))
        else:
            self._compressor = _GzipStream(gzip_level(len(body)))
            data = self._compressor.write(body, last=not more)
        headers["Content-Encoding"] = "gzip"
        headers.extend_header_value("vary", "Accept-Encoding")
        if more:
            del headers["Content-Length"]
        else:
            headers["Content-Length"] = str(len(data))
        await self._send(start)
        await self._send({**chunk, "body": data})
