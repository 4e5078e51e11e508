"""The CrossQL grammar: text → IR (``parse_query``, ``parse_condition``)."""

from crossql.grammar.parser import KEYWORDS, parse_condition, parse_query

__all__ = ["KEYWORDS", "parse_condition", "parse_query"]
