"""A plan as its snapshot holds it (no syrupy needed)."""

from __future__ import annotations

import json

from crossql.backends import Plan


def plan_text(plan: Plan) -> str:
    """A plan as its snapshot holds it: ``to_dict()`` as JSON with sorted keys, then
    ``to_python()`` (the hand-written equivalent). Deterministic: the same plan always
    gives the same text."""
    data = json.dumps(plan.to_dict(), indent=2, sort_keys=True, ensure_ascii=False,
                      default=str)
    try:
        python = plan.to_python()
    except NotImplementedError:
        return data
    return f"{data}\n\n# to_python()\n{python}"
