"""Offline sync: pull with server-issued cursors, push with receipts, offline map data.

**Pull: a per-phone manifest diffed against the live scope, woken by a change feed.**

Every phone sync history is a *stream* (``sync_streams``, made by a pull without a cursor).
The server keeps, per stream, the id and version of every record the phone acknowledged
(``sync_manifest``). A page is the difference between the caller's scope *now* — computed
by SQL per collection (:mod:`sync.collections`) in one ``REPEATABLE READ`` snapshot — and the
manifest: records that are new or whose version moved are sent in full, manifest entries no
longer in scope are sent as deletions (so revocation, a deactivated area or a lost roster
seat shows as a deletion). Versions come from ``xmin``, so no table needs a version column.

The page just sent waits in ``sync_pending``; the cursor of that page (HMAC-signed, naming
stream, user and sequence number, :mod:`sync.cursor`) acknowledges it when the phone presents
it, and only then enters the manifest. A phone whose answer was lost presents the previous
cursor again and gets the page computed afresh; an older cursor is ``cursor_stale``. (The
first page of a new stream goes straight into the manifest: no phone can hold an earlier
cursor of that stream, and one that lost the answer starts a new stream.)
Because every page is diffed against what the phone acknowledged, rows written while a phone
pages are neither missed nor sent twice at the same version: a record changed between two
pages comes again with its new version, and when ``hasMore`` is false the phone holds exactly
the scope as of that page's snapshot.

Comparing the whole scope on every pull would be wasteful, so triggers (migration
``0006_sync``) note in ``sync_changes`` which tracked table each transaction wrote in which
county, keyed by transaction id. A stream remembers the snapshot (``pg_current_snapshot()``)
its manifest is exact for; the next pull asks which tables were written by transactions not
visible in that snapshot (``pg_visible_in_snapshot``) and recomputes only the collections
they feed. With no such writes a pull is two small queries. Collections with calendar
windows (plans, patrols, findings) are recomputed when the local day changes. The feed is
only a hint: when it is pruned (:func:`sync.pull.prune_sync_state`) a stream falls back to a
full comparison, never to a wrong answer.

**Push** (:mod:`sync.push`): operations run in order through the patrol services (and
:mod:`evidence.annotations` for caption edits); receipts are stored by (user, op id) so a
replay gets the same receipts. Consecutive point batches of one patrol are stored with one
call and split back into one receipt each, and so are consecutive sign-ins and consecutive
findings of one patrol (when one of them is refused, the run goes again one by one); other
operations share a savepoint while they succeed, and one that fails runs again alone, so it
never takes others with it.

**Jobs** (:mod:`sync.jobs`): :func:`run_sync_jobs` prunes the feed, idle streams and old
receipts; the background worker calls it.

**Offline map data** (:mod:`sync.layers`): GeoJSON per layer with an ETag, and vector tiles.
"""

from __future__ import annotations

from sync.cursor import Cursor, CursorCodec
from sync.errors import (
    BatchTooLargeError,
    CursorInvalidError,
    CursorMalformedError,
    CursorNotYoursError,
    CursorStaleError,
    LayerNotFoundError,
    SyncBusyError,
    TileNotFoundError,
)
from sync.jobs import run_sync_jobs
from sync.layers import LAYERS, LayerDocument, LayerService
from sync.pull import Page, PullService, prune_sync_state
from sync.push import Conflict, PushResult, PushService, Receipt, RejectedItem

__all__ = [
    "LAYERS",
    "BatchTooLargeError",
    "Conflict",
    "Cursor",
    "CursorCodec",
    "CursorInvalidError",
    "CursorMalformedError",
    "CursorNotYoursError",
    "CursorStaleError",
    "LayerDocument",
    "LayerNotFoundError",
    "LayerService",
    "Page",
    "PullService",
    "PushResult",
    "PushService",
    "Receipt",
    "RejectedItem",
    "SyncBusyError",
    "TileNotFoundError",
    "prune_sync_state",
    "run_sync_jobs",
]
