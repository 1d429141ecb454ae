"""geofence: layer versions, parcels, planning zones, change polygons, mine sites, rosters

Revision ID: 0002_geofence
Revises: 0001_foundation
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0002_geofence"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "geofence_layer_versions",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("source_format", sa.String(length=20), nullable=False),
        sa.Column("source_crs", sa.String(length=64), nullable=False),
        sa.Column("read_count", sa.Integer(), nullable=False),
        sa.Column("stored_count", sa.Integer(), nullable=False),
        sa.Column("repaired_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_geofence_layer_versions_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_geofence_layer_versions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence_layer_versions")),
        sa.UniqueConstraint(
            "county_id", "kind", "version_no", name=op.f("uq_geofence_layer_versions_county_id")
        ),
    )
    op.create_index(
        op.f("ix_geofence_layer_versions_county_id"),
        "geofence_layer_versions",
        ["county_id"],
        unique=False,
    )
    op.create_geospatial_table(
        "geofence_change_polygons",
        sa.Column("layer_version_id", sa.Uuid(), nullable=False),
        sa.Column("feature_no", sa.Integer(), nullable=False),
        sa.Column("monitoring_no", sa.String(length=64), nullable=False),
        sa.Column("batch_year", sa.Integer(), nullable=False),
        sa.Column("batch_quarter", sa.Integer(), nullable=False),
        sa.Column("monitored_areas", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("attrs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_geofence_change_polygons_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["layer_version_id"],
            ["geofence_layer_versions.id"],
            name=op.f("fk_geofence_change_polygons_layer_version_id_geofence_layer_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence_change_polygons")),
    )
    op.create_geospatial_index(
        "idx_geofence_change_polygons_geom",
        "geofence_change_polygons",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_geofence_change_polygons_county_id"),
        "geofence_change_polygons",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        "ix_geofence_change_polygons_geog",
        "geofence_change_polygons",
        [sa.literal_column("geography(geom)")],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        op.f("ix_geofence_change_polygons_layer_version_id"),
        "geofence_change_polygons",
        ["layer_version_id"],
        unique=False,
    )
    op.create_geospatial_table(
        "geofence_mine_sites",
        sa.Column("layer_version_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("site_kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("mineral", sa.String(length=50), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closure_method", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("signboard", sa.Boolean(), nullable=False),
        sa.Column("signboard_text", sa.Text(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
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
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_geofence_mine_sites_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["layer_version_id"],
            ["geofence_layer_versions.id"],
            name=op.f("fk_geofence_mine_sites_layer_version_id_geofence_layer_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence_mine_sites")),
        sa.UniqueConstraint("county_id", "code", name=op.f("uq_geofence_mine_sites_county_id")),
    )
    op.create_geospatial_index(
        "idx_geofence_mine_sites_geom",
        "geofence_mine_sites",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_geofence_mine_sites_county_id"), "geofence_mine_sites", ["county_id"], unique=False
    )
    op.create_index(
        "ix_geofence_mine_sites_geog",
        "geofence_mine_sites",
        [sa.literal_column("geography(geom)")],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        op.f("ix_geofence_mine_sites_layer_version_id"),
        "geofence_mine_sites",
        ["layer_version_id"],
        unique=False,
    )
    op.create_geospatial_table(
        "geofence_parcels",
        sa.Column("layer_version_id", sa.Uuid(), nullable=False),
        sa.Column("feature_no", sa.Integer(), nullable=False),
        sa.Column("land_class", sa.String(length=32), nullable=False),
        sa.Column("source_code", sa.String(length=32), nullable=False),
        sa.Column("source_name", sa.String(length=100), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("attrs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_geofence_parcels_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["layer_version_id"],
            ["geofence_layer_versions.id"],
            name=op.f("fk_geofence_parcels_layer_version_id_geofence_layer_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence_parcels")),
    )
    op.create_geospatial_index(
        "idx_geofence_parcels_geom",
        "geofence_parcels",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_geofence_parcels_county_id"), "geofence_parcels", ["county_id"], unique=False
    )
    op.create_index(
        "ix_geofence_parcels_geog",
        "geofence_parcels",
        [sa.literal_column("geography(geom)")],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        op.f("ix_geofence_parcels_layer_version_id"),
        "geofence_parcels",
        ["layer_version_id"],
        unique=False,
    )
    op.create_geospatial_table(
        "geofence_planning_zones",
        sa.Column("layer_version_id", sa.Uuid(), nullable=False),
        sa.Column("feature_no", sa.Integer(), nullable=False),
        sa.Column("zone_kind", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("attrs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_geofence_planning_zones_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["layer_version_id"],
            ["geofence_layer_versions.id"],
            name=op.f("fk_geofence_planning_zones_layer_version_id_geofence_layer_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence_planning_zones")),
    )
    op.create_geospatial_index(
        "idx_geofence_planning_zones_geom",
        "geofence_planning_zones",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_geofence_planning_zones_county_id"),
        "geofence_planning_zones",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        "ix_geofence_planning_zones_geog",
        "geofence_planning_zones",
        [sa.literal_column("geography(geom)")],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        op.f("ix_geofence_planning_zones_layer_version_id"),
        "geofence_planning_zones",
        ["layer_version_id"],
        unique=False,
    )
    op.create_geospatial_table(
        "geofence_mine_site_revisions",
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("layer_version_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("site_kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("mineral", sa.String(length=50), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closure_method", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("signboard", sa.Boolean(), nullable=False),
        sa.Column("signboard_text", sa.Text(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_geofence_mine_site_revisions_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["layer_version_id"],
            ["geofence_layer_versions.id"],
            name=op.f("fk_geofence_mine_site_revisions_layer_version_id_geofence_layer_versions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["geofence_mine_sites.id"],
            name=op.f("fk_geofence_mine_site_revisions_site_id_geofence_mine_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence_mine_site_revisions")),
        sa.UniqueConstraint(
            "site_id", "layer_version_id", name=op.f("uq_geofence_mine_site_revisions_site_id")
        ),
    )
    op.create_geospatial_index(
        "idx_geofence_mine_site_revisions_geom",
        "geofence_mine_site_revisions",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_geofence_mine_site_revisions_county_id"),
        "geofence_mine_site_revisions",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        "ix_geofence_mine_site_revisions_geog",
        "geofence_mine_site_revisions",
        [sa.literal_column("geography(geom)")],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        op.f("ix_geofence_mine_site_revisions_layer_version_id"),
        "geofence_mine_site_revisions",
        ["layer_version_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_geofence_mine_site_revisions_site_id"),
        "geofence_mine_site_revisions",
        ["site_id"],
        unique=False,
    )
    op.create_table(
        "geofence_roster_members",
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("contact_name", sa.String(length=100), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("duty_period", sa.String(length=16), nullable=False),
        sa.Column("duty_checks", sa.Integer(), nullable=False),
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
            "user_id IS NOT NULL OR (contact_name <> '' AND contact_phone <> '')",
            name=op.f("ck_geofence_roster_members_user_or_contact"),
        ),
        sa.CheckConstraint(
            "duty_checks >= 1", name=op.f("ck_geofence_roster_members_duty_checks_positive")
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_geofence_roster_members_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["geofence_mine_sites.id"],
            name=op.f("fk_geofence_roster_members_site_id_geofence_mine_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_geofence_roster_members_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence_roster_members")),
        sa.UniqueConstraint("site_id", "role", name=op.f("uq_geofence_roster_members_site_id")),
    )
    op.create_index(
        op.f("ix_geofence_roster_members_county_id"),
        "geofence_roster_members",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_geofence_roster_members_site_id"),
        "geofence_roster_members",
        ["site_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_geofence_roster_members_user_id"),
        "geofence_roster_members",
        ["user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_geofence_roster_members_user_id"), table_name="geofence_roster_members")
    op.drop_index(op.f("ix_geofence_roster_members_site_id"), table_name="geofence_roster_members")
    op.drop_index(
        op.f("ix_geofence_roster_members_county_id"), table_name="geofence_roster_members"
    )
    op.drop_table("geofence_roster_members")
    op.drop_index(
        op.f("ix_geofence_mine_site_revisions_site_id"), table_name="geofence_mine_site_revisions"
    )
    op.drop_index(
        op.f("ix_geofence_mine_site_revisions_layer_version_id"),
        table_name="geofence_mine_site_revisions",
    )
    op.drop_index(
        "ix_geofence_mine_site_revisions_geog",
        table_name="geofence_mine_site_revisions",
        postgresql_using="gist",
    )
    op.drop_index(
        op.f("ix_geofence_mine_site_revisions_county_id"), table_name="geofence_mine_site_revisions"
    )
    op.drop_geospatial_index(
        "idx_geofence_mine_site_revisions_geom",
        table_name="geofence_mine_site_revisions",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("geofence_mine_site_revisions")
    op.drop_index(
        op.f("ix_geofence_planning_zones_layer_version_id"), table_name="geofence_planning_zones"
    )
    op.drop_index(
        "ix_geofence_planning_zones_geog",
        table_name="geofence_planning_zones",
        postgresql_using="gist",
    )
    op.drop_index(
        op.f("ix_geofence_planning_zones_county_id"), table_name="geofence_planning_zones"
    )
    op.drop_geospatial_index(
        "idx_geofence_planning_zones_geom",
        table_name="geofence_planning_zones",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("geofence_planning_zones")
    op.drop_index(op.f("ix_geofence_parcels_layer_version_id"), table_name="geofence_parcels")
    op.drop_index(
        "ix_geofence_parcels_geog", table_name="geofence_parcels", postgresql_using="gist"
    )
    op.drop_index(op.f("ix_geofence_parcels_county_id"), table_name="geofence_parcels")
    op.drop_geospatial_index(
        "idx_geofence_parcels_geom",
        table_name="geofence_parcels",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("geofence_parcels")
    op.drop_index(op.f("ix_geofence_mine_sites_layer_version_id"), table_name="geofence_mine_sites")
    op.drop_index(
        "ix_geofence_mine_sites_geog", table_name="geofence_mine_sites", postgresql_using="gist"
    )
    op.drop_index(op.f("ix_geofence_mine_sites_county_id"), table_name="geofence_mine_sites")
    op.drop_geospatial_index(
        "idx_geofence_mine_sites_geom",
        table_name="geofence_mine_sites",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("geofence_mine_sites")
    op.drop_index(
        op.f("ix_geofence_change_polygons_layer_version_id"), table_name="geofence_change_polygons"
    )
    op.drop_index(
        "ix_geofence_change_polygons_geog",
        table_name="geofence_change_polygons",
        postgresql_using="gist",
    )
    op.drop_index(
        op.f("ix_geofence_change_polygons_county_id"), table_name="geofence_change_polygons"
    )
    op.drop_geospatial_index(
        "idx_geofence_change_polygons_geom",
        table_name="geofence_change_polygons",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("geofence_change_polygons")
    op.drop_index(
        op.f("ix_geofence_layer_versions_county_id"), table_name="geofence_layer_versions"
    )
    op.drop_table("geofence_layer_versions")
