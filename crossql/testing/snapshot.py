"""The syrupy extension for plans (needs syrupy: ``pip install 'crossql[testing]'``)."""

from __future__ import annotations

from typing import Any

from syrupy.extensions.amber import AmberSnapshotExtension

from crossql.backends import Plan
from crossql.testing.plans import plan_text


class PlanSnapshotExtension(AmberSnapshotExtension):
    """Snapshots a ``crossql.Plan`` as ``plan_text(plan)`` — its ``to_dict()`` as JSON
    with sorted keys, then its ``to_python()`` — in syrupy's ``.ambr`` files, so a
    changed plan fails with a line diff of JSON and code. Other values are stored as
    syrupy stores them."""

    def serialize(self, data: Any, **kwargs: Any) -> str:
        if isinstance(data, Plan):
            data = plan_text(data)
        return super().serialize(data, **kwargs)
