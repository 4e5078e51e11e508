"""A conservative static check for ``matches`` patterns that backtrack catastrophically.

The memory engine runs patterns with Python's backtracking ``re``; a pattern
whose parts can split the same text in many ways makes a failed search take
exponential (or high-polynomial) time: ``(a+)+b`` against thirty ``a`` runs
for minutes. This module refuses the shapes known to do that, on the pattern's
parse tree (``re._parser``, the tree ``re.compile`` itself builds):

1. a repeated group that can match the empty string: ``(a*)*``, ``(.*)*``,
   ``(a?)+``, ``(a|)+``; or that holds a part matching the empty string in two
   ways: ``(a(?:)?)*``, ``(a(b?)?)+``, ``(a(b|c?|d?))*``;
2. a quantifier inside a repeated group (``(a+)+``, ``(\\w+\\s?)*``,
   ``(a{1,9}){9}``; an optional part too: ``(aa?)*``), unless the group starts or
   ends with a character that none of its inner quantifiers can consume, which
   splits the text into iterations one way only (``([\\w-]+\\.)+``, ``(\\d+,)*``,
   ``(,\\d+)+`` are accepted);
3. inside a repeated group, alternatives that can begin with the same
   character, or an empty alternative: ``(a|a)*``, ``(a|ab)*``, ``(\\w+|_)+``;
4. two quantifiers next to each other (only optional parts between them) that
   can consume the same character: ``\\w+\\d+``, ``.*.*``, ``a*a+``, ``\\s*\\s+``.

Character sets are compared on a sample alphabet (ASCII, every character the
pattern names, and one representative per Unicode class); a character outside
it counts as a member of every set that might hold it, so the comparison errs
on the side of refusing. The check proves no bound for every pattern: a
pattern with quantifiers separated by characters they can also consume
(``\\w+x\\w+``) is accepted and may still search in time quadratic or cubic in
the length of the text. See docs/limits.md.
"""

from __future__ import annotations

import bisect
import importlib
import re
from typing import Any

from crossql.limits import MAX_CLASS_SPAN

_C: Any = importlib.import_module("re._constants")
_P: Any = importlib.import_module("re._parser")

_REPEATS = frozenset({_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT})
_CHAR_OPS = frozenset({_C.LITERAL, _C.NOT_LITERAL, _C.ANY, _C.IN})
_GROUPS = frozenset({_C.SUBPATTERN, _C.ATOMIC_GROUP})

# characters outside the sample fall in one of these classes (by what \d \w \s say)
_BUCKETS = ("digit", "word", "space", "other")
_REPRESENTATIVES = "é\u00df\u0130\u017f\u212a\u00a0\u2028\u0663\u4e2d\U0001f600\u0301"
_MAX_NAMED = 256  # characters of the pattern added to the sample (the rest use buckets)
_CATEGORY_PATTERNS = {
    "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
    "CATEGORY_LINEBREAK": r"\n", "CATEGORY_NOT_LINEBREAK": r"[^\n]",
}
_CATEGORY_BUCKETS = {
    "CATEGORY_DIGIT": {"digit"}, "CATEGORY_NOT_DIGIT": {"word", "space", "other"},
    "CATEGORY_SPACE": {"space"}, "CATEGORY_NOT_SPACE": {"digit", "word", "other"},
    "CATEGORY_WORD": {"digit", "word"}, "CATEGORY_NOT_WORD": {"space", "other"},
    "CATEGORY_LINEBREAK": set(), "CATEGORY_NOT_LINEBREAK": set(_BUCKETS),
}


def _bucket(ch: str) -> str:
    if ch.isdigit() and re.match(r"\d", ch):
        return "digit"
    if re.match(r"\w", ch):
        return "word"
    if re.match(r"\s", ch):
        return "space"
    return "other"


def _named_codes(items: list[Any], out: set[int]) -> None:
    """Every literal and range end the pattern names (iteratively: no recursion limit)."""
    stack = [items]
    while stack and len(out) < _MAX_NAMED:
        for op, av in stack.pop():
            if op in (_C.LITERAL, _C.NOT_LITERAL):
                out.add(av)
            elif op is _C.RANGE:
                out.update(av)
            elif op is _C.IN:
                stack.append(av)
            elif op in _REPEATS:
                stack.append(av[2].data)
            elif op is _C.SUBPATTERN:
                stack.append(av[3].data)
            elif op is _C.ATOMIC_GROUP:
                stack.append(av.data)
            elif op is _C.BRANCH:
                stack.extend(alt.data for alt in av[1])
            elif op in (_C.ASSERT, _C.ASSERT_NOT):
                stack.append(av[1].data)
            elif op is _C.GROUPREF_EXISTS:
                stack.extend(p.data for p in av[1:] if p is not None)


class Refused(Exception):
    """The pattern has a shape known to backtrack catastrophically (``reason`` says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Analysis:
    """Character-set masks (bits over the sample alphabet + buckets) and the checks."""

    def __init__(self, tree: Any, ignorecase: bool) -> None:
        named: set[int] = set()
        _named_codes(tree.data, named)
        codes = set(range(128)) | {ord(c) for c in _REPRESENTATIVES} | named
        if ignorecase:
            for code in list(codes):
                ch = chr(code)
                for variant in (ch.lower(), ch.upper(), ch.swapcase(), ch.casefold()):
                    if len(variant) == 1:
                        codes.add(ord(variant))
        self.codes = sorted(codes)
        self.index = {code: i for i, code in enumerate(self.codes)}
        n = len(self.codes)
        self.bucket_bit = {name: 1 << (n + i) for i, name in enumerate(_BUCKETS)}
        self.all_buckets = sum(self.bucket_bit.values())
        self.all = (1 << (n + len(_BUCKETS))) - 1
        self.ignorecase = ignorecase
        self._categories: dict[str, int] = {}
        self._ranges: dict[tuple[int, int], int] = {}
        self._memo: dict[int, Any] = {}

    # -- character masks ------------------------------------------------------------
    def _code(self, code: int) -> int:
        i = self.index.get(code)
        bits = (1 << i) if i is not None else self.bucket_bit[_bucket(chr(code))]
        if self.ignorecase:
            ch = chr(code)
            for variant in (ch.lower(), ch.upper(), ch.swapcase(), ch.casefold()):
                if len(variant) == 1 and ord(variant) != code:
                    j = self.index.get(ord(variant))
                    bits |= (1 << j) if j is not None else self.bucket_bit[_bucket(variant)]
        return bits

    def _range(self, lo: int, hi: int) -> int:
        bits = self._ranges.get((lo, hi))
        if bits is None:
            bits = self._ranges[lo, hi] = self._compute_range(lo, hi)
        return bits

    def _compute_range(self, lo: int, hi: int) -> int:
        start = bisect.bisect_left(self.codes, lo)
        stop = bisect.bisect_right(self.codes, hi)
        bits = ((1 << (stop - start)) - 1) << start
        if hi - lo + 1 > stop - start:  # the range holds characters outside the sample
            bits |= self.all_buckets
        if self.ignorecase:
            for i in range(start, stop):
                bits |= self._code(self.codes[i])
        return bits

    def _category(self, name: str) -> int:
        bits = self._categories.get(name)
        if bits is None:
            test = re.compile(_CATEGORY_PATTERNS.get(name, r"[\s\S]")).fullmatch
            bits = sum(1 << i for i, code in enumerate(self.codes) if test(chr(code)))
            buckets = _CATEGORY_BUCKETS.get(name, set(_BUCKETS))
            bits |= sum(self.bucket_bit[b] for b in buckets)
            self._categories[name] = bits
        return bits

    def char_mask(self, op: Any, av: Any) -> int:
        """The characters one character matcher (literal, class, ``.``) accepts."""
        if op is _C.LITERAL:
            return self._code(av)
        if op is _C.NOT_LITERAL:
            return self.all & ~self._code(av) | self.all_buckets
        if op is _C.ANY:
            return self.all
        bits = 0
        negate = False
        for item_op, item_av in av:
            if item_op is _C.NEGATE:
                negate = True
            elif item_op is _C.LITERAL:
                bits |= self._code(item_av)
            elif item_op is _C.RANGE:
                bits |= self._range(*item_av)
            elif item_op is _C.CATEGORY:
                bits |= self._category(str(item_av))
            else:  # an item this check does not know: anything
                bits = self.all
        return (self.all & ~bits | self.all_buckets) if negate else bits

    # -- properties of a sequence (memoised by identity: the tree is not mutated) ------
    def _cached(self, kind: str, items: list[Any], compute: Any) -> Any:
        key = id(items)
        entry = self._memo.setdefault(key, {"items": items})
        if kind not in entry:
            entry[kind] = compute(items)
        return entry[kind]

    def consume(self, items: list[Any]) -> int:
        """Every character some part of the sequence can consume."""
        return int(self._cached("consume", items, self._consume))

    def _consume(self, items: list[Any]) -> int:
        bits = 0
        for op, av in items:
            if op in _CHAR_OPS:
                bits |= self.char_mask(op, av)
            elif op is _C.GROUPREF:
                bits |= self.all
            else:
                for sub in _children(op, av):
                    bits |= self.consume(sub)
        return bits

    def nullable(self, items: list[Any]) -> bool:
        """The sequence can match the empty string."""
        return bool(self._cached("nullable", items, self._nullable))

    def _nullable(self, items: list[Any]) -> bool:
        return all(self._element_nullable(op, av) for op, av in items)

    def _element_nullable(self, op: Any, av: Any) -> bool:
        if op in _CHAR_OPS:
            return False
        if op in _REPEATS:
            return bool(av[0] == 0 or self.nullable(av[2].data))
        if op is _C.SUBPATTERN:
            return self.nullable(av[3].data)
        if op is _C.ATOMIC_GROUP:
            return self.nullable(av.data)
        if op is _C.BRANCH:
            return any(self.nullable(alt.data) for alt in av[1])
        if op is _C.GROUPREF_EXISTS:
            return self.nullable(av[1].data) or av[2] is None or self.nullable(av[2].data)
        return True  # anchors, lookaround, back-references (the group may be empty)

    def first(self, items: list[Any]) -> int:
        """The characters a match of the sequence can begin with."""
        return int(self._cached("first", items, self._first))

    def _first(self, items: list[Any]) -> int:
        bits = 0
        for op, av in items:
            if op in _CHAR_OPS:
                return bits | self.char_mask(op, av)
            if op is _C.GROUPREF:
                bits |= self.all
            elif op not in (_C.ASSERT, _C.ASSERT_NOT, _C.AT):
                for sub in _children(op, av):
                    bits |= self.first(sub)
            if not self._element_nullable(op, av):
                return bits
        return bits

    def varying(self, items: list[Any]) -> int:
        """The characters consumed by quantifiers inside the sequence whose count varies
        (``+``, ``*``, ``{1,5}``; not ``?`` or ``{3}`` of a fixed body); 0: none."""
        return int(self._cached("varying", items, self._varying))

    def _varying(self, items: list[Any]) -> int:
        bits = 0
        for op, av in items:
            if op in _REPEATS and _varies(av):
                bits |= self.consume(av[2].data)
            elif op not in _CHAR_OPS:
                for sub in _children(op, av):
                    bits |= self.varying(sub)
        return bits

    def variable(self, items: list[Any]) -> int:
        """The characters consumed by quantifiers inside the sequence whose count is not
        fixed, ``?`` included: inside a repeated group, ``(aa?)*`` splits ``aaaa`` into
        repetitions of one or two ``a`` in exponentially many ways."""
        return int(self._cached("variable", items, self._variable))

    def _variable(self, items: list[Any]) -> int:
        bits = 0
        for op, av in items:
            if op in _REPEATS and av[0] != av[1]:
                bits |= self.consume(av[2].data)
            elif op not in _CHAR_OPS:
                for sub in _children(op, av):
                    bits |= self.variable(sub)
        return bits

    # -- the checks -------------------------------------------------------------------
    def check(self, items: list[Any], repeated: bool) -> None:
        """Raise ``Refused`` for a known catastrophic shape in the sequence (recursively)."""
        self._adjacent(items)
        for op, av in items:
            if op in _REPEATS:
                body = av[2].data
                if av[1] >= 2:
                    self._repeated_body(body)
                self.check(body, repeated or av[1] >= 2)
                if av[1] >= 2 and self._empty_two_ways(body):
                    raise Refused("inside a repeated group, a part matches the empty string "
                                  "in more than one way (as in `(a(b?)?)*`), which doubles "
                                  "the ways to match each repetition")
            elif op is _C.BRANCH:
                alts = [alt.data for alt in av[1]]
                if repeated:
                    self._alternatives(alts)
                for alt in alts:
                    self.check(alt, repeated)
            elif op not in _CHAR_OPS:
                for sub in _children(op, av):
                    self.check(sub, repeated)

    def _repeated_body(self, body: list[Any]) -> None:
        if self.nullable(body):
            raise Refused("a repeated group can match the empty string, so the text splits "
                          "into its repetitions in countless ways")
        inner = self.variable(body)
        if not inner:
            return
        flat = _flatten(body)
        for op, av in (flat[0], flat[-1]):
            if op in _CHAR_OPS and not (self.char_mask(op, av) & inner):
                return  # a delimiter no inner quantifier consumes: one way to split
        raise Refused("a quantifier inside a repeated group (nested quantifiers, as in "
                      "`(a+)+`) lets the text split into repetitions in exponentially many ways")

    def _empty_two_ways(self, items: list[Any]) -> bool:
        """Some part of the sequence can match the empty string in two ways: a quantifier
        over a body that can itself be empty (`(b?)?`, `(?:)?`), or two alternatives
        that can be empty."""
        for op, av in items:
            if op in _REPEATS and self.nullable(av[2].data):
                return True
            if op is _C.BRANCH and sum(self.nullable(alt.data) for alt in av[1]) >= 2:
                return True
            if op not in _CHAR_OPS and any(self._empty_two_ways(sub)
                                           for sub in _children(op, av)):
                return True
        return False

    def _alternatives(self, alts: list[list[Any]]) -> None:
        seen = 0
        for alt in alts:
            if self.nullable(alt):
                raise Refused("an alternative of a repeated group can match the empty string "
                              "(as in `(a|a)*`, which Python reads as `a(|)`)")
            first = self.first(alt)
            if first & seen:
                raise Refused("alternatives of a repeated group can begin with the same "
                              "character (as in `(a|ab)*`), so each repetition can be "
                              "matched several ways")
            seen |= first

    def _adjacent(self, items: list[Any]) -> None:
        # what the quantifiers just before this point can hand over to the next part, with
        # only optional parts since (a required character ends it): records
        # (first, through): a part conflicts when it can begin with a character of
        # `first` and, when `through` is set, also consume one of `through`
        chain: list[tuple[int, int | None]] = []
        for op, av in _flatten(items):
            if op in _CHAR_OPS:
                chain = []
                continue
            element = [(op, av)]
            if not self.varying(element):
                if not self._element_nullable(op, av):
                    chain = []
                continue
            first = self.first(element)
            if chain:
                eats = self.consume(element)
                for start, through in chain:
                    if first & start and (through is None or eats & through):
                        raise Refused("two quantifiers in a row can consume the same "
                                      "characters (as in `\\w+\\d+` or `.*.*`), so the "
                                      "text between them splits in many ways")
            if not self._element_nullable(op, av):
                chain = []
            chain.append(self._hand_over(op, av))

    def _hand_over(self, op: Any, av: Any) -> tuple[int, int | None]:
        """What a part with quantifiers can give back to the part after it."""
        if op in _REPEATS:
            flat = _flatten(av[2].data)
            last_op, last_av = flat[-1]
            if len(flat) == 1 and last_op in _CHAR_OPS:
                return self.char_mask(last_op, last_av), None  # `\d+`: char by char
            if last_op in _CHAR_OPS:
                # `(\d+\.)+`: whole repetitions, each ending with this character
                return self.first(av[2].data), self.char_mask(last_op, last_av)
        return self.consume([(op, av)]), None


def _varies(av: Any) -> bool:
    """A repeat ``{min,max}`` whose number of repetitions varies and can exceed one."""
    low, high, _body = av
    return bool(high >= 2 and high != low)


def _children(op: Any, av: Any) -> list[list[Any]]:
    if op in _REPEATS:
        return [av[2].data]
    if op is _C.SUBPATTERN:
        return [av[3].data]
    if op is _C.ATOMIC_GROUP:
        return [av.data]
    if op is _C.BRANCH:
        return [alt.data for alt in av[1]]
    if op in (_C.ASSERT, _C.ASSERT_NOT):
        return [av[1].data]
    if op is _C.GROUPREF_EXISTS:
        return [p.data for p in av[1:] if p is not None]
    return []


def _flatten(items: list[Any]) -> list[Any]:
    """The sequence with plain groups ``(...)``/``(?:...)`` opened in place."""
    out: list[Any] = []
    for op, av in items:
        if op is _C.SUBPATTERN:
            out.extend(_flatten(av[3].data))
        elif op is _C.ATOMIC_GROUP:
            out.extend(_flatten(av.data))
        else:
            out.append((op, av))
    return out or [(_C.AT, None)]


def _class_span(items: list[Any]) -> int:
    """Characters below U+10000 covered by the pattern's character classes (iteratively)."""
    total = 0
    stack = [items]
    while stack:
        for op, av in stack.pop():
            if op is _C.IN:
                for item_op, item_av in av:
                    if item_op is _C.RANGE:
                        lo, hi = item_av
                        total += max(0, min(hi, 0xFFFF) - lo + 1)
            else:
                stack.extend(_children(op, av))
    return total


def catastrophic(pattern: str) -> str | None:
    """Why ``pattern`` is refused, or None when it passes: its character classes would
    take long to compile, or its shape backtracks catastrophically. Parses the pattern
    (``re.error`` for an invalid one) but does not compile it, so a costly pattern is
    refused before ``re.compile`` spends the time."""
    tree = _P.parse(pattern)
    try:
        span = _class_span(tree.data)
        if span > MAX_CLASS_SPAN:
            return (f"its character classes cover {span:,} characters; the limit is "
                    f"{MAX_CLASS_SPAN:,} (each large class costs milliseconds to compile)")
        ignorecase = bool(tree.state.flags & re.IGNORECASE) or (
            "(?" in pattern and bool(re.search(r"\(\?[a-zA-Z]*i", pattern)))
        _Analysis(tree, ignorecase).check(tree.data, False)
    except Refused as refused:
        return refused.reason
    except RecursionError:
        return "the pattern nests too deeply to check"
    return None
