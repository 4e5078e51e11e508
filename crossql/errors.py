"""Every error CrossQL raises about a query.

::

    ValueError
    └── QueryError                 code, line, column, span, hint; render(), to_dict()
        ├── QuerySyntaxError       the text does not parse
        ├── QuerySemanticError     it parses but means nothing valid
        └── CapabilityError        valid CrossQL the chosen backend cannot run faithfully

    ValueError
    ├── ConfigError                a configuration is invalid (every problem, with its path)
    └── DocumentError              a document does not fit its declared schema or model

    RuntimeError
    └── BackendError               a driver or server failed while running a plan
        ├── TransactionConflict    a transaction lost to a concurrent one (retry it)
        └── ClientSideLimitError   more rows than client_side.max_rows to complete

Errors are data (code, message, span, label, hint) rendered separately into a
frame that shows the offending line with a caret underline.
"""

from __future__ import annotations

import copy
from typing import Any

from crossql.ir import Span


def line_col(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``source``."""
    offset = max(0, min(offset, len(source)))
    line = source.count("\n", 0, offset) + 1
    start = source.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


FRAME_WIDTH = 200
"""The most characters of the source line a frame shows; a longer line is cut to a
window around the error (a 100,000-character one-line query would otherwise be
printed whole, and its underline with it)."""
_CONTEXT = 60
"""Characters kept on each side of the error in a cut line."""


def _window(line: str, start: int, width: int) -> tuple[str, int, int]:
    """``line`` cut to at most about ``FRAME_WIDTH`` characters around ``start`` (``…``
    marks a cut), with the start and underline width moved to match."""
    if len(line) <= FRAME_WIDTH:
        return line, start, width
    width = min(width, FRAME_WIDTH - 2 * _CONTEXT)
    left = max(0, start - _CONTEXT)
    right = min(len(line), start + width + _CONTEXT)
    shown = line[left:right]
    if left > 0:
        shown = "…" + shown
        start = start - left + 1
    if right < len(line):
        shown += "…"
    return shown, start, width


class QueryError(ValueError):
    """Base of every error about a query; carries its position and a rendering."""

    kind = "QueryError"
    default_label = ""
    origin = "query"
    """What the frame's ``-->`` line names: ``query``, or the file the query came from."""
    context = ""
    """Said after the position (``in_file``: which query of the file)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        span: Span | None = None,
        source: str | None = None,
        hint: str | None = None,
        label: str | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.span: Span = span if span is not None else (0, 0)
        self.source = source
        self.hint = hint
        self.label = label if label is not None else self.default_label
        if source is not None:
            self.line, self.column = line_col(source, self.span[0])
        else:
            self.line, self.column = 1, self.span[0] + 1
        super().__init__(self.render())

    def with_source(self, source: str | None) -> QueryError:
        """The same error located in ``source`` (used when the text is known late)."""
        if source is None or self.source is not None:
            return self
        return type(self)(
            self.message, code=self.code, span=self.span, source=source, hint=self.hint,
            label=self.label,
        )

    def in_file(self, source: str, offset: int, origin: str, context: str = "") -> QueryError:
        """The same error located in a larger text that holds the query's text at
        ``offset`` (a query file): its line and column count in ``source``, and the frame
        names ``origin`` (the file), then ``context`` (which query), instead of ``query``."""
        moved = copy.copy(self)
        moved.span = (self.span[0] + offset, self.span[1] + offset)
        moved.source = source
        moved.line, moved.column = line_col(source, moved.span[0])
        moved.origin = origin
        moved.context = context
        moved.args = (moved.render(),)
        return moved

    def render(self) -> str:
        """The human frame: message, ``--> query:L:C``, the line, a caret underline, hint."""
        head = f"crossql.{self.kind}: {self.message}"
        if self.source is None:
            lines = [head, f"  --> {self.origin}:{self.line}:{self.column}{self.context}"]
            if self.hint:
                lines.append(f"   = hint: {self.hint}")
            return "\n".join(lines)
        text_lines = self.source.split("\n")
        line_text = text_lines[self.line - 1] if self.line - 1 < len(text_lines) else ""
        start_col = self.column - 1
        end_offset = self.span[1]
        end_line, end_col = line_col(self.source, end_offset)
        if end_line != self.line:
            end_col = len(line_text) + 1
        width = max(1, end_col - 1 - start_col)
        gutter = " " * len(str(self.line))
        line_text, start_col, width = _window(line_text, start_col, width)
        # tabs keep their width in the underline so the caret lines up
        pad = "".join("\t" if ch == "\t" else " " for ch in line_text[:start_col])
        underline = pad + "^" * width
        if self.label:
            underline += " " + self.label
        lines = [
            head,
            f"{gutter} --> {self.origin}:{self.line}:{self.column}{self.context}",
            f"{gutter}  |",
            f" {self.line} | {line_text}",
            f"{gutter}  | {underline}",
        ]
        if self.hint:
            lines.append(f"{gutter}  = hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The error as data, for tools (JSON-ready)."""
        return {
            "error": self.kind,
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "span": list(self.span),
            "hint": self.hint,
        }

    def __reduce__(self) -> Any:  # keep errors picklable despite keyword-only init
        return (_rebuild, (type(self), self.message, self.code, self.span, self.source,
                           self.hint, self.label), self._file_state())

    def _file_state(self) -> dict[str, Any] | None:
        """What ``in_file`` set (None when it was not called), kept across pickling."""
        if self.origin == "query":
            return None
        return {"origin": self.origin, "context": self.context, "line": self.line,
                "column": self.column, "args": self.args}


def _rebuild(cls: type[QueryError], message: str, code: str, span: Span, source: str | None,
             hint: str | None, label: str | None) -> QueryError:
    return cls(message, code=code, span=span, source=source, hint=hint, label=label)


class QuerySyntaxError(QueryError):
    """The text does not parse; the message says what was expected."""

    kind = "QuerySyntaxError"


class QuerySemanticError(QueryError):
    """The text parses but means nothing valid (type clash, unknown alias, ...)."""

    kind = "QuerySemanticError"


class CapabilityError(QueryError):
    """Valid CrossQL that the chosen backend cannot answer faithfully."""

    kind = "CapabilityError"
    default_label = "not supported by this backend"

    def __init__(self, message: str, *, backend: str, construct: str, **kwargs: Any) -> None:
        self.backend = backend
        self.construct = construct
        super().__init__(message, **kwargs)

    def with_source(self, source: str | None) -> QueryError:
        if source is None or self.source is not None:
            return self
        return CapabilityError(
            self.message, backend=self.backend, construct=self.construct, code=self.code,
            span=self.span, source=source, hint=self.hint, label=self.label,
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["backend"] = self.backend
        out["construct"] = self.construct
        return out

    def __reduce__(self) -> Any:
        return (_rebuild_capability, (self.message, self.backend, self.construct, self.code,
                                      self.span, self.source, self.hint, self.label),
                self._file_state())


def _rebuild_capability(message: str, backend: str, construct: str, code: str, span: Span,
                        source: str | None, hint: str | None, label: str | None) -> QueryError:
    return CapabilityError(message, backend=backend, construct=construct, code=code, span=span,
                           source=source, hint=hint, label=label)


class BackendError(RuntimeError):
    """A driver or server failed while running a plan; names the backend."""

    def __init__(self, backend: str, message: str) -> None:
        self.backend = backend
        self.message = message
        super().__init__(f"{backend}: {message}")


class TransactionConflict(BackendError):
    """A transaction lost to a concurrent change and was rolled back: nothing of it was
    written. ``Store.run_transaction`` runs the body again (bounded); ``async with
    store.transaction()`` raises this for the caller to decide."""


class ClientSideLimitError(BackendError):
    """A query completed client-side (the ``client_side`` option) read more rows than
    ``client_side.max_rows``: the call fails rather than answer from part of the rows."""

    def __init__(self, backend: str, max_rows: int, steps: str) -> None:
        self.max_rows = max_rows
        self.steps = steps
        super().__init__(backend, f"more than {max_rows} rows to complete client-side "
                         f"({steps}): the limit is the `client_side.max_rows` option of "
                         f"the {backend} backend; raise it, or narrow the query's `where` "
                         "so fewer rows are read")

    def __reduce__(self) -> Any:
        return (type(self), (self.backend, self.max_rows, self.steps))


class ConfigError(ValueError):
    """A configuration is invalid; ``problems`` lists ``(path, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = [f"invalid CrossQL configuration ({len(problems)} problem"
                 f"{'s' if len(problems) != 1 else ''}):"]
        lines += [f"  - {path}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


class DocumentError(ValueError):
    """A document does not fit its collection's declared schema or the model it is read
    into (docs/schemas.md): read with ``fetch(..., model=...)``, or about to be written
    (nothing is written then). ``problems`` lists ``(field path, message)`` pairs."""

    def __init__(self, collection: str, doc_id: Any, problems: list[tuple[str, str]], *,
                 against: str) -> None:
        self.collection = collection
        self.doc_id = doc_id
        self.problems = problems
        shown = "; ".join(f"`{path}`: {message}" if path else message
                          for path, message in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        who = "a new document" if doc_id is None else f"document {doc_id!r}"
        super().__init__(f"{who} of `{collection}` does not fit {against}: {shown}{more}")
