"""Opaque pull cursors: ``base64url(version | stream id | user id | seq | resume | HMAC/128)``.

The key is derived from ``settings.auth.secret_key``, so a phone cannot forge or alter a
cursor, and a cursor names the user it was issued to. ``resume`` (version 2) is the keyset
position of a page that stopped inside a collection: the collection's bit and the last
record id sent, so the next page reads on from there (:mod:`sync.pull`). Version 1 cursors,
issued before, still decode (without a position: the next page compares afresh).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass

from sync.errors import CursorInvalidError, CursorMalformedError, CursorNotYoursError

__all__ = ["Cursor", "CursorCodec", "Resume"]

_VERSION = 2
_BODY_V1 = struct.Struct(">B16s16sI")
_BODY = struct.Struct(">B16s16sIB16s")
_NO_RESUME = 255
_MAC_LEN = 16


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a page stopped: inside the collection with this bit, after this record id."""

    collection: int
    after: uuid.UUID


@dataclass(frozen=True, slots=True)
class Cursor:
    stream_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    resume: Resume | None = None


class CursorCodec:
    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), b"patrol sync cursor v1", hashlib.sha256).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_LEN]

    def encode(self, cursor: Cursor) -> str:
        at = cursor.resume
        body = _BODY.pack(
            _VERSION,
            cursor.stream_id.bytes,
            cursor.user_id.bytes,
            cursor.seq,
            _NO_RESUME if at is None else at.collection,
            bytes(16) if at is None else at.after.bytes,
        )
        return base64.urlsafe_b64encode(body + self._mac(body)).rstrip(b"=").decode()

    def decode(self, text: str, *, user_id: uuid.UUID) -> Cursor:
        """The cursor in ``text`` if this server issued it to ``user_id``; a 4xx otherwise."""
        if len(text) > 200:
            raise CursorMalformedError("cursor is too long", field="cursor")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:
            raise CursorMalformedError("cursor is not valid base64url", field="cursor") from exc
        layout = {1: _BODY_V1, _VERSION: _BODY}.get(raw[0]) if raw else None
        if layout is None or len(raw) != layout.size + _MAC_LEN:
            raise CursorMalformedError("not a cursor issued by this server", field="cursor")
        body, mac = raw[: layout.size], raw[layout.size :]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise CursorInvalidError("cursor signature does not verify", field="cursor")
        _, stream, user, seq, *rest = layout.unpack(body)
        resume = None
        if rest and rest[0] != _NO_RESUME:
            resume = Resume(rest[0], uuid.UUID(bytes=rest[1]))
        cursor = Cursor(uuid.UUID(bytes=stream), uuid.UUID(bytes=user), seq, resume)
        if cursor.user_id != user_id:
            raise CursorNotYoursError("this cursor was issued to another user", field="cursor")
        return cursor
