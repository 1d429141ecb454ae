"""The collections a phone pulls: who sees what (scope), record versions, record payloads.

Scope, for a caller in county C (``mgr``: captains and admins). Who may read a record is
the rule of :mod:`patrol.policy` (the same SQL the REST reads filter with); the pull adds
only time windows:

* ``areas`` — active contract areas the caller may read (``AREA_READ``: leader, members,
  managers);
* ``targets`` — active targets of those areas;
* ``plans`` — plans of active areas from last month on that the caller may read
  (``PLAN_READ``: who reads the area, and the plan's inspectors);
* ``mine_sites`` — register sites (not retired) the caller may read (``SITE_READ``: managers,
  holders of a five-to-one seat);
* ``patrols`` — patrols the caller may read (``PATROL_READ``: crew, the area's leader,
  managers), open or started in the last 30 local days;
* ``findings`` — findings of the last 90 local days the caller may read (``finding_read()``:
  who reads the patrol, the reporter, and the security squad the findings of its view —
  flagged, or the source of a case it may see — registered by :mod:`evidence.cases.access`);
* ``cases`` — enforcement cases the caller may see (the rule of :mod:`evidence.cases.access`, the
  one REST applies: managers all, the security squad those flagged, suggested for or in
  referral, everyone else those they opened or whose team they are on) that are open, or
  closed in the last 90 local days;
* ``satellite_tasks`` — satellite tasks the caller may read (``TASK_READ`` of
  :mod:`evidence.cases.satellite_access`: managers, the task's inspector, who reads its
  contract area) that are not submitted, or were submitted in the last 90 local days;
* ``features`` — reference features of the current layer versions (parcels, planning zones,
  change polygons, mine sites) that intersect those areas.

Versions come from the rows' ``xmin`` (the writing transaction), hashed together with child
rows where a record is made of several rows; immutable layer features have version 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from evidence.cases.access import visible_cases_sql
from evidence.cases.referrals import STEP_TIMES, step_timings
from evidence.cases.satellite_access import TASK_READ
from geofence.enums import LayerKind
from geofence.layers import LAYER_TABLES, current_features_sql
from geofence.overlay import to_mu
from patrol.finding_checks import finding_place
from patrol.policy import (
    AREA_READ,
    PATROL_READ,
    PLAN_READ,
    SITE_READ,
    finding_read,
    sync_predicate,
)
from sync.records import (
    AreaRecord,
    CaseParty,
    CaseRecord,
    FindingRecord,
    JsonRecords,
    MineSiteRecord,
    PatrolRecord,
    PlanRecord,
    RosterSeat,
    SatelliteTaskRecord,
    TargetRecord,
)

__all__ = ["ALL_MASK", "COLLECTIONS", "TIME_WINDOW_MASK", "Collection", "mask_of_tables"]

_PREFIX = f"""
WITH prm AS (
    SELECT $1::uuid AS county, $2::uuid AS uid, $3::bool AS mgr, $4::date AS plan_from,
           $5::timestamptz AS patrol_from, $6::timestamptz AS finding_from
),
my_areas AS (
    SELECT a.id FROM patrol_areas a, prm
    WHERE a.county_id = prm.county AND a.active AND {sync_predicate(AREA_READ, "a")}
)"""  # noqa: S608 - constant SQL

# The difference between the scope and what the phone acknowledged, as a FULL JOIN: a plan
# for it can only hash or merge the two sides (PostgreSQL runs no full join as a nested
# loop), so it costs one pass over each whatever the planner believes about their sizes.
# (Written as a LEFT JOIN plus a NOT EXISTS over the scope, a freshly written database with
# no statistics got nested loops over the scope for every manifest row: each page grew with
# the manifest, and a long pull was quadratic.) A difference larger than the page is kept
# whole in sync_outbox, by record id, and the pages after it read on from there.
_DIFF = """,
scope AS ({scope}),
diff AS MATERIALIZED (
    SELECT coalesce(s.id, m.record_id) AS id, s.v
    FROM scope s
    FULL JOIN (SELECT record_id, version FROM sync_manifest
               WHERE stream_id = $7 AND collection = $8) m ON m.record_id = s.id
    WHERE s.v IS DISTINCT FROM m.version
),
kept AS (
    INSERT INTO sync_outbox (stream_id, collection, record_id, version)
    SELECT $7, $8, id, v FROM diff WHERE (SELECT count(*) FROM diff) > $9
)
SELECT id, v FROM diff ORDER BY id LIMIT $9 + 1
"""
_OUTBOX_CLEAR = "DELETE FROM sync_outbox WHERE stream_id = $1 AND collection = $2"
_OUTBOX_READ = """
SELECT record_id, version FROM sync_outbox
WHERE stream_id = $1 AND collection = $2 AND record_id > $3
ORDER BY record_id LIMIT $4 + 1
"""

_AREAS_SCOPE = """
SELECT a.id, hashtextextended(a.xmin::text || ':' || coalesce((
    SELECT string_agg(m.user_id::text || m.xmin::text, ',' ORDER BY m.user_id)
    FROM patrol_area_members m WHERE m.area_id = a.id), ''), 0) AS v
FROM patrol_areas a WHERE a.id IN (SELECT id FROM my_areas)
"""
_TARGETS_SCOPE = """
SELECT t.id, t.xmin::text::bigint AS v FROM patrol_targets t, prm
WHERE t.county_id = prm.county AND t.active AND t.area_id IN (SELECT id FROM my_areas)
"""
_PLANS_SCOPE = f"""
SELECT p.id, hashtextextended(p.xmin::text || ':' || coalesce((
    SELECT string_agg(i.user_id::text, ',' ORDER BY i.user_id)
    FROM patrol_plan_inspectors i WHERE i.plan_id = p.id), ''), 0) AS v
FROM patrol_plans p, prm
WHERE p.county_id = prm.county AND p.month >= prm.plan_from
  AND EXISTS (SELECT 1 FROM patrol_areas pa WHERE pa.id = p.area_id AND pa.active)
  AND {sync_predicate(PLAN_READ, "p")}
"""  # noqa: S608 - only constant SQL is put together here
_SITES_SCOPE = f"""
SELECT s.id, hashtextextended(s.xmin::text || ':' || coalesce((
    SELECT string_agg(r.id::text || r.xmin::text, ',' ORDER BY r.id)
    FROM geofence_roster_members r WHERE r.site_id = s.id), ''), 0) AS v
FROM geofence_mine_sites s, prm
WHERE s.county_id = prm.county AND NOT s.retired AND {sync_predicate(SITE_READ, "s")}
"""  # noqa: S608 - only constant SQL is put together here
_PATROLS_SCOPE = f"""
SELECT s.id, s.xmin::text::bigint AS v FROM patrol_sessions s, prm
WHERE s.county_id = prm.county AND {sync_predicate(PATROL_READ, "s")}
  AND (s.ended_at IS NULL OR s.started_at >= prm.patrol_from)
"""  # noqa: S608 - only constant SQL is put together here
# built after evidence.cases.access is imported (above), which registers the squad's branch
_FINDINGS_SCOPE = f"""
SELECT f.id, f.xmin::text::bigint AS v
FROM patrol_findings f, prm
WHERE f.county_id = prm.county AND f.found_at >= prm.finding_from
  AND {sync_predicate(finding_read(), "f")}
"""  # noqa: S608 - only constant SQL is put together here
# the visibility rule of cases is evidence.cases.access's (the one REST applies), rendered as SQL
# with the caller's role read from users; the version hashes the case with its evidence
# links, flags (on the case or its finding), current suggestions, team and referrals
# ('2:' since records carry the referral's step times: every case is sent once more)
_CASE_FLAGS = """
SELECT f.id, f.xmin FROM referral_flags f
WHERE f.case_id = c.id OR (c.source_kind = 'finding' AND f.finding_id = c.source_id
                           AND f.county_id = c.county_id)
"""
_VISIBLE_CASES = visible_cases_sql(
    county="prm.county", uid="prm.uid", role="(SELECT u.role FROM users u WHERE u.id = prm.uid)"
)
_CASES_SCOPE = f"""
SELECT c.id, hashtextextended('2:' || c.xmin::text
    || ':' || coalesce((SELECT string_agg(e.evidence_id::text || '@' || e.position, ','
                                          ORDER BY e.evidence_id)
                        FROM case_evidence e WHERE e.case_id = c.id), '')
    || ':' || coalesce((SELECT string_agg(fl.id::text || fl.xmin::text, ',' ORDER BY fl.id)
                        FROM ({_CASE_FLAGS}) fl), '')
    || ':' || coalesce((SELECT string_agg(s.id::text, ',' ORDER BY s.id)
                        FROM referral_suggestions s
                        WHERE s.case_id = c.id AND s.superseded_at IS NULL), '')
    || ':' || coalesce((SELECT string_agg(t.user_id::text || t.role_in_team, ','
                                          ORDER BY t.user_id)
                        FROM case_team_members t WHERE t.case_id = c.id), '')
    || ':' || coalesce((SELECT string_agg(r.id::text || r.xmin::text, ',' ORDER BY r.id)
                        FROM referrals r WHERE r.case_id = c.id), ''), 0) AS v
FROM cases c, prm
WHERE c.county_id = prm.county
  AND (c.status NOT IN ('closed', 'terminated', 'withdrawn')
       OR c.status_changed_at >= prm.finding_from)
  AND c.id IN ({_VISIBLE_CASES})
"""  # noqa: S608 - only constant SQL is put together here
# the task's version hashes its row with its batch's (the batch name travels with the task)
_SATELLITE_TASKS_SCOPE = f"""
SELECT t.id, hashtextextended(t.xmin::text || ':' || b.xmin::text, 0) AS v
FROM satellite_tasks t JOIN satellite_batches b ON b.id = t.batch_id, prm
WHERE t.county_id = prm.county AND {sync_predicate(TASK_READ, "t")}
  AND (t.status <> 'submitted' OR t.submitted_at >= prm.finding_from)
"""  # noqa: S608 - only constant SQL is put together here
# Driven from the caller's areas, so PostGIS finds the features through the spatial index
# (a county layer holds far more features than one inspector's areas touch). Which rows are
# current is the one rule of the map layers (geofence.layers.current_features_sql): the
# newest version of a layer imported whole (looked up once), every live mine site.
_LAYER = """
SELECT DISTINCT f.id, {version} AS v
FROM patrol_areas a JOIN {table} f ON ST_Intersects(a.geom, f.geom)
WHERE a.id IN (SELECT id FROM my_areas)
  AND {current}
"""
_FEATURES_SCOPE = " UNION ALL ".join(
    _LAYER.format(
        table=LAYER_TABLES[kind],
        # a register site changes in place; an imported feature never does
        version="f.xmin::text::bigint" if kind is LayerKind.MINE_SITES else "0::bigint",
        current=current_features_sql(kind, alias="f", county="(SELECT county FROM prm)"),
    )
    for kind in (
        LayerKind.PARCELS, LayerKind.PLANNING_ZONES, LayerKind.CHANGE_POLYGONS,
        LayerKind.MINE_SITES,
    )
)  # fmt: skip

# -- payloads: $1 ids, $2 county, $3 caller ------------------------------------------------
_AREAS_SQL = """
SELECT a.id, a.code, a.name, a.grade, ST_AsGeoJSON(a.geom, 7) AS g, a.leader_id,
       a.township_ids, a.village_ids, $3::uuid AS caller,
       coalesce((SELECT array_agg(m.user_id ORDER BY m.user_id)
                 FROM patrol_area_members m WHERE m.area_id = a.id), '{}') AS members
FROM patrol_areas a WHERE a.id = ANY($1::uuid[]) AND a.county_id = $2
"""
_TARGETS_SQL = """
SELECT t.id, t.area_id, t.kind, t.name, t.ref_id, ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat,
       t.visit_radius_m, t.due_on, $3::uuid AS caller
FROM patrol_targets t WHERE t.id = ANY($1::uuid[]) AND t.county_id = $2
"""
_PLANS_SQL = """
SELECT p.id, p.area_id, p.month, p.quota, p.min_per_week, p.min_night, p.min_night_per_week,
       p.target_ids, p.note, $3::uuid AS caller,
       coalesce((SELECT array_agg(i.user_id ORDER BY i.user_id)
                 FROM patrol_plan_inspectors i WHERE i.plan_id = p.id), '{}') AS inspectors
FROM patrol_plans p WHERE p.id = ANY($1::uuid[]) AND p.county_id = $2
"""
_SITES_SQL = """
SELECT s.id, s.code, s.name, s.site_kind, s.mineral, s.status, s.closed_on,
       ST_AsGeoJSON(s.geom, 7) AS g,
       coalesce((SELECT array_agg(r.role ORDER BY r.role) FROM geofence_roster_members r
                 WHERE r.site_id = s.id AND r.user_id = $3::uuid), '{}') AS my_roles,
       coalesce((SELECT json_agg(json_build_object(
                    'role', r.role, 'name', coalesce(u.display_name, r.contact_name),
                    'user_id', r.user_id, 'duty_period', r.duty_period,
                    'duty_checks', r.duty_checks) ORDER BY r.role)
                 FROM geofence_roster_members r LEFT JOIN users u ON u.id = r.user_id
                 WHERE r.site_id = s.id), '[]')::text AS roster
FROM geofence_mine_sites s WHERE s.id = ANY($1::uuid[]) AND s.county_id = $2
"""
_PATROLS_SQL = """
SELECT s.id, s.area_id, s.inspector_id, s.companion_ids, s.started_at, s.ended_at,
       s.end_reason, s.note, s.has_violation, s.point_count, s.distance_m, s.duration_s,
       $3::uuid AS caller
FROM patrol_sessions s WHERE s.id = ANY($1::uuid[]) AND s.county_id = $2
"""
_FINDINGS_SQL = """
SELECT f.id, f.session_id, f.reported_by, f.found_at, f.project_name, f.builder,
       f.construction_started_on, f.construction_status, f.occupied_area_m2,
       ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat, f.accuracy_m, f.township_id, f.village_id,
       f.note, f.updated_at, $3::uuid AS caller, ST_AsGeoJSON(f.outline, 7) AS outline,
       f.land_class, f.location_check::text AS location_check,
       f.areas_by_class::text AS areas_by_class, f.areas_source::text AS areas_source,
       f.flags, f.screening::text AS screening
FROM patrol_findings f WHERE f.id = ANY($1::uuid[]) AND f.county_id = $2
"""
_CASES_SQL = """
SELECT c.id, c.case_no, c.cause, c.violation_kind, c.status, c.status_changed_at,
       c.source_kind, c.source_id, c.act_date, ST_X(c.location) AS lon, ST_Y(c.location) AS lat,
       ST_AsGeoJSON(c.surveyed_geom, 7) AS g, c.area_total_m2, c.area_cultivated_m2,
       c.area_basic_farmland_m2, c.opened_by, c.updated_at, $3::uuid AS caller,
       coalesce((SELECT json_agg(json_build_object('name', p->>'name', 'kind', p->>'kind'))
                 FROM jsonb_array_elements(c.parties) p), '[]')::text AS parties,
       coalesce((SELECT array_agg(e.evidence_id ORDER BY e.position, e.evidence_id)
                 FROM case_evidence e WHERE e.case_id = c.id), '{}') AS evidence_ids,
       EXISTS (SELECT 1 FROM referral_flags f
               WHERE f.case_id = c.id OR (c.source_kind = 'finding'
                     AND f.finding_id = c.source_id AND f.county_id = c.county_id)) AS flagged,
       r.*
FROM cases c LEFT JOIN LATERAL (SELECT r.status AS referral_status, STEP_TIME_COLUMNS
                                FROM referrals r WHERE r.case_id = c.id
                                ORDER BY r.created_at DESC, r.id DESC LIMIT 1) r ON true
WHERE c.id = ANY($1::uuid[]) AND c.county_id = $2
""".replace(  # the latest referral: its status and its steps' due and recorded times
    "STEP_TIME_COLUMNS", ", ".join(f"r.{col}" for _, *cols in STEP_TIMES for col in cols)
)
_SATELLITE_TASKS_SQL = """
SELECT t.id, t.batch_id, b.name AS batch_name, t.monitoring_no, t.status, t.due_on,
       ST_AsGeoJSON(p.geom, 7) AS g, p.monitored_areas::text AS monitored, p.area_m2,
       t.area_id, t.inspector_id, t.target_id, t.outcome, t.review_note, $3::uuid AS caller
FROM satellite_tasks t
JOIN satellite_batches b ON b.id = t.batch_id
JOIN geofence_change_polygons p ON p.id = t.change_polygon_id
WHERE t.id = ANY($1::uuid[]) AND t.county_id = $2
"""
# Features are many and simple: PostgreSQL writes each as the JSON of a FeatureRecord (the
# GeoJSON from ST_AsGeoJSON spliced in as it is), with the field names the API sends, and
# the page carries the array as it is (JsonRecords): no record object is built for them.
_FEATURE_JSON = """
SELECT f.id, '{{"id":"' || f.id || '","version":{version},"layer":"{layer}","layerVersion":'
       || lv.version_no || ',"properties":' || {props}
       || ',"geometry":' || ST_AsGeoJSON(f.geom, 7) || '}}' AS j
FROM {table} f JOIN geofence_layer_versions lv ON lv.id = f.layer_version_id
WHERE f.id = ANY($1::uuid[]) AND f.county_id = $2
"""


def _props(*columns: str) -> str:
    """SQL writing the columns of ``f`` as a compact JSON object (``json_build_object``
    puts spaces around every separator, and takes longer)."""
    members = " || ',' || ".join(
        f"'\"{c}\":' || coalesce(to_json(f.{c})::text, 'null')" for c in columns
    )
    return f"'{{' || {members} || '}}'"


_FEATURES_SQL = (
    "SELECT count(*), '[' || coalesce(string_agg(j, ',' ORDER BY id), '') || ']' FROM ("  # noqa: S608 - constant SQL
    + " UNION ALL ".join(
        _FEATURE_JSON.format(table=table, layer=layer, version=version, props=props)
        for table, layer, version, props in (
            ("geofence_parcels", "parcels", "0",
             _props("land_class", "source_code", "source_name", "area_m2")),
            ("geofence_planning_zones", "planning_zones", "0",
             _props("zone_kind", "code", "name", "area_m2")),
            ("geofence_change_polygons", "change_polygons", "0",
             _props("monitoring_no", "batch_year", "batch_quarter", "area_m2")),
            ("geofence_mine_sites", "mine_sites", "' || f.xmin::text || '",
             _props("code", "name", "site_kind", "status")),
        )
    )
    + ") t"
)  # fmt: skip

_json = msgspec.json.Decoder()
_roster = msgspec.json.Decoder(list[RosterSeat])
_parties = msgspec.json.Decoder(list[CaseParty])

Row = Any
Builder = Callable[[Row, int], Any]


def _area(r: Row, v: int) -> AreaRecord:
    return AreaRecord(
        id=r["id"],
        version=v,
        code=r["code"],
        name=r["name"],
        grade=r["grade"],
        geometry=_json.decode(r["g"]),
        leader_id=r["leader_id"],
        member_ids=list(r["members"]),
        township_ids=list(r["township_ids"] or []),
        village_ids=list(r["village_ids"] or []),
    )


def _target(r: Row, v: int) -> TargetRecord:
    return TargetRecord(
        id=r["id"],
        version=v,
        area_id=r["area_id"],
        kind=r["kind"],
        name=r["name"],
        ref_id=r["ref_id"],
        lon=r["lon"],
        lat=r["lat"],
        visit_radius_m=r["visit_radius_m"],
        due_on=r["due_on"],
    )


def _plan(r: Row, v: int) -> PlanRecord:
    return PlanRecord(
        id=r["id"],
        version=v,
        area_id=r["area_id"],
        month=r["month"],
        quota=r["quota"],
        min_per_week=r["min_per_week"],
        min_night=r["min_night"],
        min_night_per_week=r["min_night_per_week"],
        target_ids=list(r["target_ids"] or []),
        inspector_ids=list(r["inspectors"]),
        note=r["note"],
    )


def _site(r: Row, v: int) -> MineSiteRecord:
    return MineSiteRecord(
        id=r["id"],
        version=v,
        code=r["code"],
        name=r["name"],
        site_kind=r["site_kind"],
        mineral=r["mineral"],
        status=r["status"],
        closed_on=r["closed_on"],
        geometry=_json.decode(r["g"]),
        my_roles=list(r["my_roles"]),
        roster=_roster.decode(r["roster"]),
    )


def _patrol(r: Row, v: int) -> PatrolRecord:
    return PatrolRecord(
        id=r["id"],
        version=v,
        area_id=r["area_id"],
        inspector_id=r["inspector_id"],
        companion_ids=list(r["companion_ids"] or []),
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        end_reason=r["end_reason"],
        note=r["note"],
        has_violation=r["has_violation"],
        point_count=r["point_count"],
        distance_m=r["distance_m"],
        duration_s=r["duration_s"],
    )


def _finding(r: Row, v: int) -> FindingRecord:
    outline = r["outline"]
    place = finding_place(
        location_check=_json.decode(r["location_check"]),
        land_class=r["land_class"],
        areas_by_class=_json.decode(r["areas_by_class"]),
        areas_source=_json.decode(r["areas_source"]),
        flags=r["flags"],
        screening=_json.decode(r["screening"]),
        outline=None if outline is None else _json.decode(outline),
    )
    return FindingRecord(
        id=r["id"],
        version=v,
        patrol_id=r["session_id"],
        reported_by=r["reported_by"],
        found_at=r["found_at"],
        project_name=r["project_name"],
        builder=r["builder"],
        construction_started_on=r["construction_started_on"],
        construction_status=r["construction_status"],
        occupied_area_m2=r["occupied_area_m2"],
        lon=r["lon"],
        lat=r["lat"],
        accuracy_m=r["accuracy_m"],
        township_id=r["township_id"],
        village_id=r["village_id"],
        note=r["note"],
        updated_at=r["updated_at"],
        outline=place.outline,
        land_class=place.land_class,
        land_class_label=place.land_class_label,
        land_use=place.land_use,
        land_use_basis=place.land_use_basis,
        mine_site_ids=place.mine_site_ids,
        flags=place.flags,
        location_check=place.location_check,
        suggestions=place.suggestions,
    )


def _case(r: Row, v: int) -> CaseRecord:
    return CaseRecord(
        id=r["id"],
        version=v,
        case_no=r["case_no"],
        cause=r["cause"],
        violation_kind=r["violation_kind"],
        status=r["status"],
        status_changed_at=r["status_changed_at"],
        source_kind=r["source_kind"],
        source_id=r["source_id"],
        act_date=r["act_date"],
        lon=r["lon"],
        lat=r["lat"],
        surveyed_geometry=None if r["g"] is None else _json.decode(r["g"]),
        area_total_m2=r["area_total_m2"],
        area_cultivated_m2=r["area_cultivated_m2"],
        area_basic_farmland_m2=r["area_basic_farmland_m2"],
        parties=_parties.decode(r["parties"]),
        opened_by=r["opened_by"],
        evidence_ids=list(r["evidence_ids"]),
        flagged=r["flagged"],
        referral_status=r["referral_status"],
        updated_at=r["updated_at"],
        referral_steps=step_timings(r),
    )


def _satellite_task(r: Row, v: int) -> SatelliteTaskRecord:
    monitored = _json.decode(r["monitored"]) or {}
    return SatelliteTaskRecord(
        id=r["id"],
        version=v,
        batch_id=r["batch_id"],
        batch_name=r["batch_name"],
        monitoring_no=r["monitoring_no"],
        status=r["status"],
        due_on=r["due_on"],
        geometry=_json.decode(r["g"]),
        monitored_areas_mu={k: to_mu(float(m2), 2) for k, m2 in monitored.items()},
        area_mu=to_mu(r["area_m2"], 2),
        area_id=r["area_id"],
        inspector_id=r["inspector_id"],
        target_id=r["target_id"],
        outcome=r["outcome"],
        review_note=r["review_note"] if r["status"] == "sent_back" else "",
    )


@dataclass(frozen=True, slots=True)
class Collection:
    bit: int
    name: str
    diff_sql: str
    fetch_sql: str
    # a builder per row, or None when fetch_sql returns the count of records and all of them
    # as one JSON array (JsonRecords)
    build: Builder | None
    tables: tuple[str, ...]

    @property
    def mask(self) -> int:
        return 1 << self.bit

    async def diff(
        self, conn: Any, params: Sequence[Any], stream_id: uuid.UUID, room: int
    ) -> list[tuple[uuid.UUID, int | None]]:
        """``(id, version)`` to send (``None``: deleted), by id: at most ``room`` + 1 (one
        more than fits says there is more). Compares the whole scope with the manifest; a
        difference larger than ``room`` is kept in the outbox for :meth:`read_on`."""
        await conn.execute(_OUTBOX_CLEAR, stream_id, self.bit)
        rows = await conn.fetch(self.diff_sql, *params, stream_id, self.bit, room)
        return [(r[0], r[1]) for r in rows]

    async def read_on(
        self, conn: Any, stream_id: uuid.UUID, after: uuid.UUID, room: int
    ) -> list[tuple[uuid.UUID, int | None]]:
        """Like :meth:`diff`, from the outbox kept by the pass that sent up to ``after``."""
        rows = await conn.fetch(_OUTBOX_READ, stream_id, self.bit, after, room)
        return [(r[0], r[1]) for r in rows]

    async def fetch(
        self,
        conn: Any,
        versions: dict[uuid.UUID, int],
        county_id: uuid.UUID,
        caller: uuid.UUID,
    ) -> list[Any] | JsonRecords:
        build = self.build
        if build is None:
            count, data = await conn.fetchrow(self.fetch_sql, list(versions), county_id)
            return JsonRecords(data, count)
        rows = await conn.fetch(self.fetch_sql, list(versions), county_id, caller)
        out = [build(r, versions[r["id"]]) for r in rows]
        out.sort(key=lambda rec: rec.id)
        return out


def _collection(
    bit: int,
    name: str,
    scope: str,
    fetch_sql: str,
    build: Builder | None,
    *tables: str,
) -> Collection:
    return Collection(bit, name, _PREFIX + _DIFF.format(scope=scope), fetch_sql, build, tables)


_SCOPE_TABLES = ("users", "patrol_areas", "patrol_area_members")

#: In the order a phone should apply them (areas before what refers to them).
COLLECTIONS: tuple[Collection, ...] = (
    _collection(0, "areas", _AREAS_SCOPE, _AREAS_SQL, _area, *_SCOPE_TABLES),
    _collection(1, "targets", _TARGETS_SCOPE, _TARGETS_SQL, _target, *_SCOPE_TABLES,
                "patrol_targets"),
    _collection(2, "plans", _PLANS_SCOPE, _PLANS_SQL, _plan, *_SCOPE_TABLES, "patrol_plans",
                "patrol_plan_inspectors"),
    _collection(3, "mine_sites", _SITES_SCOPE, _SITES_SQL, _site, "users",
                "geofence_mine_sites", "geofence_roster_members"),
    _collection(4, "patrols", _PATROLS_SCOPE, _PATROLS_SQL, _patrol, "users",
                "patrol_areas", "patrol_sessions"),
    _collection(5, "findings", _FINDINGS_SCOPE, _FINDINGS_SQL, _finding, "users",
                "patrol_areas", "patrol_sessions", "patrol_findings", "referral_flags", "cases",
                "referral_suggestions", "referrals"),
    _collection(7, "cases", _CASES_SCOPE, _CASES_SQL, _case, "users", "cases",
                "case_evidence", "referral_flags", "referrals", "case_team_members",
                "referral_suggestions"),
    _collection(8, "satellite_tasks", _SATELLITE_TASKS_SCOPE, _SATELLITE_TASKS_SQL,
                _satellite_task, *_SCOPE_TABLES, "satellite_tasks", "satellite_batches"),
    _collection(6, "features", _FEATURES_SCOPE, _FEATURES_SQL, None, *_SCOPE_TABLES,
                "geofence_layer_versions", "geofence_mine_sites"),
)  # fmt: skip

ALL_MASK = sum(c.mask for c in COLLECTIONS)
#: Collections whose scope moves with the calendar (recomputed when the local day changes).
TIME_WINDOW_MASK = sum(
    c.mask
    for c in COLLECTIONS
    if c.name in {"plans", "patrols", "findings", "cases", "satellite_tasks"}
)

_BY_TABLE: dict[str, int] = {}
for _c in COLLECTIONS:
    for _t in _c.tables:
        _BY_TABLE[_t] = _BY_TABLE.get(_t, 0) | _c.mask


def mask_of_tables(tables: Sequence[str]) -> int:
    """The collections a write to any of ``tables`` may have changed."""
    mask = 0
    for table in tables:
        mask |= _BY_TABLE.get(table, 0)
    return mask
