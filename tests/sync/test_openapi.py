"""The OpenAPI document offers MessagePack beside JSON for pull and push."""

from __future__ import annotations

from api.cli import openapi_document


def test_pull_and_push_document_both_media_types() -> None:
    doc = openapi_document()
    for path in ("/api/v1/sync/pull", "/api/v1/sync/push"):
        op = doc["paths"][path]["post"]
        body = op["requestBody"]["content"]
        answer = op["responses"]["200"]["content"]
        for content in (body, answer):
            assert set(content) == {"application/json", "application/msgpack"}
            assert content["application/json"] == content["application/msgpack"]
        # problems are JSON only
        assert set(op["responses"]["400"]["content"]) == {"application/problem+json"}
