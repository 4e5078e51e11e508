"""Every query of queries.crossql, compiled for each backend, against its committed
snapshot (tests/__snapshots__/test_plans.ambr): a changed plan fails with a diff.
Refresh with `pytest examples/app/tests --snapshot-update` and review the diff."""

import pytest
from shop import QUERIES

from crossql.testing import assert_portable


@pytest.mark.crossql_plans("../queries.crossql", backends=["mongodb", "dynamodb", "firestore"])
def test_plan(crossql_plan, plan_snapshot):
    assert crossql_plan == plan_snapshot


@pytest.mark.parametrize("name", QUERIES.names)
def test_portable(name):
    assert_portable(QUERIES[name], ["mongodb", "dynamodb", "firestore"])
