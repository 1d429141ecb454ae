"""Opaque pull cursors: ``base64url(version | stream id | user id | seq | HMAC-SHA256/128)``.

The key is derived from ``settings.auth.secret_key``, so a phone cannot forge or alter a
cursor, and a cursor names the user it was issued to.
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

__all__ = ["Cursor", "CursorCodec"]

_VERSION = 1
_BODY = struct.Struct(">B16s16sI")
_MAC_LEN = 16


@dataclass(frozen=True, slots=True)
class Cursor:
    stream_id: uuid.UUID
    user_id: uuid.UUID
    seq: int


class CursorCodec:
    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), b"patrol sync cursor v1", hashlib.sha256).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_LEN]

    def encode(self, cursor: Cursor) -> str:
        body = _BODY.pack(_VERSION, cursor.stream_id.bytes, cursor.user_id.bytes, cursor.seq)
        return base64.urlsafe_b64encode(body + self._mac(body)).rstrip(b"=").decode()

    def decode(self, text: str, *, user_id: uuid.UUID) -> Cursor:
        """The cursor in ``text`` if this server issued it to ``user_id``; a 4xx otherwise."""
        if len(text) > 200:
            raise CursorMalformedError("cursor is too long", field="cursor")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:
            raise CursorMalformedError("cursor is not valid base64url", field="cursor") from exc
        if len(raw) != _BODY.size + _MAC_LEN or raw[0] != _VERSION:
            raise CursorMalformedError("not a cursor issued by this server", field="cursor")
        body, mac = raw[: _BODY.size], raw[_BODY.size :]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise CursorInvalidError("cursor signature does not verify", field="cursor")
        _, stream, user, seq = _BODY.unpack(body)
        cursor = Cursor(uuid.UUID(bytes=stream), uuid.UUID(bytes=user), seq)
        if cursor.user_id != user_id:
            raise CursorNotYoursError("this cursor was issued to another user", field="cursor")
        return cursor
