"""The ``crossql`` command: the public API from a shell.

::

    crossql parse   "from users where age >= 18"           IR as JSON
    crossql fmt     "FROM users WHERE age>=18"             canonical text
    crossql compile --backend memory -p min=18 "..."       plan as JSON
    crossql explain --backend memory "..."                 the plan in words
    crossql run     --data examples/shop.json "..."        rows (embedded engine)
    crossql check   "..."                                  which backends accept it

Every subcommand takes the query as one argument, ``-`` to read it from stdin,
or ``--file FILE``. Output goes to stdout: plain text when it is not a
terminal, coloured (``rich``) when it is. Errors go to stderr.

Exit status: 0 success; 1 ``check`` found a backend that refuses the query;
2 a query error (its rendered frame on stderr), bad usage or unreadable data;
70 a bug in CrossQL (``CROSSQL_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

import crossql
from crossql import ir
from crossql.backends import BACKEND_NAMES, Plan

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_BUG = 70

_PARAM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


class UsageError(Exception):
    """A problem with the command line or its input files (not with the query)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# -- output ------------------------------------------------------------------------------------


def _console(stderr: bool = False) -> Console:
    # markup/highlight off: query text and data are printed as they are, never as rich markup
    return Console(stderr=stderr, markup=False, highlight=False, soft_wrap=True)


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _print_json(data: Any) -> None:
    out = _console()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out.is_terminal:
        out.print_json(text)
    else:
        _write(text)


def _print_renderable(renderable: Any) -> None:
    """Print a rich table: styled on a terminal, its natural width and no trailing blanks in
    a pipe (rich would otherwise fold it to 80 columns)."""
    out = _console()
    if out.is_terminal:
        out.print(renderable)
        return
    wide = Console(file=sys.stdout, width=1_000_000, markup=False, highlight=False,
                   color_system=None)
    with wide.capture() as captured:
        wide.print(renderable)
    _write("\n".join(line.rstrip() for line in captured.get().splitlines()))


_FRAME_STYLES = (
    ("crossql.", "bold red"),
    ("-->", "blue"),
    ("= hint:", "cyan"),
)


def _print_query_error(err: crossql.QueryError, error_format: str, note: str | None) -> None:
    if error_format == "json":
        sys.stderr.write(json.dumps(err.to_dict(), ensure_ascii=False) + "\n")
        return
    console = _console(stderr=True)
    frame = err.render() + (f"\n{note}" if note else "")
    if not console.is_terminal:
        sys.stderr.write(frame + "\n")
        return
    text = Text()
    for line in frame.split("\n"):
        stripped = line.lstrip()
        style = next((s for prefix, s in _FRAME_STYLES if stripped.startswith(prefix)), "")
        if not style and "^" in line and stripped.startswith("|"):
            style = "bold red"
        text.append(line + "\n", style=style)
    console.print(text, end="")


def _print_usage_error(err: UsageError) -> None:
    console = _console(stderr=True)
    text = Text()
    text.append("crossql: ")
    text.append("error: ", style="bold red")
    text.append(err.message + "\n")
    if err.hint:
        text.append(f"  = hint: {err.hint}\n", style="cyan")
    if console.is_terminal:
        console.print(text, end="")
    else:
        sys.stderr.write(text.plain)


# -- input -------------------------------------------------------------------------------------


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _query_text(args: argparse.Namespace) -> str:
    """The query: the argument, ``-`` (stdin) or ``--file``; exactly one of them."""
    if args.query is not None and args.file is not None:
        raise UsageError("give the query either as an argument or with --file, not both")
    if args.file is not None:
        return _read_text(args.file)
    if args.query is None:
        raise UsageError(
            "no query given",
            hint=f'give it as an argument (crossql {args.command} "from users limit 3"), '
                 "as `-` to read it from stdin, or with --file FILE",
        )
    return _read_text("-") if args.query == "-" else str(args.query)


def _no_constants(name: str) -> NoReturn:
    raise ValueError(name)  # NaN, Infinity: not JSON values, so the text stays a string


def parse_param(item: str) -> tuple[str, Any]:
    """``name=value``: the value is read as JSON (``18``, ``[1,2]``, ``"18"``, ``null``),
    and is the plain string when it is not JSON (``name=Ada``)."""
    match = _PARAM.fullmatch(item)
    if match is None:
        raise UsageError(f"--params takes NAME=VALUE, not {item!r}",
                         hint="for example --params min=18 name=Ada 'ids=[1,2]'")
    name, raw = match.groups()
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except ValueError:
        value = raw
    return name, value


def _params(args: argparse.Namespace) -> dict[str, Any]:
    items: list[str] = list(getattr(args, "params", None) or [])
    # `--params k=v ... "from ..."`: argparse hands the query to the greedy --params; a query
    # never looks like NAME=..., so the last item that does not is the query.
    if args.query is None and args.file is None and items and not _PARAM.fullmatch(items[-1]):
        args.query = items.pop()
    params: dict[str, Any] = {}
    for item in items:
        name, value = parse_param(item)
        if name in params:
            raise UsageError(f"parameter {name!r} is given twice")
        params[name] = value
    return params


def load_collections(paths: Sequence[str], collection: str | None) -> dict[str, list[Any]]:
    """Collections from data files: a ``.json`` list (one collection, named by ``collection``
    or the file's stem), a ``.json`` object mapping names to lists, or ``.jsonl`` lines."""
    out: dict[str, list[Any]] = {}
    origin: dict[str, str] = {}
    for path in paths:
        if not Path(path).exists():
            raise UsageError(f"data file not found: {path}",
                             hint="pass a .json or .jsonl file, e.g. --data examples/shop.json")
        text = _read_text(path)
        name = collection or Path(path).stem
        found: dict[str, list[Any]]
        if path.endswith(_JSONL_SUFFIXES):
            found = {name: _jsonl_documents(path, text)}
        else:
            data = _json(path, text)
            if isinstance(data, list):
                found = {name: data}
            elif isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
                if collection is not None:
                    raise UsageError(
                        f"--collection names the documents of a file that holds one list; "
                        f"{path} holds collections {_names(data)}",
                        hint="the query's `from` picks one of them",
                    )
                found = data
            else:
                raise UsageError(
                    f"{path} holds a JSON {_json_kind(data)}; a data file holds a list of "
                    "documents, or an object mapping collection names to lists of documents",
                )
        for coll, docs in found.items():
            for i, doc in enumerate(docs):
                if not isinstance(doc, dict):
                    where = f"{path}:{i + 1}" if path.endswith(_JSONL_SUFFIXES) else \
                        f"{path}: {coll}[{i}]"
                    raise UsageError(f"{where} is a JSON {_json_kind(doc)}, not a document "
                                     "(a JSON object)")
            if coll in out:
                raise UsageError(f"collection `{coll}` comes from both {origin[coll]} and {path}")
            out[coll] = docs
            origin[coll] = path
    return out


def _json(path: str, text: str, where: str = "") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{where or exc.lineno}: invalid JSON: {exc.msg} "
                         f"(column {exc.colno})") from None
    except RecursionError:
        raise UsageError(f"{path}: the JSON nests too deeply") from None


def _jsonl_documents(path: str, text: str) -> list[Any]:
    docs = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            docs.append(_json(path, line, where=str(number)))
    return docs


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _names(data: Mapping[str, Any]) -> str:
    return ", ".join(f"`{name}`" for name in data) or "(none)"


# -- subcommands -------------------------------------------------------------------------------


def cmd_parse(args: argparse.Namespace) -> int:
    _print_json(ir.to_dict(crossql.parse(_query_text(args))))
    return EXIT_OK


def cmd_fmt(args: argparse.Namespace) -> int:
    _write(crossql.format(_query_text(args)))
    return EXIT_OK


def _compile(args: argparse.Namespace) -> Plan:
    params = _params(args)
    return crossql.compile(_query_text(args), backend=args.backend, params=params)


def cmd_compile(args: argparse.Namespace) -> int:
    plan = _compile(args)
    if args.python:
        _write(plan.to_python())
    else:
        _print_json(plan.to_dict())
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    _write(_compile(args).explain())
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    params = _params(args)
    query = crossql.parse(_query_text(args))
    collections = load_collections(args.data, args.collection)
    docs = collections.get(query.collection)
    if docs is None:
        files = ", ".join(args.data)
        hint = ("name the file's documents with --collection " + query.collection
                if len(collections) == 1 and not args.collection else None)
        raise UsageError(f"no collection `{query.collection}` in {files}; "
                         f"it holds {_names(collections)}", hint=hint)
    rows = crossql.evaluate(query, docs, params=params)
    if args.format == "json":
        _print_json(rows)
    elif args.format == "jsonl":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        if rows:
            _print_renderable(rows_table(rows))
        _write(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return EXIT_OK


def cell(value: Any) -> Text:
    """One value as a table cell: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return Text(value)
    if value is None:
        return Text("null", style="dim")
    return Text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def rows_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """Rows as a table: the columns are every key, in order of first appearance; a missing
    key is an empty cell, ``null`` is written ``null``."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for name in columns:
        numeric = all(isinstance(row.get(name), int | float) and not isinstance(row.get(name), bool)
                      for row in rows if row.get(name) is not None)
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(cell(row[name]) if name in row else Text("") for name in columns))
    return table


def cmd_check(args: argparse.Namespace) -> int:
    params = _params(args)
    query = crossql.parse(_query_text(args))
    results: list[tuple[str, Plan | crossql.CapabilityError]] = []
    for name in BACKEND_NAMES:
        try:
            results.append((name, crossql.compile(query, backend=name, params=params)))
        except crossql.CapabilityError as err:
            results.append((name, err))
    if args.json:
        _print_json([_check_dict(name, outcome) for name, outcome in results])
    else:
        _print_check(results)
    refused = any(isinstance(outcome, crossql.CapabilityError) for _, outcome in results)
    return EXIT_REFUSED if refused else EXIT_OK


def plan_kind(plan: Plan) -> str:
    """What kind of plan a backend made: its ``kind`` when it says, else its type."""
    kind = plan.to_dict().get("kind")
    return str(kind) if kind else type(plan).__name__


def _check_dict(name: str, outcome: Plan | crossql.CapabilityError) -> dict[str, Any]:
    if isinstance(outcome, crossql.CapabilityError):
        return {"backend": name, "accepted": False, "error": outcome.to_dict()}
    return {"backend": name, "accepted": True, "kind": plan_kind(outcome)}


def _print_check(results: Sequence[tuple[str, Plan | crossql.CapabilityError]]) -> None:
    width = max(len(name) for name, _ in results)
    out = Text()
    for name, outcome in results:
        out.append(name.ljust(width + 2), style="bold")
        if isinstance(outcome, crossql.CapabilityError):
            out.append("refused", style="bold red")
            out.append(f"   {outcome.message}\n")
        else:
            out.append("accepted", style="bold green")
            out.append(f"  {plan_kind(outcome)}\n")
    for name, outcome in results:
        if isinstance(outcome, crossql.CapabilityError):
            out.append(f"\n{name}:\n", style="bold")
            out.append(outcome.render() + "\n")
    console = _console()
    if console.is_terminal:
        console.print(out, end="")
    else:
        sys.stdout.write(out.plain)


# -- the command line --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with a pointer to ``--help`` after a usage error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n"
                              f"  = hint: `{self.prog} --help` lists the options\n")


def _query_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="?",
                        help="the query text, or `-` to read it from stdin")
    parser.add_argument("-f", "--file", metavar="FILE", help="read the query from FILE")


def _param_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p", "--params", nargs="+", action="extend", metavar="NAME=VALUE",
        help="bind :NAME; VALUE is read as JSON when it is JSON (min=18 is a number, "
             "'ids=[1,2]' a list, 'x=\"18\"' a string) and is a string otherwise (name=Ada)",
    )


def _backend_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-b", "--backend", choices=BACKEND_NAMES, default="memory",
                        help="the backend to compile for (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crossql`` command."""
    parser = _Parser(
        prog="crossql",
        description="One small query language for document stores, compiled per backend.",
        epilog="Exit status: 0 ok; 1 `check` found a backend that refuses the query; "
               "2 a query error, bad usage or unreadable data.",
    )
    parser.add_argument("--version", action="version", version=f"crossql {crossql.__version__}")
    parser.add_argument("--error-format", choices=("text", "json"), default="text",
                        help="how a query error is written to stderr (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)

    def command(name: str, handler: Callable[[argparse.Namespace], int],
                help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("parse", cmd_parse, "print the IR of a query as JSON")
    _query_args(p)

    p = command("fmt", cmd_fmt, "print the canonical text of a query")
    _query_args(p)

    p = command("compile", cmd_compile, "compile a query for a backend; print the plan as JSON")
    _backend_arg(p)
    _param_args(p)
    p.add_argument("--python", action="store_true",
                   help="print the equivalent hand-written code instead of the plan")
    _query_args(p)

    p = command("explain", cmd_explain, "say in words what a backend would run")
    _backend_arg(p)
    _param_args(p)
    _query_args(p)

    p = command("run", cmd_run, "run a query over documents from JSON files (embedded engine)")
    p.add_argument("-d", "--data", metavar="FILE", action="append", required=True,
                   help="a .json file (a list of documents, or an object mapping collection "
                        "names to lists) or a .jsonl file (a document per line); repeatable")
    p.add_argument("-c", "--collection", metavar="NAME",
                   help="the collection a list or .jsonl file holds (default: the file's stem)")
    _param_args(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json",
                     help="print the rows as a JSON array")
    fmt.add_argument("--jsonl", dest="format", action="store_const", const="jsonl",
                     help="print one JSON row per line")
    p.set_defaults(format="table")
    _query_args(p)

    p = command("check", cmd_check,
                "compile a query for every backend: which accept it, which refuse and why")
    _param_args(p)
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    _query_args(p)
    return parser


def _note(err: crossql.QueryError) -> str | None:
    """A command-line hint beside the library's own (which speaks of Python calls)."""
    match = re.search(r"parameter `:(\w+)` is not bound", err.message)
    if match:
        gutter = " " * (len(str(err.line)) + 2)
        return f"{gutter}= on the command line: --params {match.group(1)}=VALUE"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except crossql.QueryError as err:
        _print_query_error(err, args.error_format, _note(err))
        return EXIT_USAGE
    except UsageError as err:
        _print_usage_error(err)
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader went away (`crossql run ... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("CROSSQL_DEBUG"):
            raise
        sys.stderr.write(f"crossql: internal error: {type(exc).__name__}: {exc}\n"
                         "  = hint: this is a bug in CrossQL; CROSSQL_DEBUG=1 shows the "
                         "traceback\n")
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
