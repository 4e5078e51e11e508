"""``ensure_mongo`` over indexes whose keys are not directions (a text or 2dsphere index,
which the MongoDB-wire test server cannot create): they are never the declared index,
and are reported or pruned like any other undeclared one."""

from __future__ import annotations

import asyncio
from typing import Any

from crossql.indexes.ensure import declared_for, ensure_mongo


class _Collection:
    def __init__(self) -> None:
        self.info: dict[str, Any] = {
            "_id_": {"key": [("_id", 1)]},
            "body_text": {"key": [("_fts", "text"), ("_ftsx", 1)]},
            "where_2dsphere": {"key": [("where", "2dsphere")]}}

    async def index_information(self) -> dict[str, Any]:
        return dict(self.info)

    async def create_index(self, keys: list[Any], name: str, **options: Any) -> str:
        self.info[name] = {"key": keys, **options}
        return name

    async def drop_index(self, name: str) -> None:
        del self.info[name]


def test_text_and_geo_indexes_are_undeclared_then_pruned() -> None:
    coll = _Collection()
    database = {"posts": coll}
    declared = declared_for("mongodb", {"posts": [{"keys": {"where": 1}}]})
    outcomes = asyncio.run(ensure_mongo(database, declared))
    assert [(o.status, o.index) for o in outcomes] == [
        ("created", "{where: 1}"), ("undeclared", "{_fts: text, _ftsx: 1}"),
        ("undeclared", "{where: 2dsphere}")]
    pruned = asyncio.run(ensure_mongo(database, declared, prune=True))
    assert [(o.status, o.name) for o in pruned] == [
        ("exists", "where_1"), ("dropped", "body_text"), ("dropped", "where_2dsphere")]
    assert sorted(coll.info) == ["_id_", "where_1"]
