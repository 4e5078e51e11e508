"""The workloads: E, Q30 and the test corpus, per backend, and their peers' equivalents.

E as the issue wrote it ends ``... order by age desc limit 10 select name, age``,
which LANGUAGE.md's fixed clause order makes a syntax error; E here is the same
query in contract order (``select`` before ``order by``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

E = ('from users where age >= 18 and (status == "active" or tags contains "vip") '
     'and name startswith "A" select name, age order by age desc limit 10')
"""Workload E (about 30 tokens), in the contract's clause order."""

E_SCAN = ('from users where age >= 18 and (status == "active" or tags contains "vip") '
          'and name startswith "A" select name, age limit 10')
"""E without ``order by age desc``: DynamoDB cannot order a Scan (compiling E for it
is a ``CapabilityError`` by design), so its rows use this form."""

Q30 = (Path(__file__).with_name("q30.crossql")).read_text("utf-8")
"""Workload Q30 (30 predicates, about 190 tokens), kept in ``q30.crossql``."""

Q30_PARAMS: dict[str, Any] = {"min_age": 18, "max_age": 65, "city": "Paris",
                              "segments": ["premium"], "initial": "D", "campaign": "spring"}

E_PARAMS_TEXT = ('from users where age >= :min and (status == :status or tags contains :tag) '
                 'and name startswith :prefix select name, age order by age desc limit :n')
"""E with its literals as parameters, for re-binding a prepared query."""

E_PARAMS_SCAN = E_PARAMS_TEXT.replace(" order by age desc", "")
E_PARAMS: dict[str, Any] = {"min": 18, "status": "active", "tag": "vip", "prefix": "A", "n": 10}
E_PARAMS_OTHER: dict[str, Any] = {"min": 21, "status": "trial", "tag": "new", "prefix": "B",
                                  "n": 20}


@dataclass(frozen=True)
class Backend:
    """How a backend runs the workloads: which text stands for E, and its options."""

    name: str
    e_text: str = E
    e_params_text: str = E_PARAMS_TEXT
    options: Any = None
    note: str = ""


def backends() -> list[Backend]:
    """The four backends, each with the options its workloads need."""
    from crossql.backends.firestore.options import FirestoreOptions

    return [
        Backend("memory"),
        Backend("mongodb"),
        Backend("dynamodb", e_text=E_SCAN, e_params_text=E_PARAMS_SCAN,
                note="E without `order by` (a Scan has no order)"),
        Backend("firestore", options=FirestoreOptions(native_or=True, native_not_equal=True),
                note="FirestoreOptions(native_or=True, native_not_equal=True)"),
    ]


@dataclass(frozen=True)
class CorpusEntry:
    """A valid query of the test corpus (tests/corpus/queries.yaml)."""

    name: str
    query: str
    params: dict[str, Any] = field(default_factory=dict)


def corpus() -> list[CorpusEntry]:
    """Every valid entry of the test corpus."""
    import yaml

    path = ROOT / "tests" / "corpus" / "queries.yaml"
    entries = yaml.safe_load(path.read_text("utf-8"))
    return [CorpusEntry(e["name"], e["query"], e.get("params") or {})
            for e in entries if "error" not in e]


# --- peers: the same query written for other tools ---------------------------------

E_SQL = ("SELECT name, age FROM users WHERE age >= 18 AND (status = 'active' OR "
         "'vip' = ANY(tags)) AND name LIKE 'A%' ORDER BY age DESC LIMIT 10")
"""E in SQL (PostgreSQL), for ``sqlglot.transpile``."""

Q30_SQL = """SELECT * FROM users
WHERE age >= 18 AND age <= 65
  AND status IN ('active', 'trial')
  AND NOT (stats.score < 10) AND stats.score <= 1000
  AND address.city = 'Paris'
  AND address.country = 'FR'
  AND address.zip LIKE '75%'
  AND 'vip' = ANY(tags)
  AND email IS NOT NULL
  AND (billing.plan = 'pro' OR billing.seats = 10)
  AND profile.segment IN ('premium')
  AND created_at >= '2024-01-01' AND created_at < '2025-01-01'
  AND name.last LIKE 'D%'
  AND billing.balance BETWEEN 0 AND 100000
  AND (referrer.kind = 'friend' OR (referrer.kind = 'ad' AND referrer.campaign = 'spring'))
  AND settings.theme = 'dark'
  AND profile.locale = 'fr'
  AND app.version >= 3
  AND NOT (beta.score > 3)
  AND team.size >= 2
  AND prefs.newsletter = TRUE
  AND loyalty.tier = 'gold'
  AND account.verified = TRUE
  AND deleted_at IS NULL
  AND settings.notifications.email = TRUE
LIMIT 50"""
"""Q30 in SQL (PostgreSQL): dotted paths as qualified columns."""


def sqlglot_e() -> Any:
    """``sqlglot.transpile`` of E (parse PostgreSQL, write PostgreSQL)."""
    import sqlglot

    return sqlglot.transpile(E_SQL, read="postgres", write="postgres")


def sqlglot_q30() -> Any:
    """``sqlglot.transpile`` of Q30."""
    import sqlglot

    return sqlglot.transpile(Q30_SQL, read="postgres", write="postgres")


def boto3_e() -> Any:
    """E's condition built with ``boto3.dynamodb.conditions`` and rendered by boto3's
    ``ConditionExpressionBuilder`` (what DynamoDB receives as a FilterExpression)."""
    from boto3.dynamodb.conditions import Attr, ConditionExpressionBuilder

    cond = (Attr("age").gte(18) & (Attr("status").eq("active") | Attr("tags").contains("vip"))
            & Attr("name").begins_with("A"))
    return ConditionExpressionBuilder().build_expression(cond)


def boto3_q30() -> Any:
    """Q30's condition with ``boto3.dynamodb.conditions``, rendered."""
    from boto3.dynamodb.conditions import Attr, ConditionExpressionBuilder

    cond = (Attr("age").gte(18) & Attr("age").lte(65)
            & Attr("status").is_in(["active", "trial"])
            & ~Attr("stats.score").lt(10) & Attr("stats.score").lte(1000)
            & Attr("address.city").eq("Paris") & Attr("address.country").eq("FR")
            & Attr("address.zip").begins_with("75") & Attr("tags").contains("vip")
            & Attr("email").exists()
            & (Attr("billing.plan").eq("pro") | Attr("billing.seats").eq(10))
            & Attr("profile.segment").is_in(["premium"])
            & Attr("created_at").gte("2024-01-01") & Attr("created_at").lt("2025-01-01")
            & Attr("name.last").begins_with("D")
            & Attr("billing.balance").between(0, 100000)
            & (Attr("referrer.kind").eq("friend")
               | (Attr("referrer.kind").eq("ad") & Attr("referrer.campaign").eq("spring")))
            & Attr("settings.theme").eq("dark") & Attr("profile.locale").eq("fr")
            & Attr("app.version").gte(3) & ~Attr("beta.score").gt(3)
            & Attr("team.size").gte(2) & Attr("prefs.newsletter").eq(True)
            & Attr("loyalty.tier").eq("gold") & Attr("account.verified").eq(True)
            & Attr("deleted_at").eq(None) & Attr("settings.notifications.email").eq(True))
    return ConditionExpressionBuilder().build_expression(cond)


def pymongo_e() -> dict[str, Any]:
    """E's find arguments written by hand as a pymongo filter (no guards)."""
    return {
        "filter": {"age": {"$gte": 18},
                   "$or": [{"status": "active"}, {"tags": "vip"}],
                   "name": {"$regex": "^A"}},
        "projection": {"name": 1, "age": 1, "_id": 0},
        "sort": [("age", -1)],
        "limit": 10,
    }


def pymongo_q30() -> dict[str, Any]:
    """Q30's filter written by hand for pymongo (no guards)."""
    return {"filter": {
        "age": {"$gte": 18, "$lte": 65},
        "status": {"$in": ["active", "trial"]},
        "stats.score": {"$gte": 10, "$lte": 1000},
        "address.city": "Paris", "address.country": "FR", "address.zip": {"$regex": "^75"},
        "tags": "vip", "email": {"$exists": True},
        "$and": [
            {"$or": [{"billing.plan": "pro"}, {"billing.seats": 10}]},
            {"$or": [{"referrer.kind": "friend"},
                     {"referrer.kind": "ad", "referrer.campaign": "spring"}]},
        ],
        "profile.segment": {"$in": ["premium"]},
        "created_at": {"$gte": "2024-01-01", "$lt": "2025-01-01"},
        "name.last": {"$regex": "^D"},
        "billing.balance": {"$gte": 0, "$lte": 100000},
        "settings.theme": "dark", "profile.locale": "fr", "app.version": {"$gte": 3},
        "beta.score": {"$lte": 3}, "team.size": {"$gte": 2}, "prefs.newsletter": True,
        "loyalty.tier": "gold", "account.verified": True, "deleted_at": None,
        "settings.notifications.email": True,
    }, "limit": 50}
