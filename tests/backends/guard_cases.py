"""Hand-checked queries whose answers differ from a naive native translation.

Each document hits a place where a backend's own semantics differ from
LANGUAGE.md: arrays where scalars are compared, nulls, missing fields, arrays on
a dotted path, regex metacharacters. The ids were worked out by hand from the
rules, and the reference evaluator must agree with them too.
"""

from __future__ import annotations

from typing import Any

DOCS: list[dict[str, Any]] = [
    {"_id": 1, "name": "Ada", "age": 36, "status": "active", "tags": ["vip", "beta"],
     "address": {"city": "Paris"}},
    {"_id": 2, "name": "Bob", "age": None, "status": "inactive", "tags": [],
     "address": {"city": None}},
    {"_id": 3, "name": "Al", "age": 17, "tags": ["beta", None], "address": [{"city": "Rome"}]},
    {"_id": 4, "name": "a.b*c", "age": [36, 40], "status": None, "tags": "vip"},
    {"_id": 5, "age": "36", "tags": [["vip"]], "address": {"city": "Rome"}},
    {"_id": 6, "name": "Eve", "age": 36.0, "status": "active", "tags": ["vip"], "address": {}},
]

# (query, ids of the rows in order when the query orders them, else any order)
FILTER_CASES: list[tuple[str, list[int]]] = [
    ("age == 36", [1, 6]),                     # not the array [36, 40], not the string "36"
    ("age != 36", [3, 4, 5]),                  # null is unknown; an array is not 36
    ("age == null", [2]),                      # a missing field is not null
    ("age != null", [1, 3, 4, 5, 6]),
    ("status != \"active\"", [2]),            # missing and null status are unknown
    ("not (status == \"active\")", [2]),
    ("status == null", [4]),
    ("not exists(status)", [3, 5]),
    ("exists(status)", [1, 2, 4, 6]),
    ("age > 20", [1, 6]),                      # no element-wise match in [36, 40]
    ("not (age > 20)", [3]),                   # pushed down: age <= 20, types bracketed
    ("age between 10 and 40", [1, 3, 6]),
    ("not (age between 20 and 40)", [3]),
    ("age in [17, 36]", [1, 3, 6]),
    ("age not in [17, 36]", [4, 5]),
    ("age in [null]", [2]),
    ("status not in [null]", [1, 2, 6]),      # missing status: unknown, not "not in"
    ("status in [\"active\", null]", [1, 4, 6]),
    ("not (status in [\"x\", null])", [1, 2, 6]),
    ("age not in []", [1, 3, 4, 5, 6]),
    ("tags contains \"vip\"", [1, 6]),        # "vip" the string is not an array
    ("not (tags contains \"vip\")", [2, 3, 5]),
    ("tags contains null", [3]),
    ("tags contains [\"vip\"]", [5]),
    ("tags == [\"vip\"]", [6]),               # [["vip"]] holds it, but is not equal
    ("tags != [\"vip\"]", [1, 2, 3, 4, 5]),
    ("tags contains any [\"beta\", \"x\"]", [1, 3]),
    ("not (tags contains any [\"beta\"])", [2, 5, 6]),
    ("tags contains all [\"vip\", \"beta\"]", [1]),
    ("tags contains all []", [1, 2, 3, 5, 6]),  # every array; MongoDB's $all: [] matches none
    ("not (tags contains all [\"vip\"])", [2, 3, 5]),
    ("size(tags) == 0", [2]),
    ("size(tags) >= 2", [1, 3]),
    ("not (size(tags) >= 2)", [2, 5, 6]),
    ("size(tags) != 1", [1, 2, 3]),
    ("address.city == \"Rome\"", [5]),        # not through the array in doc 3
    ("not exists(address.city)", [3, 4, 6]),
    ("exists(address.city)", [1, 2, 5]),
    ("address.city == null", [2]),
    ("address.city != null", [1, 5]),
    ("name startswith \"a.b\"", [4]),         # the dot is not a regex wildcard
    ("name startswith \"A\"", [1, 3]),
    ("not (name startswith \"A\")", [2, 4, 6]),
    ("name matches \"b\\\\*c\"", [4]),
    ("not (name matches \"^[A-Z]\")", [4]),
    ("status == \"active\" or age == null", [1, 2, 6]),
    ("not (status == \"inactive\" or age < 20)", [1, 6]),
    ("not (not (age == 36))", [1, 6]),
    ("_id > 4", [5, 6]),
]

ORDERED_CASES: list[tuple[str, list[int]]] = [
    ("from people where status == \"active\" or status == \"inactive\" order by age desc, _id",
     [1, 6, 2]),
    ("from people where status == \"active\" or status == \"inactive\" order by age, _id",
     [2, 1, 6]),
    ("from people order by _id limit 2 offset 1", [2, 3]),
    ("from people order by name desc, _id limit 3", [4, 6, 2]),
]

# (query, rows) for shapes: projection, aliases, groups, aggregates of nothing
ROW_CASES: list[tuple[str, list[dict[str, Any]]]] = [
    ("from people where _id <= 2 select name as n, address.city order by _id",
     [{"n": "Ada", "address": {"city": "Paris"}}, {"n": "Bob", "address": {"city": None}}]),
    ("from people where _id == 5 select name, age", [{"age": "36"}]),
    ("from people group by status select status, count() as n order by n desc, status",
     [{"status": None, "n": 3}, {"status": "active", "n": 2}, {"status": "inactive", "n": 1}]),
    ("from people select count() as n, count(status) as c, sum(age) as s, min(name) as lo, "
     "max(name) as hi",
     [{"n": 6, "c": 3, "s": 89.0, "lo": "Ada", "hi": "a.b*c"}]),
    ("from people where age > 100 select count() as n, sum(age) as s, avg(age) as a",
     [{"n": 0, "s": 0, "a": None}]),
    ("from people where age > 100 group by status select status, count() as n", []),
    ("from people select count() as n limit 0", []),
]
