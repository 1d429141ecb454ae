"""Errors of sync, each with a stable ``code``.

::

    InvalidInputError (422)
    ├── CursorMalformedError     cursor_malformed   (not a cursor this server wrote)
    ├── CursorInvalidError       cursor_invalid     (signature does not verify: forged/altered)
    ├── BatchTooLargeError       batch_too_large    (more operations than a push may carry)
    ├── PageCursorError          page_cursor_invalid (``after`` is not a page's ``next``)
    └── TileTooLargeError        tile_too_large     (over the tile byte cap: zoom in)
    PermissionDeniedError (403)
    └── CursorNotYoursError      cursor_not_yours   (issued to another user)
    ConflictError (409)
    ├── CursorStaleError         cursor_stale       (superseded or expired: pull again
    │                                                without a cursor and replace local data)
    └── SyncBusyError            sync_busy          (another pull of this stream is running)
    NotFoundError (404)
    ├── LayerNotFoundError       layer_not_found
    └── TileNotFoundError        tile_not_found     (not a valid z/x/y tile address)

Per-operation problems in a push are not errors: each gets a ``rejected`` receipt.
"""

from __future__ import annotations

from infra import error_codes as codes
from infra.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

__all__ = [
    "BatchTooLargeError",
    "CursorInvalidError",
    "CursorMalformedError",
    "CursorNotYoursError",
    "CursorStaleError",
    "LayerNotFoundError",
    "PageCursorError",
    "SyncBusyError",
    "TileNotFoundError",
    "TileTooLargeError",
]


class CursorMalformedError(InvalidInputError):
    default_code = codes.CURSOR_MALFORMED


class CursorInvalidError(InvalidInputError):
    default_code = codes.CURSOR_INVALID


class BatchTooLargeError(InvalidInputError):
    default_code = codes.BATCH_TOO_LARGE


class CursorNotYoursError(PermissionDeniedError):
    default_code = codes.CURSOR_NOT_YOURS


class CursorStaleError(ConflictError):
    default_code = codes.CURSOR_STALE


class SyncBusyError(ConflictError):
    default_code = codes.SYNC_BUSY


class LayerNotFoundError(NotFoundError):
    default_code = codes.LAYER_NOT_FOUND


class TileNotFoundError(NotFoundError):
    default_code = codes.TILE_NOT_FOUND


class TileTooLargeError(InvalidInputError):
    """The tile is larger than the byte cap even simplified: a higher zoom has less in it."""

    default_code = codes.TILE_TOO_LARGE


class PageCursorError(InvalidInputError):
    default_code = codes.PAGE_CURSOR_INVALID
