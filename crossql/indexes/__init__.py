"""Indexes: declared per backend, derived from queries, checked before production.

- ``model``: declarations as data (``MongoIndex``, ``DynamoIndex``, ``FirestoreIndex``),
  ``parse_indexes``/``parse_schema_indexes`` with located ``ConfigError``s;
- ``patterns``: what a query asks of an index (``patterns(query)``);
- ``rules``: each backend's rules (the index a pattern needs, whether indexes serve it);
- ``suggest``: the fewest indexes per backend for a set of queries (``crossql indexes
  suggest`` in crossql/cli.py);
- ``check``: Firestore's ``require_indexes`` and the index a plan uses;
- ``ensure``: creating declared indexes (``store.ensure_indexes``, ``firestore_indexes_file``),
  reporting the undeclared ones and dropping them with ``prune``;
- ``sources``: queries from a Python module's constants (read with ``ast``) and from
  YAML/JSON query lists, for ``crossql indexes suggest``.

docs/indexes.md has the rules and the commands.
"""

from crossql.indexes.ensure import IndexOutcome, firestore_indexes_file
from crossql.indexes.model import (
    INDEX_BACKENDS,
    DeclaredIndexes,
    DynamoIndex,
    FirestoreField,
    FirestoreIndex,
    Index,
    MongoIndex,
    collection_indexes,
    parse_indexes,
    parse_schema_indexes,
)
from crossql.indexes.patterns import Pattern, patterns
from crossql.indexes.suggest import IndexReport, Suggestion, Unindexed, firestore_json, suggest

__all__ = [
    "INDEX_BACKENDS", "DeclaredIndexes", "DynamoIndex", "FirestoreField", "FirestoreIndex",
    "Index", "IndexOutcome", "IndexReport", "MongoIndex", "Pattern", "Suggestion", "Unindexed",
    "collection_indexes", "firestore_indexes_file", "firestore_json", "parse_indexes",
    "parse_schema_indexes", "patterns", "suggest",
]
