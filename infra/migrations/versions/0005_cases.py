"""cases, screening rules, referrals, packages; seeds the national referral thresholds

Revision ID: 0005_cases
Revises: 0001_foundation
Create Date: 2026-11-21

The seed rows are the national figures for criminal referral screening,
province ``00``, with the date each judicial interpretation took effect. Provinces add their
own rows (same ``code``) through ``evidence.cases.screening.add_rule``; those win over ``00``.
Evidence ids are plain UUID columns: ``0004_evidence`` migrates on its own branch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0005_cases"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# -- national referral thresholds -------------------------------------------------------------
_NS = uuid.UUID("6f1c1f0e-5b7a-4d43-9a55-0c0a5e3c2a05")
_LAND_2000 = (
    "法释〔2000〕14号《最高人民法院关于审理破坏土地资源刑事案件具体应用法律若干问题的解释》",
    date(2000, 6, 22),
)
_FOREST_2023 = (
    "法释〔2023〕8号《最高人民法院关于审理破坏森林资源刑事案件适用法律若干问题的解释》",
    date(2023, 8, 15),
)
_GRASS_2012 = (
    "法释〔2012〕15号《最高人民法院关于审理破坏草原资源刑事案件应用法律若干问题的解释》",
    date(2012, 11, 22),
)
_MINING_2016 = (
    "法释〔2016〕25号《最高人民法院、最高人民检察院关于办理非法采矿、破坏性采矿刑事案件适用法律若干问题的解释》",
    date(2016, 12, 1),
)

_OCCUPY = ("land_occupation", "非法占用农用地罪", "刑法第三百四十二条")
_TRANSFER = ("land_transfer", "非法转让、倒卖土地使用权罪", "刑法第二百二十八条")
_MINING = ("illegal_mining", "非法采矿罪", "刑法第三百四十三条第一款")
_DESTRUCTIVE = ("destructive_mining", "破坏性采矿罪", "刑法第三百四十三条第二款")
_TWICE_IN_2Y = {"penalties": {"kind": "land_occupation", "within_years": 2, "at_least": 2}}

# code, (kind, crime, article), level, metric, threshold, unit, condition, (source, from), article, description
_RULES: list[tuple[Any, ...]] = [
    (
        "342.basic_farmland",
        _OCCUPY,
        "threshold",
        "basic_farmland_mu",
        "5",
        "mu",
        {},
        _LAND_2000,
        "第三条",
        "非法占用永久基本农田5亩以上，改变用途或造成毁坏",
    ),
    (
        "342.cultivated",
        _OCCUPY,
        "threshold",
        "other_cultivated_mu",
        "10",
        "mu",
        {},
        _LAND_2000,
        "第三条",
        "非法占用基本农田以外的耕地10亩以上，改变用途或造成毁坏",
    ),
    (
        "342.forest.public_welfare",
        _OCCUPY,
        "threshold",
        "forest_public_welfare_mu",
        "5",
        "mu",
        {},
        _FOREST_2023,
        "第一条",
        "非法占用并毁坏公益林地5亩以上",
    ),
    (
        "342.forest.commercial",
        _OCCUPY,
        "threshold",
        "forest_commercial_mu",
        "10",
        "mu",
        {},
        _FOREST_2023,
        "第一条",
        "非法占用并毁坏商品林地10亩以上",
    ),
    (
        "342.forest.public_welfare.repeat",
        _OCCUPY,
        "threshold",
        "forest_public_welfare_mu",
        "2.5",
        "mu",
        _TWICE_IN_2Y,
        _FOREST_2023,
        "第一条",
        "两年内曾因非法占用农用地受过二次以上行政处罚，又非法占用公益林地，达到标准一半（2.5亩）以上",
    ),
    (
        "342.forest.commercial.repeat",
        _OCCUPY,
        "threshold",
        "forest_commercial_mu",
        "5",
        "mu",
        _TWICE_IN_2Y,
        _FOREST_2023,
        "第一条",
        "两年内曾因非法占用农用地受过二次以上行政处罚，又非法占用商品林地，达到标准一半（5亩）以上",
    ),
    (
        "342.grassland",
        _OCCUPY,
        "threshold",
        "grassland_mu",
        "20",
        "mu",
        {},
        _GRASS_2012,
        "第二条",
        "非法占用草原，改变被占用草原用途，数量在20亩以上",
    ),
    (
        "342.grassland.repeat",
        _OCCUPY,
        "threshold",
        "grassland_mu",
        "10",
        "mu",
        {"penalties": {"kind": "grassland", "within_years": 3, "at_least": 1}},
        _GRASS_2012,
        "第二条",
        "曾因非法占用草原受过行政处罚，三年内又非法占用草原10亩以上",
    ),
    (
        "228.basic_farmland",
        _TRANSFER,
        "threshold",
        "basic_farmland_mu",
        "5",
        "mu",
        {},
        _LAND_2000,
        "第一条",
        "非法转让、倒卖基本农田5亩以上（情节严重）",
    ),
    (
        "228.cultivated",
        _TRANSFER,
        "threshold",
        "other_cultivated_mu",
        "10",
        "mu",
        {},
        _LAND_2000,
        "第一条",
        "非法转让、倒卖基本农田以外的耕地10亩以上（情节严重）",
    ),
    (
        "228.other_land",
        _TRANSFER,
        "threshold",
        "other_land_mu",
        "20",
        "mu",
        {},
        _LAND_2000,
        "第一条",
        "非法转让、倒卖其他土地20亩以上（情节严重）",
    ),
    (
        "228.illegal_gain",
        _TRANSFER,
        "threshold",
        "illegal_gain_yuan",
        "500000",
        "yuan",
        {},
        _LAND_2000,
        "第一条",
        "非法转让、倒卖土地使用权违法所得50万元以上（情节严重）",
    ),
    (
        "228.basic_farmland.especially_serious",
        _TRANSFER,
        "especially_serious",
        "basic_farmland_mu",
        "10",
        "mu",
        {},
        _LAND_2000,
        "第二条",
        "非法转让、倒卖基本农田10亩以上（情节特别严重）",
    ),
    (
        "228.cultivated.especially_serious",
        _TRANSFER,
        "especially_serious",
        "other_cultivated_mu",
        "20",
        "mu",
        {},
        _LAND_2000,
        "第二条",
        "非法转让、倒卖基本农田以外的耕地20亩以上（情节特别严重）",
    ),
    (
        "228.other_land.especially_serious",
        _TRANSFER,
        "especially_serious",
        "other_land_mu",
        "40",
        "mu",
        {},
        _LAND_2000,
        "第二条",
        "非法转让、倒卖其他土地40亩以上（情节特别严重）",
    ),
    (
        "228.illegal_gain.especially_serious",
        _TRANSFER,
        "especially_serious",
        "illegal_gain_yuan",
        "1000000",
        "yuan",
        {},
        _LAND_2000,
        "第二条",
        "非法转让、倒卖土地使用权违法所得100万元以上（情节特别严重）",
    ),
    (
        "343.ore_value",
        _MINING,
        "threshold",
        "ore_value_yuan",
        "100000",
        "yuan",
        {},
        _MINING_2016,
        "第三条第一款第（一）项",
        "开采的矿产品价值或者造成矿产资源破坏的价值在10万至30万元以上（各省确定具体数额；全国种子取下限10万元）；二年内多次非法采矿未经处理的，价值累计计算",
    ),
    (
        "343.ore_value.special_area",
        _MINING,
        "threshold",
        "ore_value_yuan",
        "50000",
        "yuan",
        {"special_area": True},
        _MINING_2016,
        "第三条第一款第（三）项",
        "在国家规划矿区、重要价值矿区、禁采区或禁采期内采矿，或开采保护性开采特定矿种，价值在5万至15万元以上（全国种子取下限5万元）",
    ),
    (
        "343.repeat",
        _MINING,
        "threshold",
        "prior_penalties",
        "2",
        "count",
        {"penalty_kind": "illegal_mining", "within_years": 2},
        _MINING_2016,
        "第三条第一款第（二）项",
        "二年内曾因非法采矿受过两次以上行政处罚，又实施非法采矿行为",
    ),
    (
        "343.2.destroyed_value",
        _DESTRUCTIVE,
        "threshold",
        "destroyed_value_yuan",
        "500000",
        "yuan",
        {},
        _MINING_2016,
        "第六条",
        "造成矿产资源破坏的价值在50万至100万元以上（全国种子取下限50万元）",
    ),
    (
        "343.2.destroyed_value.special_area",
        _DESTRUCTIVE,
        "threshold",
        "destroyed_value_yuan",
        "250000",
        "yuan",
        {"special_area": True},
        _MINING_2016,
        "第六条",
        "造成国家规划矿区、重要价值矿区或保护性开采特定矿种资源破坏，价值在25万至50万元以上（全国种子取下限25万元）",
    ),
]


def _seed_rules(table: sa.Table | None) -> None:
    assert table is not None
    now = datetime(2026, 11, 21, tzinfo=UTC)
    rows = []
    for code, (kind, crime, law), level, metric, threshold, unit, condition, (
        source,
        since,
    ), art, text in _RULES:
        rows.append(
            {
                "id": uuid.uuid5(_NS, f"00:{code}:{since.isoformat()}"),
                "province_code": "00",
                "code": code,
                "violation_kind": kind,
                "crime": crime,
                "article": law,
                "level": level,
                "metric": metric,
                "threshold": Decimal(threshold),
                "unit": unit,
                "condition": condition,
                "citation": f"{law}；{source}{art}",
                "description": text,
                "effective_from": since,
                "effective_to": None,
                "created_at": now,
            }
        )
    op.bulk_insert(table, rows)


def upgrade() -> None:
    rules = op.create_table(
        "referral_rules",
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("violation_kind", sa.String(length=30), nullable=False),
        sa.Column("crime", sa.String(length=100), nullable=False),
        sa.Column("article", sa.String(length=60), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("threshold", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("condition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "level IN ('threshold', 'especially_serious')", name=op.f("ck_referral_rules_level")
        ),
        sa.CheckConstraint(
            "violation_kind IN ('land_occupation', 'land_transfer', 'illegal_mining', 'destructive_mining', 'illegal_construction', 'other')",
            name=op.f("ck_referral_rules_violation_kind"),
        ),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to > effective_from",
            name=op.f("ck_referral_rules_effective_range"),
        ),
        sa.CheckConstraint("threshold >= 0", name=op.f("ck_referral_rules_threshold_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_rules")),
        sa.UniqueConstraint(
            "province_code", "code", "effective_from", name=op.f("uq_referral_rules_province_code")
        ),
    )
    op.create_index(
        op.f("ix_referral_rules_province_code"), "referral_rules", ["province_code"], unique=False
    )
    op.create_geospatial_table(
        "cases",
        sa.Column("case_no", sa.String(length=40), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("violation_kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suspended_from", sa.String(length=16), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parties", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("act_date", sa.Date(), nullable=True),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "surveyed_geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("surveyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("surveyed_by", sa.Uuid(), nullable=True),
        sa.Column("area_total_m2", sa.Float(), nullable=False),
        sa.Column("area_cultivated_m2", sa.Float(), nullable=False),
        sa.Column("area_basic_farmland_m2", sa.Float(), nullable=False),
        sa.Column("areas_by_class", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("areas_source", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("declared_areas", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ore_value_yuan", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("destroyed_value_yuan", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("illegal_gain_yuan", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("special_area", sa.Boolean(), nullable=False),
        sa.Column("prior_penalties", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("opened_by", sa.Uuid(), nullable=False),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source_kind IN ('finding', 'change_polygon', 'tip_off', 'other')",
            name=op.f("ck_cases_source_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('clue', 'filed', 'investigating', 'decided', 'executing', 'closed', 'suspended', 'terminated', 'withdrawn')",
            name=op.f("ck_cases_status"),
        ),
        sa.CheckConstraint(
            "violation_kind IN ('land_occupation', 'land_transfer', 'illegal_mining', 'destructive_mining', 'illegal_construction', 'other')",
            name=op.f("ck_cases_violation_kind"),
        ),
        sa.CheckConstraint(
            "area_total_m2 >= 0 AND area_cultivated_m2 >= 0 AND area_basic_farmland_m2 >= 0",
            name=op.f("ck_cases_areas_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_cases_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["users.id"], name=op.f("fk_cases_opened_by_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["surveyed_by"],
            ["users.id"],
            name=op.f("fk_cases_surveyed_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("county_id", "case_no", name=op.f("uq_cases_county_id")),
    )
    op.create_geospatial_index(
        "idx_cases_location",
        "cases",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_cases_surveyed_geom",
        "cases",
        ["surveyed_geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_cases_county_id"), "cases", ["county_id"], unique=False)
    op.create_index("ix_cases_county_status", "cases", ["county_id", "status"], unique=False)
    op.create_index(op.f("ix_cases_opened_by"), "cases", ["opened_by"], unique=False)
    op.create_index("ix_cases_source_id", "cases", ["source_id"], unique=False)
    op.create_table(
        "case_evidence",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("linked_by", sa.Uuid(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_evidence_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_case_evidence_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"],
            ["users.id"],
            name=op.f("fk_case_evidence_linked_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("case_id", "evidence_id", name=op.f("pk_case_evidence")),
    )
    op.create_index(
        op.f("ix_case_evidence_county_id"), "case_evidence", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_case_evidence_evidence_id"), "case_evidence", ["evidence_id"], unique=False
    )
    op.create_table(
        "referral_flags",
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("finding_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("flagged_by", sa.Uuid(), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(case_id IS NULL) <> (finding_id IS NULL)", name=op.f("ck_referral_flags_one_subject")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_referral_flags_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_referral_flags_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["flagged_by"],
            ["users.id"],
            name=op.f("fk_referral_flags_flagged_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_flags")),
    )
    op.create_index(op.f("ix_referral_flags_case_id"), "referral_flags", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_referral_flags_county_id"), "referral_flags", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_referral_flags_finding_id"), "referral_flags", ["finding_id"], unique=False
    )
    op.create_table(
        "referral_suggestions",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("rule_code", sa.String(length=60), nullable=False),
        sa.Column("crime", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("threshold", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_referral_suggestions_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_referral_suggestions_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["referral_rules.id"],
            name=op.f("fk_referral_suggestions_rule_id_referral_rules"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_suggestions")),
    )
    op.create_index(
        op.f("ix_referral_suggestions_case_id"), "referral_suggestions", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_referral_suggestions_county_id"),
        "referral_suggestions",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        "uq_referral_suggestions_current",
        "referral_suggestions",
        ["case_id", "rule_id"],
        unique=True,
        postgresql_where="superseded_at IS NULL",
    )
    op.create_table(
        "referrals",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("team_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.Uuid(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("transfer_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("police_unit", sa.String(length=200), nullable=False),
        sa.Column("materials", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("receipt_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt_no", sa.String(length=60), nullable=False),
        sa.Column("police_decision_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("police_decision", sa.String(length=10), nullable=True),
        sa.Column("police_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("police_decision_no", sa.String(length=60), nullable=False),
        sa.Column("police_reason", sa.Text(), nullable=False),
        sa.Column("reconsideration_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconsideration_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconsideration_reason", sa.Text(), nullable=False),
        sa.Column("reconsideration_decision_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconsideration_result", sa.String(length=10), nullable=True),
        sa.Column("reconsideration_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handover_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handover_items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("next_step", sa.String(length=30), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('reported', 'rejected', 'approved', 'transferred', 'received', 'police_filed', 'not_filed', 'reconsideration', 'closed_not_filed', 'handed_over')",
            name=op.f("ck_referrals_status"),
        ),
        sa.CheckConstraint("cardinality(team_ids) >= 2", name=op.f("ck_referrals_team_size")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_referrals_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_referrals_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_referrals_decided_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"],
            ["users.id"],
            name=op.f("fk_referrals_reported_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    op.create_index(op.f("ix_referrals_case_id"), "referrals", ["case_id"], unique=False)
    op.create_index(op.f("ix_referrals_county_id"), "referrals", ["county_id"], unique=False)
    op.create_index(
        "ix_referrals_county_next_due", "referrals", ["county_id", "next_due_at"], unique=False
    )
    op.create_index(
        "uq_referrals_open_case",
        "referrals",
        ["case_id"],
        unique=True,
        postgresql_where="status NOT IN ('rejected', 'closed_not_filed', 'handed_over')",
    )
    op.create_table(
        "case_events",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_case_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_events_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_case_events_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_case_events_referral_id_referrals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index("ix_case_events_case_at", "case_events", ["case_id", "at"], unique=False)
    op.create_index(op.f("ix_case_events_county_id"), "case_events", ["county_id"], unique=False)
    op.create_index(
        op.f("ix_case_events_referral_id"), "case_events", ["referral_id"], unique=False
    )
    op.create_table(
        "case_packages",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=True),
        sa.Column("exported_by", sa.Uuid(), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("custody_head_seq", sa.BigInteger(), nullable=False),
        sa.Column("custody_head_hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_packages_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_case_packages_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["exported_by"],
            ["users.id"],
            name=op.f("fk_case_packages_exported_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_case_packages_referral_id_referrals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_packages")),
    )
    op.create_index(op.f("ix_case_packages_case_id"), "case_packages", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_case_packages_county_id"), "case_packages", ["county_id"], unique=False
    )
    _seed_rules(rules)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_packages_county_id"), table_name="case_packages")
    op.drop_index(op.f("ix_case_packages_case_id"), table_name="case_packages")
    op.drop_table("case_packages")
    op.drop_index(op.f("ix_case_events_referral_id"), table_name="case_events")
    op.drop_index(op.f("ix_case_events_county_id"), table_name="case_events")
    op.drop_index("ix_case_events_case_at", table_name="case_events")
    op.drop_table("case_events")
    op.drop_index(
        "uq_referrals_open_case",
        table_name="referrals",
        postgresql_where="status NOT IN ('rejected', 'closed_not_filed', 'handed_over')",
    )
    op.drop_index("ix_referrals_county_next_due", table_name="referrals")
    op.drop_index(op.f("ix_referrals_county_id"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_case_id"), table_name="referrals")
    op.drop_table("referrals")
    op.drop_index(
        "uq_referral_suggestions_current",
        table_name="referral_suggestions",
        postgresql_where="superseded_at IS NULL",
    )
    op.drop_index(op.f("ix_referral_suggestions_county_id"), table_name="referral_suggestions")
    op.drop_index(op.f("ix_referral_suggestions_case_id"), table_name="referral_suggestions")
    op.drop_table("referral_suggestions")
    op.drop_index(op.f("ix_referral_flags_finding_id"), table_name="referral_flags")
    op.drop_index(op.f("ix_referral_flags_county_id"), table_name="referral_flags")
    op.drop_index(op.f("ix_referral_flags_case_id"), table_name="referral_flags")
    op.drop_table("referral_flags")
    op.drop_index(op.f("ix_case_evidence_evidence_id"), table_name="case_evidence")
    op.drop_index(op.f("ix_case_evidence_county_id"), table_name="case_evidence")
    op.drop_table("case_evidence")
    op.drop_index("ix_cases_source_id", table_name="cases")
    op.drop_index(op.f("ix_cases_opened_by"), table_name="cases")
    op.drop_index("ix_cases_county_status", table_name="cases")
    op.drop_index(op.f("ix_cases_county_id"), table_name="cases")
    op.drop_geospatial_index(
        "idx_cases_surveyed_geom",
        table_name="cases",
        postgresql_using="gist",
        column_name="surveyed_geom",
    )
    op.drop_geospatial_index(
        "idx_cases_location", table_name="cases", postgresql_using="gist", column_name="location"
    )
    op.drop_geospatial_table("cases")
    op.drop_index(op.f("ix_referral_rules_province_code"), table_name="referral_rules")
    op.drop_table("referral_rules")
