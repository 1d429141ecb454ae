"""One world for the service-level tests: a county with a user per role (see
:func:`tests.conftest.create_county`), a second inspector and security-squad officer, a
township over the county's western half, a village in it, and area A1 over that half led by
the inspector.

Every package builds its worlds here, placed where its tests draw their coordinates.
"""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import TokenMinter
from infra.scope import Principal, Role
from patrol.accounts import principal_of
from patrol.areas import AreaService
from patrol.field_models import ContractArea
from patrol.models import Township, Village
from tests.conftest import CountyFixture, add_user, create_county


@dataclass
class World:
    """A county with its people and places; ``headers(role)`` as for the county."""

    county: CountyFixture
    inspector2: Principal
    squad2: Principal
    township: Township
    village: Village
    area: ContractArea

    @property
    def county_id(self) -> uuid.UUID:
        return self.county.id

    @property
    def province(self) -> str:
        return self.county.county.province_code

    @property
    def inspector(self) -> Principal:
        return self.county.principal(Role.INSPECTOR)

    @property
    def captain(self) -> Principal:
        return self.county.principal(Role.CAPTAIN)

    @property
    def admin(self) -> Principal:
        return self.county.principal(Role.ADMIN)

    @property
    def squad(self) -> Principal:
        return self.county.principal(Role.SECURITY_SQUAD)

    @property
    def joint_team(self) -> Principal:
        return self.county.principal(Role.JOINT_TEAM)

    @property
    def team(self) -> list[uuid.UUID]:
        """The two security-squad officers (a referral's enforcement team)."""
        return [self.squad.user_id, self.squad2.user_id]

    def headers(self, role: Role) -> dict[str, str]:
        return self.county.headers(role)


_PROVINCES: set[str] = set()


def fresh_province() -> str:
    """A province code of its own (letters, never a real one), so province-wide rules added
    by one test never reach another test's counties."""
    while True:
        code = secrets.choice(string.ascii_uppercase) + secrets.choice(string.ascii_uppercase)
        if code not in _PROVINCES:
            _PROVINCES.add(code)
            return code


async def build_world(
    session_factory: async_sessionmaker[AsyncSession],
    tokens: TokenMinter,
    *,
    lon: float = 112.1,
    lat: float = 28.5,
    size: float = 0.2,
    province: str = "43",
) -> World:
    """A :class:`World` in a square county of side ``size`` degrees centred on (lon, lat)."""
    county = await create_county(
        session_factory, tokens, lon=lon, lat=lat, size=size, province=province
    )
    west, south, north = lon - size / 2, lat - size / 2, lat + size / 2
    code = county.county.admin_code.lower()
    async with session_factory() as db:
        people = [
            principal_of(await add_user(db, county.id, role, name))
            for role, name in ((Role.INSPECTOR, "inspector2"), (Role.SECURITY_SQUAD, "squad2"))
        ]
        town = Township(
            county_id=county.id,
            code=code[:9],
            name="west town",
            geom=from_shape(MultiPolygon([box(west, south, lon, north)]), srid=4326),
        )
        db.add(town)
        await db.flush()
        step = size / 10
        village = Village(
            county_id=county.id,
            township_id=town.id,
            code=code[:12],
            name="river village",
            geom=from_shape(
                MultiPolygon([box(west + step, south + step, west + 2 * step, south + 2 * step)]),
                srid=4326,
            ),
        )
        db.add(village)
        await db.flush()
        ring = [[west, south], [lon, south], [lon, north], [west, north], [west, south]]
        area = await AreaService(db).create_area(
            county.principal(Role.CAPTAIN),
            code="A1",
            name="west area",
            grade=1,
            geometry={"type": "Polygon", "coordinates": [ring]},
            leader_id=county.users[Role.INSPECTOR].id,
            township_ids=[town.id],
            village_ids=[village.id],
        )
        await db.commit()
    return World(county, *people, town, village, area)
