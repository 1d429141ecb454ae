"""What a phone sees of its pull cursor: the shape of the cursor it is given, that the cursor
names exactly the place it was issued for, and the 4xx answer (status, code, words, field)
to each kind of cursor this server cannot read on from: empty, truncated, not base64url,
forged by another server, altered, another user's, superseded."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import pytest

from infra.errors import DomainError
from infra.scope import Role
from sync.cursor import Cursor, CursorCodec, Resume
from sync.errors import CursorInvalidError, CursorMalformedError, CursorNotYoursError
from tests.sync.conftest import Client, Phone, SyncWorld

PULL = "/api/v1/sync/pull"
EN = {"Accept-Language": "en"}
# base64url of version | stream | user | seq | resume bit | resume id | MAC/128: 70 bytes
SHAPE = re.compile(r"[A-Za-z0-9_-]{94}")


def _codec(client: Client) -> CursorCodec:
    return CursorCodec(client.app.state.settings.auth.secret_key)


def _raw(cursor: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _text(raw: bytes | bytearray) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_a_cursor_is_94_url_safe_characters_and_names_its_page(
    make_world: Any, phone: Any, client: Client
) -> None:
    """Every cursor a phone is given fits a URL or a form field as is (no padding, no
    ``+``/``/``), and reads back as the stream, user, sequence and stopping place it was
    issued for: none when the page ended a collection, the collection and last id sent
    when it stopped inside one."""
    world: SyncWorld = await make_world(parcels=30)
    user = world.county.users[Role.INSPECTOR].id
    codec = _codec(client)
    p: Phone = phone(world.headers())
    await p.sync(limit=7)
    assert len(p.pages) > 2
    seen: list[Cursor] = []
    for page in p.pages:
        cursor = page["cursor"]
        assert SHAPE.fullmatch(cursor), cursor
        assert "=" not in cursor
        read = codec.decode(cursor, user_id=user)
        assert codec.encode(read) == cursor
        seen.append(read)
    assert {c.stream_id for c in seen} == {seen[0].stream_id}
    assert {c.user_id for c in seen} == {user}
    assert [c.seq for c in seen] == sorted(c.seq for c in seen)
    inside = [c for c in seen if c.resume is not None]
    assert inside, "pages of 7 records stop inside the features collection"
    ids = {uuid.UUID(i) for records in p.store.values() for i in records}
    for c in inside:
        assert c.resume is not None and c.resume.after in ids
    assert seen[-1].resume is None  # the last page ends every collection


def test_a_cursor_reads_back_exactly() -> None:
    codec = CursorCodec("a key")
    user = uuid.uuid4()
    plain = Cursor(uuid.uuid4(), user, 7)
    at = Cursor(uuid.uuid4(), user, 2**32 - 1, Resume(6, uuid.uuid4()))
    first = Cursor(uuid.uuid4(), user, 0, Resume(0, uuid.UUID(int=0)))
    for cursor in (plain, at, first):
        text = codec.encode(cursor)
        assert SHAPE.fullmatch(text), text
        assert codec.decode(text, user_id=user) == cursor
    assert codec.decode(codec.encode(plain), user_id=user).resume is None


async def test_cursors_the_server_cannot_read_on_from(
    make_world: Any, phone: Any, client: Client
) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    await p.pull_page(limit=5)
    first = p.cursor
    await p.pull_page(limit=5)
    await p.pull_page(limit=5)
    assert first is not None and p.cursor is not None
    mine = p.cursor
    inspector = world.county.users[Role.INSPECTOR].id
    read = _codec(client).decode(mine, user_id=inspector)

    async def answer(
        cursor: str, status: int, code: str, detail: str, role: Role = Role.INSPECTOR
    ) -> None:
        resp = await client.post(PULL, json={"cursor": cursor}, headers=world.headers(role) | EN)
        assert resp.status_code == status, (cursor, resp.text)
        body = resp.json()
        assert (body["code"], body["detail"]) == (code, detail), cursor
        assert body["errors"] == [{"field": "cursor", "message": detail}], cursor
        assert resp.headers["content-type"].startswith("application/problem+json")

    malformed = "not a cursor issued by this server"
    not_base64 = "cursor is not valid base64url"
    await answer("", 422, "cursor_malformed", malformed)
    await answer(mine[:-4], 422, "cursor_malformed", malformed)  # truncated
    await answer(mine + "AAAA", 422, "cursor_malformed", malformed)  # lengthened
    await answer("A" * 200, 422, "cursor_malformed", malformed)  # as long as allowed
    await answer(_text(b"\x07" + bytes(_raw(mine)[1:])), 422, "cursor_malformed", malformed)
    await answer("abcde", 422, "cursor_malformed", not_base64)
    await answer(mine[:-1], 422, "cursor_malformed", not_base64)  # a character short
    await answer(mine + ".", 422, "cursor_malformed", not_base64)  # a stray character
    await answer(mine + "\n", 422, "cursor_malformed", not_base64)

    forged = CursorCodec("another server's key").encode(read)
    await answer(forged, 422, "cursor_invalid", "cursor signature does not verify")
    altered = _raw(mine)
    altered[36] ^= 1  # the sequence number (bytes 33-36)
    await answer(_text(altered), 422, "cursor_invalid", "cursor signature does not verify")
    tag = _raw(mine)
    tag[-1] ^= 0x80  # the signature
    await answer(_text(tag), 422, "cursor_invalid", "cursor signature does not verify")

    mismatch = "this cursor was issued to another user"
    await answer(mine, 403, "cursor_not_yours", mismatch, Role.CAPTAIN)

    superseded = "this cursor was superseded; pull without a cursor and replace local data"
    await answer(first, 409, "cursor_stale", superseded)
    gone = _codec(client).encode(Cursor(uuid.uuid4(), inspector, read.seq))
    await answer(gone, 409, "cursor_stale", "this sync stream is gone; pull without a cursor")

    resp = await client.post(PULL, json={"cursor": "A" * 201}, headers=world.headers())
    assert resp.status_code == 400 and resp.json()["code"] == "validation_error"
    resp = await client.post(PULL, json={"cursor": mine}, headers=world.headers())
    assert resp.status_code == 200, resp.text  # none of that spoilt the phone's own cursor


async def test_the_refusals_in_chinese(make_world: Any, phone: Any, client: Client) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    await p.pull_page(limit=5)
    assert p.cursor is not None
    tag = _raw(p.cursor)
    tag[-1] ^= 0x80
    cases = [
        ("", 422, "cursor_malformed", "同步游标格式无效", Role.INSPECTOR),
        ("abcde", 422, "cursor_malformed", "同步游标格式无效", Role.INSPECTOR),
        (_text(tag), 422, "cursor_invalid", "同步游标签名校验失败", Role.INSPECTOR),
        (p.cursor, 403, "cursor_not_yours", "该同步游标属于其他用户", Role.CAPTAIN),
    ]  # fmt: skip
    for cursor, status, code, detail, role in cases:
        resp = await client.post(PULL, json={"cursor": cursor}, headers=world.headers(role))
        assert resp.status_code == status, (cursor, resp.text)
        body = resp.json()
        assert (body["code"], body["detail"]) == (code, detail)
        assert body["errors"] == [{"field": "cursor", "message": detail}]
        assert resp.headers["content-language"] == "zh-CN"


# The length check guards the codec itself: the pull's schema already refuses a cursor longer
# than 200 characters (400 validation_error) before it reaches the codec.
@pytest.mark.parametrize(
    ("text", "kind", "detail"),
    [
        ("A" * 201, CursorMalformedError, "cursor is too long"),
        ("A" * 4000, CursorMalformedError, "cursor is too long"),
        ("A" * 200, CursorMalformedError, "not a cursor issued by this server"),
        ("A" * 197, CursorMalformedError, "cursor is not valid base64url"),
        ("", CursorMalformedError, "not a cursor issued by this server"),
        ("abcde", CursorMalformedError, "cursor is not valid base64url"),
        (_text(bytes(70)), CursorMalformedError, "not a cursor issued by this server"),
        (_text(b"\x02" + bytes(69)), CursorInvalidError, "cursor signature does not verify"),
        (_text(b"\x01" + bytes(52)), CursorInvalidError, "cursor signature does not verify"),
    ],
)
def test_what_the_codec_refuses(text: str, kind: type[DomainError], detail: str) -> None:
    with pytest.raises(kind) as caught:
        CursorCodec("a key").decode(text, user_id=uuid.uuid4())
    error = caught.value
    assert type(error) is kind
    assert (error.code, error.detail, error.extra) == (
        kind.default_code,
        detail,
        {"field": "cursor"},
    )


def test_another_users_cursor_is_refused_by_the_codec() -> None:
    codec = CursorCodec("a key")
    text = codec.encode(Cursor(uuid.uuid4(), uuid.uuid4(), 1))
    with pytest.raises(CursorNotYoursError) as caught:
        codec.decode(text, user_id=uuid.uuid4())
    assert caught.value.code == "cursor_not_yours"
    assert caught.value.detail == "this cursor was issued to another user"
    assert caught.value.extra == {"field": "cursor"}
