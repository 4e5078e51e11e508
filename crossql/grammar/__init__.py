"""The CrossQL grammar: text → IR (``parse_query``, ``parse_statement``, ``parse_condition``)."""

from crossql.grammar.parser import KEYWORDS, parse_condition, parse_query, parse_statement

__all__ = ["KEYWORDS", "parse_condition", "parse_query", "parse_statement"]
