"""The order of the steps, who records them, the coarse status they move, and the side steps
(suspend, resume, withdraw) beside the existing status operations and the referral."""

from __future__ import annotations

from datetime import timedelta

from infra.scope import Role
from tests import clock
from tests.procedure.conftest import Flow

T0 = clock.NOW


async def test_steps_come_in_order_and_move_the_status(flow: Flow) -> None:
    case_id = await flow.open_case()
    early = await flow.step(case_id, "investigation", T0, Role.INSPECTOR, expect=409,
                            summary="勘验")  # fmt: skip
    assert early["code"] == "case_step_out_of_order"
    assert early["details"]["expectedStep"] == "filing"
    assert early["details"]["expectedSteps"] == ["filing", "clue", "withdraw"]
    # filing is approved by a captain or admin, not by the lead inspector
    refused = await flow.step(case_id, "filing", T0, Role.INSPECTOR, expect=403)
    assert set(refused["details"]["allowedRoles"]) == {"captain", "admin"}
    await flow.step(case_id, "filing", T0, approvalNo="立审〔2026〕8号")
    assert (await flow.call("GET", f"/cases/{case_id}"))["status"] == "filed"
    # the lead records the investigation: the case is under investigation
    await flow.step(case_id, "investigation", T0 + timedelta(hours=1), Role.INSPECTOR,
                    summary="现场勘验，制作勘验笔录")  # fmt: skip
    assert (await flow.call("GET", f"/cases/{case_id}"))["status"] == "investigating"
    # a step dated before the last one is refused
    back = await flow.step(case_id, "investigation", T0, Role.INSPECTOR, expect=422,
                           summary="询问")  # fmt: skip
    assert back["code"] == "invalid_time"
    # an investigation record says what was done
    empty = await flow.step(case_id, "investigation", T0 + timedelta(hours=2), Role.INSPECTOR,
                            expect=422)  # fmt: skip
    assert empty["code"] == "invalid_case_step"
    # a penalty decision needs the content of the penalty first
    decision = await flow.step(case_id, "decision", T0 + timedelta(hours=3), expect=409,
                               option="penalty")  # fmt: skip
    assert decision["code"] == "penalty_required"

    steps = await flow.call("GET", f"/cases/{case_id}/steps", Role.JOINT_TEAM)
    assert [(s["seq"], s["kind"], s["stage"]) for s in steps] == [
        (1, "filing", "filing"),
        (2, "investigation", "investigation"),
    ]
    assert steps[0]["details"] == {"approval_no": "立审〔2026〕8号"}
    assert steps[1]["recordedBy"] == str(flow.county.users[Role.INSPECTOR].id)
    assert steps[0]["documentId"] is None


async def test_suspension_extension_and_withdrawal(flow: Flow) -> None:
    case_id = await flow.open_case()
    await flow.step(case_id, "filing", T0)
    await flow.step(case_id, "investigation", T0 + timedelta(hours=1), summary="勘验")
    # an extension of more than 90 days is not one
    long = await flow.step(case_id, "extension_request", T0 + timedelta(hours=2), Role.INSPECTOR,
                           expect=422, days=120, reason="复杂")  # fmt: skip
    assert long["code"] == "invalid_case_step"
    # 中止 needs its reason
    bare = await flow.step(case_id, "suspend", T0 + timedelta(hours=3), expect=422)
    assert bare["code"] == "reason_required"
    await flow.step(case_id, "suspend", T0 + timedelta(hours=3), reason="当事人下落不明")
    proc = await flow.procedure(case_id)
    assert proc["status"] == "suspended"
    assert proc["nextSteps"] == ["resume", "terminate", "withdraw"]
    held = await flow.step(case_id, "investigation", T0 + timedelta(days=1), expect=409,
                           summary="勘验")  # fmt: skip
    assert held["details"]["expectedStep"] == "resume"
    # suspended for ten days: they do not count towards the 90
    await flow.step(case_id, "resume", T0 + timedelta(days=10, hours=3))
    proc = await flow.procedure(case_id)
    assert proc["status"] == "investigating"
    decision = next(d for d in proc["deadlines"] if d["step"] == "decision")
    assert decision["daysPaused"] == 10.0
    await flow.step(case_id, "withdraw", T0 + timedelta(days=11), reason="违法事实不能成立")
    assert (await flow.call("GET", f"/cases/{case_id}"))["status"] == "withdrawn"


async def test_a_referred_case_takes_only_the_steps_that_leave_its_status(flow: Flow) -> None:
    case_id = await flow.open_case()
    await flow.call(
        "POST", "/referral-flags", Role.CAPTAIN, {"caseId": case_id, "reason": "疑似犯罪"}
    )
    team = [str(flow.county.users[Role.SECURITY_SQUAD].id), str(flow.county.users[Role.CAPTAIN].id)]
    await flow.call("POST", f"/cases/{case_id}/referrals", Role.SECURITY_SQUAD,
                    {"teamIds": team, "report": "涉嫌非法占用农用地罪"})  # fmt: skip
    proc = await flow.procedure(case_id, Role.SECURITY_SQUAD)
    assert proc["status"] == "referred"
    assert proc["nextSteps"] == ["clue"]
    refused = await flow.step(case_id, "filing", T0, expect=409)
    assert refused["details"]["expectedStep"] == "clue"
    await flow.step(case_id, "clue", T0, Role.INSPECTOR)
    # the referral's own moves are untouched: the case still follows it
    assert (await flow.call("GET", f"/cases/{case_id}"))["status"] == "referred"
