"""``crossql watch`` end to end on the MongoDB-wire server: JSON lines, one per change,
as they happen (issue 23)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_watch_prints_the_initial_matches_then_each_change(
        runner: asyncio.Runner, mongo_store: Any, mongodb_uri: str, tmp_path: Path) -> None:
    collection = f"live_{uuid.uuid4().hex[:8]}"
    database = mongo_store.database.name
    config = tmp_path / "crossql.yaml"
    config.write_text(f"nosql:\n  driver: mongodb\n  mongodb:\n    uri: {mongodb_uri}\n"
                      f"    database: {database}\n")
    runner.run(mongo_store.collection(collection).insert_many(
        [{"_id": "a", "n": 1}, {"_id": "b", "n": 5}]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MONGODB_URI", None)  # the file's uri, not an override
    with subprocess.Popen(
            [sys.executable, "-m", "crossql", "watch", "--config", str(config), "--initial",
             "--count", "2", "-p", "low=2", f"from {collection} where n > :low select n"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            first = json.loads(proc.stdout.readline())  # the watch is running
            runner.run(mongo_store.collection(collection).insert_one({"_id": "c", "n": 9}))
            second = json.loads(proc.stdout.readline())
            assert proc.wait(timeout=30) == 0, proc.stderr.read()
        finally:
            proc.kill()
    assert (first["kind"], first["id"], first["row"]) == ("added", "b", {"n": 5})
    assert (second["kind"], second["id"], second["row"]) == ("added", "c", {"n": 9})
    assert second["token"] is not None


def test_watch_refuses_what_a_live_query_does_not_keep(tmp_path: Path) -> None:
    config = tmp_path / "crossql.yaml"
    config.write_text("nosql:\n  driver: memory\n")
    done = subprocess.run(
        [sys.executable, "-m", "crossql", "watch", "--config", str(config),
         "from users order by age"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60)
    assert done.returncode == 2
    assert "a live query does not keep `order by`" in done.stderr
