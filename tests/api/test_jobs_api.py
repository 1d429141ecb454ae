"""Background jobs as operators see them: ListJobs (captains, admins) and ``patrol jobs``.

A derivatives job that keeps failing is retried with backoff, then stays ``failed`` with its
error; captains see their county's jobs, admins also the chores of no county, inspectors
nothing; the command line lists every job and queues a failed one again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Role
from infra.settings import Settings
from tests.api.test_evidence_api import _patrol, _photo, _upload
from tests.conftest import CountyFixture
from tests.jobs import jobs_of, make_due, run_jobs

Client = AsyncTestClient[Litestar]
URL = "/api/v1/jobs"


async def test_a_failing_job_is_retried_then_shown_failed_and_retried_by_hand(
    client: Client,
    app: Litestar,
    make_county: Any,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county: CountyFixture = await make_county()
    other: CountyFixture = await make_county(lon=113.1)
    evidence = await _upload(client, county, Role.INSPECTOR, _photo())
    store = app.state.store
    no_font = replace(settings.evidence, caption_font="/nonexistent/font.ttc")
    states = []
    for _ in range(5):  # five runs, each after the backoff (brought forward here)
        await run_jobs(settings.database, session_factory, store, no_font)
        ((job_id, status, attempts),) = await jobs_of(session_factory, evidence["id"])
        states.append((status, attempts))
        await make_due(session_factory, job_id)
    assert states == [("todo", 1), ("todo", 2), ("todo", 3), ("todo", 4), ("failed", 5)]

    query = {"state": "failed", "task": "evidence:derivatives"}
    seen = await client.get(URL, params=query, headers=county.headers(Role.CAPTAIN))
    assert seen.status_code == 200, seen.text
    (job,) = [j for j in seen.json() if j["evidenceId"] == evidence["id"]]
    assert job["id"] == job_id
    assert (job["task"], job["state"], job["attempts"]) == ("evidence:derivatives", "failed", 5)
    assert job["countyId"] == str(county.id)
    assert "PATROL_CAPTION_FONT" in job["lastError"]
    assert job["queuedAt"] <= job["startedAt"] <= job["finishedAt"]
    assert all(j["countyId"] == str(county.id) for j in seen.json())

    # another county's captain does not see it; inspectors may not look at all
    theirs = await client.get(URL, params=query, headers=other.headers(Role.CAPTAIN))
    assert theirs.status_code == 200
    assert job_id not in {j["id"] for j in theirs.json()}
    refused = await client.get(URL, headers=county.headers(Role.INSPECTOR))
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_not_allowed"
    bad_state = await client.get(
        URL, params={"state": "nonsense"}, headers=county.headers(Role.ADMIN)
    )
    assert bad_state.status_code == 400

    # a chore belongs to no county: admins see it, captains do not
    async with session_factory() as session:
        chore = await session.scalar(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)"
                " VALUES ('periodic', 'patrol:chores', '{\"timestamp\": 0}', 'succeeded')"
                " RETURNING id"
            )
        )
        await session.commit()
    chores = {"task": "patrol:chores", "state": "succeeded"}
    admin = await client.get(URL, params=chores, headers=county.headers(Role.ADMIN))
    captain = await client.get(URL, params=chores, headers=county.headers(Role.CAPTAIN))
    assert chore in {j["id"] for j in admin.json()}
    assert chore not in {j["id"] for j in captain.json()}

    # the command line: every county's jobs, and a failed one queued again
    code, out = await _patrol(settings, "jobs", "list", "--state", "failed")
    assert code == 0, out
    expected = [str(job_id), "evidence:derivatives", "failed"]
    lines = out.splitlines()
    (at,) = [n for n, row in enumerate(lines) if row.split()[:3] == expected]
    assert lines[at + 1].strip().startswith("last error: DerivativesFailedError")
    assert "PATROL_CAPTION_FONT" in lines[at + 1]
    code, out = await _patrol(settings, "jobs", "retry", str(job_id))
    assert (code, out.strip()) == (0, f"job {job_id} queued again")
    code, out = await _patrol(settings, "jobs", "retry", str(job_id))  # not failed any more
    assert code == 2, out
    await run_jobs(settings.database, session_factory, store, settings.evidence)
    # procrastinate counts the manual retry as an attempt too, then the run that succeeded
    assert await jobs_of(session_factory, evidence["id"]) == [(job_id, "succeeded", 7)]
