"""Large batches: matched in chunks on worker threads, answers identical to one pass."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncSession

from geofence import BatchResult, check_locations, import_layer
from geofence import check as check_module


async def test_chunked_batch_equals_single_pass(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    features = [
        {"type": "Feature", "properties": {"DLBM": "0103"},
         "geometry": mapping(shapely.box(112.1 + i * 0.001, 28.5 + j * 0.001,
                                         112.101 + i * 0.001, 28.501 + j * 0.001))}
        for i in range(15) for j in range(15)
    ]  # fmt: skip
    path = tmp_path / "grid.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    await import_layer(session, county_id, path, "parcels")
    await session.commit()
    rng = np.random.default_rng(8)
    pts = np.column_stack(
        [rng.uniform(112.099, 112.116, 5000), rng.uniform(28.499, 28.516, 5000),
         rng.uniform(0.0, 40.0, 5000)]
    )  # fmt: skip
    whole = await check_locations(session, county_id, pts)
    monkeypatch.setattr(check_module, "_CHUNK_POINTS", 700)
    chunked = await check_locations(session, county_id, pts)
    assert isinstance(chunked, BatchResult) and len(chunked) == 5000
    a_points, a_ids = whole.feature_pairs()
    b_points, b_ids = chunked.feature_pairs()
    assert set(zip(a_points.tolist(), a_ids, strict=True)) == set(
        zip(b_points.tolist(), b_ids, strict=True)
    )
    assert chunked.hit_count == whole.hit_count > 5000
    for i in (0, 1234, 4999, -1):
        assert chunked[i] == whole[i]
    assert [r.lon for r in chunked[10:13]] == pts[10:13, 0].tolist()
    with pytest.raises(IndexError):
        chunked[5000]
