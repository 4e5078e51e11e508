"""Generate ``_tables.py``: Lark's LALR(1) tables for ``crossql.lark``, as Python data.

    python -m crossql.grammar.generate          # rewrite crossql/grammar/_tables.py
    python -m crossql.grammar.generate --check  # exit 1 when the file is stale

Lark builds the parser (``parser="lalr"``, ``strict=True``: a grammar conflict
is an error here, as before) and this script writes down what the runtime
needs: the action table, and for each rule how Lark shapes the children handed
to the transformer (which are filtered out, which ``_rule`` results are inlined,
where ``[x]`` puts ``None``). ``crossql.grammar.parser`` drives those tables
with its own loop and lexer, so ``import crossql`` never imports Lark (about
35 ms) and a parse skips Lark's per-token machinery. ``tests/test_parser.py``
fails while the file is stale and checks that both parsers agree.
"""

from __future__ import annotations

import hashlib
import pprint
import sys
from importlib import resources
from pathlib import Path
from typing import Any

START_RULES = ("start", "condition_only", "write")
TABLES_FILE = Path(__file__).with_name("_tables.py")


def grammar_text() -> str:
    """The text of ``crossql.lark``."""
    return resources.files("crossql.grammar").joinpath("crossql.lark").read_text("utf-8")


def build_lark(**options: Any) -> Any:
    """Lark's parser for the grammar, configured as CrossQL uses it."""
    from lark import Lark

    options.setdefault("lexer", "basic")
    return Lark(grammar_text(), parser="lalr", strict=True, start=list(START_RULES),
                maybe_placeholders=True, **options)


def _child_filter(rule: Any) -> tuple[tuple[tuple[int, bool, int], ...], int, bool]:
    """What Lark's ``maybe_create_child_filter`` does for ``rule`` (LALR, placeholders
    on, no ``keep_all_tokens``): the kept children ``(index, inline, nones before)``,
    the ``None``s appended, and whether any filtering happens at all."""
    expansion = rule.expansion
    flags = rule.options.empty_indices
    if flags:
        bits = "".join(str(int(b)) for b in flags)
        empty = [len(ones) for ones in bits.split("0")]
    else:
        empty = [0] * (len(expansion) + 1)
    include = []
    nones = 0
    for i, sym in enumerate(expansion):
        nones += empty[i]
        if rule.options.keep_all_tokens or not (sym.is_term and sym.filter_out):
            include.append((i, not sym.is_term and sym.name.startswith("_"), nones))
            nones = 0
    nones += empty[len(expansion)]
    filtered = bool(flags) or len(include) < len(expansion) or any(x for _, x, _ in include)
    return tuple(include), nones, filtered


def tables() -> dict[str, Any]:
    """The data ``_tables.py`` holds."""
    import lark

    parser = build_lark()
    table = parser.parser.parser._parse_table
    n = len(table.states)
    rules = list(parser.rules)
    index = {id(rule): i for i, rule in enumerate(rules)}
    shift = lark.parsers.lalr_analysis.Shift
    # Lark numbers states in set order, which changes from run to run: renumber them
    # breadth first from the start states, symbols in sorted order, so the file is stable
    order: dict[int, int] = {}
    queue = [table.start_states[name] for name in START_RULES]
    while queue:
        state = queue.pop(0)
        if state in order:
            continue
        order[state] = len(order)
        for _symbol, (action, arg) in sorted(table.states[state].items()):
            if action is shift and arg not in order:
                queue.append(arg)
    assert len(order) == n, "every state is reachable from a start state"
    states = []
    for state in sorted(order, key=order.__getitem__):
        row = {}
        for symbol, (action, arg) in sorted(table.states[state].items()):
            row[str(symbol)] = order[arg] if action is shift else -1 - index[id(arg)]
        states.append(row)
    rule_rows = []
    for rule in rules:
        include, append_none, filtered = _child_filter(rule)
        callback = rule.alias or rule.options.template_source or rule.origin.name
        expand1 = bool(rule.options.expand1 and not rule.alias)
        rule_rows.append((str(rule.origin.name), len(rule.expansion), str(callback), expand1,
                          include if filtered else None, append_none))
    kept = sorted({sym.name for rule in rules
                   for i, sym in enumerate(rule.expansion)
                   if sym.is_term and any(i == j for j, _, _ in _child_filter(rule)[0])})
    return {
        "GRAMMAR_SHA256": hashlib.sha256(grammar_text().encode("utf-8")).hexdigest(),
        "LARK_VERSION": lark.__version__,
        "START_STATES": {name: order[table.start_states[name]] for name in START_RULES},
        "END_STATES": {name: order[table.end_states[name]] for name in START_RULES},
        "KEPT_TERMINALS": tuple(kept),
        "RULES": tuple(rule_rows),
        "STATES": tuple(states),
    }


_TYPES = {
    "GRAMMAR_SHA256": "str",
    "LARK_VERSION": "str",
    "START_STATES": "dict[str, int]",
    "END_STATES": "dict[str, int]",
    "KEPT_TERMINALS": "tuple[str, ...]",
    "RULES": "tuple[Rule, ...]",
    "STATES": "tuple[dict[str, int], ...]",
}

_HEADER = '''\
"""LALR(1) tables of ``crossql.lark``, built by Lark. Generated: do not edit.

Regenerate with ``python -m crossql.grammar.generate`` after changing the grammar
(the tests fail while this file is stale).

- ``STATES[s][symbol]``: ``n >= 0`` shifts to state ``n``; ``n < 0`` reduces by
  rule ``-1 - n``. Terminals are upper case, rules (the gotos) lower case.
- ``RULES[r]``: ``(origin, length, callback, expand1, include, append_none)`` where
  ``include`` is ``None`` when the transformer gets every child, else the kept
  children as ``(index, inline, nones before)``, as Lark's tree builder keeps them.
- ``KEPT_TERMINALS``: the terminals some rule hands to the transformer.
"""

from typing import TypeAlias

Rule: TypeAlias = tuple[str, int, str, bool, tuple[tuple[int, bool, int], ...] | None, int]

'''


def render() -> str:
    """The text of ``_tables.py``."""
    data = tables()
    out = [_HEADER]
    for name, value in data.items():
        if name in ("RULES", "STATES"):  # one rule, one state a line
            text = "(\n" + "".join(f"    {item!r},\n" for item in value) + ")"
        else:
            text = pprint.pformat(value, width=80, compact=True, sort_dicts=False)
        out.append(f"{name}: {_TYPES[name]} = {text}\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write the tables, or with ``--check`` report whether they are current."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = TABLES_FILE.read_text("utf-8") if TABLES_FILE.exists() else ""
        if current != text:
            print(f"{TABLES_FILE} is stale: run python -m crossql.grammar.generate")
            return 1
        print(f"{TABLES_FILE} is current")
        return 0
    TABLES_FILE.write_text(text, "utf-8")
    print(f"wrote {TABLES_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
