"""Demo data beyond the county frame: each package's seeder, called once on first start."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.demo import seed_demo_layers
from geofence.models import MineSite
from infra.db import utcnow
from infra.scope import Role
from infra.settings import Settings
from patrol import DemoSite, GeofenceDutyRoster, PatrolConfig, PlanService, seed_demo_patrols
from patrol.accounts import principal_of
from patrol.demo import DemoCounty, DemoUser, county_outline
from patrol.models import User

__all__ = ["seed_demo_extras"]


async def seed_demo_extras(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    """Layers, patrols, evidence and cases for the demo county (added as packages land)."""
    # geofence: parcels, planning zones, closed-mine register with rosters, change polygons
    staff = list(
        await session.scalars(
            select(User.id)
            .where(User.county_id == demo.county.id, User.role.in_([Role.INSPECTOR, Role.ADMIN]))
            .order_by(User.username)
        )
    )
    await seed_demo_layers(session, demo.county.id, county_outline(), user_ids=staff)
    # patrol: areas, rules, plans, a month of patrols, five-to-one checks (sites from above)
    await _seed_patrols(session, demo)
    # evidence: photos with EXIF GPS in parcels, at closed mine sites and along the patrols
    await _seed_evidence(session, demo, settings)
    # cases: over the basic-farmland threshold, illegal mining near a closed site, a late referral
    await _seed_demo_cases(session, demo, settings)
    # petitions: waiting, assigned, extended, under review, and one overdue
    await _seed_demo_petitions(session, demo)
    # tip-offs: 12336 clues over every channel in every state (a duplicate, a refusal, a case)
    await _seed_demo_tip_offs(session, demo, settings)
    # satellite campaign: the change polygons' quarterly batch in every state (and one case)
    await _seed_demo_satellite(session, demo, settings)


async def _seed_demo_cases(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    """The demo cases, each with the two demo photos taken nearest to it (when there are)."""
    from evidence.cases.cases import link_evidence  # noqa: PLC0415
    from evidence.cases.demo import seed_demo_cases  # noqa: PLC0415
    from evidence.cases.models import Case  # noqa: PLC0415
    from evidence.models import Evidence  # noqa: PLC0415
    from patrol.accounts import principal_of  # noqa: PLC0415

    case_ids = await seed_demo_cases(session, demo.county.id)
    captain = await session.scalar(
        select(User)
        .where(User.county_id == demo.county.id, User.role == Role.CAPTAIN.value, User.active)
        .order_by(User.username)
        .limit(1)
    )
    if captain is None:
        return
    for case_id in case_ids:
        where = select(Case.location).where(Case.id == case_id).scalar_subquery()
        nearest = await session.scalars(
            select(Evidence.id)
            .where(Evidence.county_id == demo.county.id)
            .order_by(func.ST_Distance(Evidence.geom, where), Evidence.id)
            .limit(2)
        )
        if photos := list(nearest):
            await link_evidence(session, principal_of(captain), case_id, photos)
    await _seed_demo_procedure(session, demo, settings)


async def _seed_demo_procedure(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    """The demo cases at every stage of the penalty procedure (a hearing held, an extension,
    a filing overdue, one closed), their documents (the closed case's, the referral's
    移送书), and the captains' alert of the overdue one."""
    from evidence.cases.procedure import raise_overdue_alerts  # noqa: PLC0415
    from evidence.cases.procedure_demo import seed_demo_procedure  # noqa: PLC0415
    from infra.objectstore import S3ObjectStore  # noqa: PLC0415

    now = utcnow()
    store = S3ObjectStore(settings.object_store)
    await store.ensure_bucket()
    touched = await seed_demo_procedure(
        session, demo.county.id, settings.procedure, now=now, store=store,
        custody_key=settings.evidence.package_signing_key,
    )  # fmt: skip
    if touched:
        await raise_overdue_alerts(session, now, settings.procedure)


async def _seed_demo_petitions(session: AsyncSession, demo: DemoCounty) -> None:
    """The demo petitions, and the captains' alert of the overdue one."""
    from evidence.cases.petition_demo import seed_demo_petitions  # noqa: PLC0415
    from evidence.cases.petitions import raise_overdue_alerts  # noqa: PLC0415

    await seed_demo_petitions(session, demo.county.id)
    await raise_overdue_alerts(session, demo.county.id)


async def _seed_demo_tip_offs(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    from evidence.cases.tip_off_demo import seed_demo_tip_offs  # noqa: PLC0415
    from evidence.custody import CustodyLog  # noqa: PLC0415

    custody = CustodyLog(settings.evidence.package_signing_key.encode())
    await seed_demo_tip_offs(session, demo.county.id, custody)


async def _seed_demo_satellite(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    from evidence.cases.satellite_demo import seed_demo_satellite  # noqa: PLC0415

    await seed_demo_satellite(session, demo.county.id, settings.satellite)


async def _seed_patrols(session: AsyncSession, demo: DemoCounty) -> None:
    """patrol: 4 contract areas over the townships and the park, rules, last month's plans and
    patrols with tracks (two areas meet their quota, two miss it), five-to-one checks at the
    register's sites (a few overdue, one rebound), and this month's plans.

    Sites are read from the register, so this works with or without geofence's demo layers.
    ``demo-inspector`` patrols two of the areas; the inspectors added to make up the brigade
    get generated passwords that join the printed demo logins.
    """
    county_id = demo.county.id
    users = list(
        await session.scalars(
            select(User).where(User.county_id == county_id).order_by(User.username)
        )
    )
    point = func.ST_PointOnSurface(MineSite.geom)
    rows = await session.execute(
        select(MineSite.id, MineSite.name, func.ST_X(point), func.ST_Y(point))
        .where(MineSite.county_id == county_id, MineSite.retired.is_(False))
        .order_by(MineSite.code)
    )
    sites = [DemoSite(site_id, name, float(x), float(y)) for site_id, name, x, y in rows]
    config = PatrolConfig()
    result = await seed_demo_patrols(
        session,
        county_id,
        demo.townships,
        users,
        sites=sites or None,
        roster=GeofenceDutyRoster() if sites else None,
        config=config,
        username_prefix="demo-inspector",
    )
    demo.users.extend(
        DemoUser(username=name, password=password, role=Role.INSPECTOR.value)
        for name, password in result.logins
    )
    captain = next(u for u in users if u.role == Role.CAPTAIN.value)
    this_month = utcnow().astimezone(config.tz).date().replace(day=1)
    if this_month != result.month:
        plans = PlanService(session, config=config)
        for area in result.areas:
            await plans.upsert_plan(principal_of(captain), area.id, this_month)


async def _seed_evidence(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    """About ten photos through the upload flow (bytes put with the object store)."""
    from evidence.demo import seed_demo_evidence  # noqa: PLC0415
    from infra.objectstore import S3ObjectStore  # noqa: PLC0415

    store = S3ObjectStore(settings.object_store)
    await store.ensure_bucket()
    await seed_demo_evidence(
        session, demo.county.id, store, settings.evidence, outline=county_outline()
    )
