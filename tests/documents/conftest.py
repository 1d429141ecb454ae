"""Fixtures for the case file's documents: the app with a package signing key (the shared
app has none) and its clock pinned, a county, and the procedure tests' HTTP walker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from evidence.cases.package_keys import PackageKeyring
from infra.ids import uuid7
from infra.settings import Settings
from tests.conftest import CountyFixture
from tests.procedure.conftest import Clock, Flow

Client = AsyncTestClient[Litestar]


@dataclass(frozen=True)
class Keyed:
    app: Litestar
    client: Client
    settings: Settings

    @property
    def keys(self) -> PackageKeyring:
        return PackageKeyring.from_settings(self.settings)


@pytest.fixture(scope="module")
async def keyed(app: Litestar, settings: Settings) -> AsyncIterator[Keyed]:
    """The app with a package signing key, and its client."""
    del app  # its store's bucket exists
    evidence = replace(settings.evidence, package_signing_key=f"documents-{uuid7().hex}")
    signing = replace(settings, evidence=evidence)
    made = create_app(signing)
    async with AsyncTestClient(app=made, raise_server_exceptions=False) as client:
        yield Keyed(made, client, signing)


@pytest.fixture
def pinned(keyed: Keyed) -> Iterator[Clock]:
    clock = Clock()
    keyed.app.state.clock = clock
    yield clock
    del keyed.app.state.clock


@pytest.fixture
async def flow(keyed: Keyed, make_county: Any, pinned: Clock) -> Flow:
    county: CountyFixture = await make_county()
    return Flow(keyed.client, county, pinned)
