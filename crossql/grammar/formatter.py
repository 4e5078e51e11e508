"""IR → canonical CrossQL text. ``parse(format(q)) == q`` for every query."""

from __future__ import annotations

import re

from crossql import ir
from crossql.grammar.parser import KEYWORDS
from crossql.visitor import ConditionVisitor

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def format_name(segment: str) -> str:
    """A name segment, backticked when it is a keyword or not a plain identifier."""
    if _PLAIN_NAME.match(segment) and segment.lower() not in KEYWORDS:
        return segment
    return "`" + segment.replace("`", "``") + "`"


def format_path(path: ir.Path) -> str:
    """A dotted path with each segment quoted as needed."""
    return ".".join(format_name(s) for s in path.segments)


def format_string(text: str) -> str:
    """A double-quoted string literal using only CrossQL's escapes."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_value(value: ir.Value) -> str:
    """A literal, list or parameter as CrossQL text."""
    if isinstance(value, ir.Param):
        return ":" + value.name
    if isinstance(value, ir.ListValue):
        return "[" + ", ".join(format_value(v) for v in value.items) + "]"
    if value.kind == "null":
        return "null"
    if value.kind == "bool":
        return "true" if value.value else "false"
    if value.kind == "string":
        assert isinstance(value.value, str)
        return format_string(value.value)
    if value.kind == "float":
        text = repr(value.value)
        return text if ("." in text or "e" in text) else text + ".0"
    if value.kind in ir.NATIVE_KINDS:
        # a timestamp reads back (`timestamp "..."`); the other native kinds come only from
        # parameters, and are shown in the same form (the text language has no syntax for them)
        return f'{value.kind} "{ir.native_text(value.value)}"'
    return str(value.value)


_PRECEDENCE = {ir.Or: 1, ir.And: 2, ir.Not: 3}


def _operand(cond: ir.Condition, parent: int) -> str:
    text = format_condition(cond)
    # And-in-And and Or-in-Or only arise from explicit parentheses: keep them so
    # the round trip gives the same tree
    own = _PRECEDENCE.get(type(cond), 4)
    return f"({text})" if own <= parent and own < 3 else text


class _ConditionText(ConditionVisitor[str]):
    """A condition as canonical text, parenthesised only where the tree needs it."""

    NAME = "formatter"

    def visit_Or(self, node: ir.Or) -> str:
        return " or ".join(_operand(c, 1) for c in node.operands)

    def visit_And(self, node: ir.And) -> str:
        return " and ".join(_operand(c, 2) for c in node.operands)

    def visit_Not(self, node: ir.Not) -> str:
        return "not " + _operand(node.operand, 3)

    def visit_Compare(self, node: ir.Compare) -> str:
        return f"{format_path(node.path)} {node.op} {format_value(node.value)}"

    def visit_Between(self, node: ir.Between) -> str:
        return (f"{format_path(node.path)} between {format_value(node.low)} "
                f"and {format_value(node.high)}")

    def visit_In(self, node: ir.In) -> str:
        word = "not in" if node.negated else "in"
        return f"{format_path(node.path)} {word} {format_value(node.values)}"

    def visit_Contains(self, node: ir.Contains) -> str:
        return f"{format_path(node.path)} contains {format_value(node.value)}"

    def visit_ContainsAny(self, node: ir.ContainsAny) -> str:
        return f"{format_path(node.path)} contains any {format_value(node.values)}"

    def visit_ContainsAll(self, node: ir.ContainsAll) -> str:
        return f"{format_path(node.path)} contains all {format_value(node.values)}"

    def visit_StartsWith(self, node: ir.StartsWith) -> str:
        return f"{format_path(node.path)} startswith {format_value(node.value)}"

    def visit_Matches(self, node: ir.Matches) -> str:
        return f"{format_path(node.path)} matches {format_value(node.value)}"

    def visit_Exists(self, node: ir.Exists) -> str:
        return f"exists({format_path(node.path)})"

    def visit_Size(self, node: ir.Size) -> str:
        return f"size({format_path(node.path)}) {node.op} {format_value(node.value)}"


_TEXT = _ConditionText()


def format_condition(cond: ir.Condition) -> str:
    """A condition as canonical text, parenthesised only where the tree needs it."""
    return _TEXT.visit(cond)


def _select_item(item: ir.SelectItem) -> str:
    expr = item.expr
    if isinstance(expr, ir.Aggregate):
        text = f"{expr.func}({format_path(expr.arg) if expr.arg is not None else ''})"
    else:
        text = format_path(expr)
    return text if item.alias is None else f"{text} as {format_name(item.alias)}"


def format_query(query: ir.Query) -> str:
    """The canonical text of a query: lower-case keywords, one space, clause order."""
    parts = ["from " + format_name(query.collection)]
    if query.where is not None:
        parts.append("where " + format_condition(query.where))
    if query.group_by:
        parts.append("group by " + ", ".join(format_path(p) for p in query.group_by))
    if query.select:
        parts.append("select " + ", ".join(_select_item(i) for i in query.select))
    if query.order_by:
        parts.append("order by " + ", ".join(
            format_path(k.path) + (" desc" if k.descending else "") for k in query.order_by))
    if query.limit is not None:
        parts.append("limit " + format_value(query.limit))
    if query.offset is not None:
        parts.append("offset " + format_value(query.offset))
    return " ".join(parts)



def _assignment(item: ir.Assignment) -> str:
    if isinstance(item, ir.SetField):
        return f"{format_path(item.path)} = {format_value(item.value)}"
    if isinstance(item, ir.Increment):
        path = format_path(item.path)
        return f"{path} = {path} + {format_value(item.amount)}"
    return "unset " + format_path(item.path)


def _write_tail(where: ir.Condition | None, limit: ir.Literal | ir.Param | None) -> str:
    text = " where " + (format_condition(where) if where is not None else "true")
    return text if limit is None else f"{text} limit {format_value(limit)}"


def format_statement(statement: ir.Statement) -> str:
    """The canonical text of a query or a write (``where true`` spelled out)."""
    if isinstance(statement, ir.Update):
        return (f"update {format_name(statement.collection)} set "
                + ", ".join(_assignment(a) for a in statement.assignments)
                + _write_tail(statement.where, statement.limit))
    if isinstance(statement, ir.Delete):
        return (f"delete from {format_name(statement.collection)}"
                + _write_tail(statement.where, statement.limit))
    return format_query(statement)
