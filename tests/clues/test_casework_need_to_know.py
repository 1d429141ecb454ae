"""Need-to-know of the clue desk's records, for every role and every path.

A county holds a 12336 clue with its reporter, sent out for verification (its target in the
inspector's area), and a complaint petition with its petitioner, which opened a clue of its
own. Then, for every role:

* the lists and single reads of clues and petitions answer the desk, captains and admins,
  and refuse everyone else with ``role_not_allowed``;
* the reporter's and the petitioner's identity answer the desk and captains only;
* a fresh sync pull of every user holds no clue, petition, reporter or petitioner text —
  the inspector's holds the clue's target, named by its receipt number only;
* another county's clue and petition do not exist (404) for anyone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.scope import Role
from tests import clock
from tests.conftest import CountyFixture

API = "/api/v1"
LON, LAT = 112.1, 28.5
Client = AsyncTestClient[Litestar]
READERS = {Role.CLUE_DESK, Role.CAPTAIN, Role.ADMIN}
IDENTITY_READERS = {Role.CLUE_DESK, Role.CAPTAIN}
REPORTER = {"name": "赵举报", "phone": "13800001111", "idNo": "430100199001012222"}
PETITIONER = {"name": "钱信访", "phone": "13800002222", "idNo": "430100198502023333"}
FACTS = "夜里有人在河道采砂"
CONTENT = "邻村企业占用基本农田修建仓库"
SECRETS = (*REPORTER.values(), *PETITIONER.values(), FACTS, CONTENT)


async def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def _pull_text(client: Client, headers: dict[str, str]) -> str:
    pages, cursor = [], None
    for _ in range(50):
        body: dict[str, Any] = {"limit": 500} if cursor is None else {"cursor": cursor}
        answer = await _ok(await client.post(f"{API}/sync/pull", json=body, headers=headers))
        pages.append(str(answer))
        cursor = answer["cursor"]
        if not answer["hasMore"]:
            return "\n".join(pages)
    raise AssertionError("the pull did not end")


async def _check_phone(client: Client, h: dict[str, str], role: Role, target_id: str) -> None:
    """The phone: no clue, petition or identity; the inspector's plan holds the target."""
    if role is Role.PROCURATORATE:  # no sync at all (api/guards.py)
        refused = await client.post(f"{API}/sync/pull", json={"limit": 500}, headers=h)
        assert (refused.status_code, refused.json()["code"]) == (403, "role_not_allowed")
        return
    pulled = await _pull_text(client, h)
    assert not [s for s in SECRETS if s in pulled], role
    assert (target_id in pulled) == (role in {Role.INSPECTOR, Role.CAPTAIN, Role.ADMIN})


async def _county_with_casework(
    client: Client, county: CountyFixture
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The clue (sent for verification), the petition and the clue the petition opened."""
    captain, desk = county.headers(Role.CAPTAIN), county.headers(Role.CLUE_DESK)
    ring = [[LON - 0.02, LAT - 0.02], [LON + 0.02, LAT - 0.02], [LON + 0.02, LAT + 0.02],
            [LON - 0.02, LAT + 0.02], [LON - 0.02, LAT - 0.02]]  # fmt: skip
    area = await _ok(
        await client.post(
            f"{API}/areas",
            json={"code": "N01", "name": "北片", "grade": 1,
                  "geometry": {"type": "Polygon", "coordinates": [ring]},
                  "leaderId": str(county.users[Role.INSPECTOR].id)},
            headers=captain,
        ),
        201,
    )  # fmt: skip
    clue = await _ok(
        await client.post(
            f"{API}/tip-offs",
            json={"channel": "phone_12336", "receivedAt": clock.ago(hours=3).isoformat(),
                  "facts": FACTS, "clueType": "mineral_illegal_mining", "lon": LON,
                  "lat": LAT, "reportedParty": "某砂场", "reporter": REPORTER},
            headers=desk,
        ),
        201,
    )  # fmt: skip
    cid = clue["id"]
    await _ok(await client.post(f"{API}/tip-offs/{cid}/decision", json={"decision": "accept"},
                                headers=desk))  # fmt: skip
    clue = await _ok(await client.post(f"{API}/tip-offs/{cid}/verification", json={},
                                       headers=captain))  # fmt: skip
    assert clue["areaId"] == area["id"] and clue["targetId"]
    petition = await _ok(
        await client.post(
            f"{API}/petitions",
            json={"form": "letter", "category": "complaint_accusation",
                  "receivedAt": clock.ago(hours=2).isoformat(), "subject": "举报占用农田",
                  "content": CONTENT, "petitioner": PETITIONER, "peopleCount": 1},
            headers=desk,
        ),
        201,
    )  # fmt: skip
    assert petition["clueId"], "a complaint about a violation opens a clue"
    opened = await _ok(await client.get(f"{API}/tip-offs/{petition['clueId']}", headers=desk))
    return clue, petition, opened


async def test_every_role_reads_the_desk_s_records_by_its_rule_on_every_path(
    client: Client, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    county = await make_county()
    other = await make_county(lon=113.5)
    clue, petition, opened = await _county_with_casework(client, county)
    theirs, their_petition, _ = await _county_with_casework(client, other)

    # the clue a complaint opened: anonymous, the petition named by number, its text carried
    assert (opened["channel"], opened["anonymous"]) == ("letter", True)
    assert petition["regNo"] in opened["facts"] and CONTENT in opened["facts"]
    assert not [s for s in PETITIONER.values() if s in str(opened)]

    for role in Role:
        h = county.headers(role)
        reads = [
            await client.get(f"{API}/tip-offs", headers=h),
            await client.get(f"{API}/tip-offs/{clue['id']}", headers=h),
            await client.get(f"{API}/petitions", headers=h),
            await client.get(f"{API}/petitions/{petition['id']}", headers=h),
        ]
        for resp in reads:
            if role in READERS:
                assert resp.status_code == 200, (role, resp.text)
            else:
                assert (resp.status_code, resp.json()["code"]) == (403, "role_not_allowed"), role
        if role in READERS:
            listed = {c["id"] for c in reads[0].json()}
            assert listed == {clue["id"], opened["id"]}, role
            assert {p["id"] for p in reads[2].json()["items"]} == {petition["id"]}, role
            assert not [s for s in (*REPORTER.values(), *PETITIONER.values())
                        if any(s in r.text for r in reads)], role  # fmt: skip
        identities = [
            await client.get(f"{API}/tip-offs/{clue['id']}/reporter", headers=h),
            await client.get(f"{API}/petitions/{petition['id']}/petitioner", headers=h),
        ]
        for resp in identities:
            if role in IDENTITY_READERS:
                assert resp.status_code == 200, (role, resp.text)
            else:
                assert (resp.status_code, resp.json()["code"]) == (403, "role_not_allowed"), role
        if role in IDENTITY_READERS:
            assert identities[0].json()["idNo"] == REPORTER["idNo"]
            assert identities[1].json()["idNo"] == PETITIONER["idNo"]
        # another county's records do not exist, whoever asks
        for path in (
            f"/tip-offs/{theirs['id']}",
            f"/tip-offs/{theirs['id']}/reporter",
            f"/petitions/{their_petition['id']}",
            f"/petitions/{their_petition['id']}/petitioner",
        ):
            resp = await client.get(f"{API}{path}", headers=h)
            if role in READERS and not (path.endswith(("/reporter", "/petitioner"))
                                        and role not in IDENTITY_READERS):  # fmt: skip
                assert resp.status_code == 404, (role, path, resp.text)
                assert resp.json()["code"] in {"tip_off_not_found", "petition_not_found"}
            else:
                assert resp.status_code == 403, (role, path, resp.text)
        await _check_phone(client, h, role, clue["targetId"])
