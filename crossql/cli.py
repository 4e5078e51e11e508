"""The ``crossql`` command: the public API from a shell.

::

    crossql parse   "from users where age >= 18"                IR as JSON
    crossql fmt     "FROM users WHERE age>=18"                  canonical text
    crossql compile --backend mongodb -p min=18 "..."           plan as JSON
    crossql explain --backend mongodb "..."                     the plan in words
    crossql explain --config app.yaml --backend analytics "..." ... as that backend runs it
    crossql run     --data examples/shop.json "..."             rows (embedded engine)
    crossql run     --config app.yaml --backend analytics "..." rows from a real backend
    crossql check   "..."                                       which backends accept it
    crossql indexes suggest QUERIES...                          the indexes they need

Every subcommand takes the query as one argument, ``-`` to read it from stdin,
or ``--file FILE``. Output goes to stdout: plain text when it is not a
terminal, coloured (``rich``) when it is. Errors go to stderr, and so does the
progress indicator of a long ``run`` (only when stderr is a terminal).

Exit status (``EXIT_*`` below, docs/cli.md):

- 0 success;
- 1 ``check`` found a backend that refuses the query;
- 2 the query is wrong (its rendered frame on stderr), bad usage, an
  unreadable data file or an invalid configuration (every problem, with its path);
- 3 the backend failed while running a valid query (server unreachable, a
  missing table, a driver error): the query may work once the server does;
- 70 a bug in CrossQL (``CROSSQL_DEBUG=1`` shows the traceback);
- 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import decimal
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

import crossql
from crossql import ir
from crossql.backends import Plan, backend_names, get_backend
from crossql.backends.base import OptionsSpec, resolve
from crossql.errors import BackendError, ConfigError
from crossql.grammar import parse_query, parse_statement
from crossql.semantics.reference import type_of
from crossql.semantics.writes import WriteResult

if TYPE_CHECKING:
    from rich.live import Live
    from rich.spinner import Spinner

    from crossql.config import NoSQLConfig
    from crossql.indexes import IndexReport
    from crossql.queries import NamedQuery
    from crossql.runtime.store import Store

EXIT_OK = 0
"""Success."""
EXIT_REFUSED = 1
"""``check``: at least one backend refuses the query."""
EXIT_USAGE = 2
"""A query error, bad usage, unreadable input, or an invalid configuration."""
EXIT_BACKEND = 3
"""The backend failed while running a valid query (``crossql.BackendError``)."""
EXIT_BUG = 70
"""A bug in CrossQL (EX_SOFTWARE)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C."""

PROGRESS_AFTER = 0.5
"""Seconds a ``run`` streams before the progress indicator appears on stderr."""

_PARAM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_OPTION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


class UsageError(Exception):
    """A problem with the command line or its input files (not with the query)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# -- output ------------------------------------------------------------------------------------


def _print_text(out: Any) -> None:
    """Print a rich ``Text``: styled on a terminal, plain text otherwise."""
    console = _console()
    if console.is_terminal:
        console.print(out, end="")
    else:
        sys.stdout.write(out.plain)


def _console(stderr: bool = False) -> Console:
    # markup/highlight off: query text and data are printed as they are, never as rich markup
    return Console(stderr=stderr, markup=False, highlight=False, soft_wrap=True)


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def json_default(value: Any) -> Any:
    """JSON for the values drivers return beyond JSON's own: sets (DynamoDB ``SS``/``NS``)
    as sorted lists, bytes as base64 text, dates and times as ISO 8601, decimals as numbers,
    a Firestore reference as its path and a geopoint as ``{"latitude": .., "longitude": ..}``
    (docs/backends/firestore.md, "Value kinds"); anything else as its ``str``."""
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return sorted(value, key=repr)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    kind = type_of(value)
    if kind == "reference":
        return value.path
    if kind == "geopoint":
        return {"latitude": value.latitude, "longitude": value.longitude}
    return str(value)


def dumps(value: Any, indent: int | None = None) -> str:
    """A row or value as JSON text (non-ASCII kept, driver types by ``json_default``)."""
    return json.dumps(value, indent=indent, ensure_ascii=False, default=json_default)


def _print_json(data: Any) -> None:
    out = _console()
    text = dumps(data, indent=2)
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


def _print_usage_error(err: UsageError, details: Sequence[str] = ()) -> None:
    console = _console(stderr=True)
    text = Text()
    text.append("crossql: ")
    text.append("error: ", style="bold red")
    text.append(err.message + "\n")
    for line in details:
        text.append(f"  - {line}\n")
    if err.hint:
        text.append(f"  = hint: {err.hint}\n", style="cyan")
    if console.is_terminal:
        console.print(text, end="")
    else:
        sys.stderr.write(text.plain)


def _print_config_error(err: ConfigError, error_format: str) -> None:
    if error_format == "json":
        sys.stderr.write(dumps({"error": "ConfigError", "problems": [
            {"path": path, "message": message} for path, message in err.problems]}) + "\n")
        return
    count = len(err.problems)
    _print_usage_error(
        UsageError(f"invalid configuration ({count} problem{'s' if count != 1 else ''}):",
                   hint="docs/configuration.md lists every key"),
        [f"{path}: {message}" for path, message in err.problems])


def _print_backend_error(err: BackendError, error_format: str) -> None:
    if error_format == "json":
        sys.stderr.write(dumps({"error": "BackendError", "backend": err.backend,
                                "message": err.message}) + "\n")
        return
    _print_usage_error(UsageError(
        f"{err.backend} failed: {err.message}",
        hint=f"the query is valid; check that the {err.backend} server is reachable at the "
             "configured endpoint and holds what the query reads"))
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


def parse_option(item: str) -> tuple[str, str, Any]:
    """``backend.key=value`` (``firestore.native_or=true``): the value is read as JSON when
    it is JSON, as for ``--params``."""
    match = _OPTION.fullmatch(item)
    if match is None:
        raise UsageError(f"--option takes BACKEND.KEY=VALUE, not {item!r}",
                         hint="for example --option firestore.native_or=true")
    backend, key, raw = match.groups()
    if backend not in backend_names():
        raise UsageError(f"--option {item}: unknown backend {backend!r}",
                         hint=f"the backends are {', '.join(backend_names())}")
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except ValueError:
        value = raw
    return backend, key, value


def _validated_options(backend: str, raw: dict[str, Any]) -> Any:
    """The backend's own options model for ``raw``; a usage error naming each bad key."""
    options = get_backend(backend).options
    if options is None:
        taking = [f"{name} ({', '.join(resolve(spec.model).model_fields)})"
                  for name, spec in _options_specs()]
        raise UsageError(f"{backend} takes no options",
                         hint=f"options exist for {_and(taking)}")
    try:
        return resolve(options.coerce)(raw)
    except ConfigError as err:
        raise UsageError("; ".join(f"--option {backend}.{path}: {message}"
                                   for path, message in err.problems)) from None


def _options_specs() -> list[tuple[str, OptionsSpec]]:
    """The backends that take compile options, and their options."""
    found = [(name, get_backend(name).options) for name in backend_names()]
    return [(name, spec) for name, spec in found if spec is not None]


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _flag(backend: str, option: str) -> str:
    """The switch that sets a boolean option (``--firestore-native-or``)."""
    return f"--{backend}-{option.replace('_', '-')}"


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Backend name → validated options, from ``--option`` and the shortcut flags."""
    raw: dict[str, dict[str, Any]] = {}
    for item in getattr(args, "option", None) or []:
        backend, key, value = parse_option(item)
        raw.setdefault(backend, {})[key] = value
    for backend, spec in _options_specs():
        for option in spec.flags:
            if getattr(args, f"{backend}_{option}", False):
                raw.setdefault(backend, {})[option] = True
    return {backend: _validated_options(backend, values) for backend, values in raw.items()}


def _schemas(args: argparse.Namespace) -> dict[str, Any]:
    """Backend name → schema, from the ``--schema`` file (JSON or YAML)."""
    path = getattr(args, "schema", None)
    if path is None:
        return {}
    text = _read_text(path)
    if path.endswith((".yaml", ".yml")):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: not valid YAML: {exc}") from None
    else:
        data = _json(path, text)
    names = ", ".join(backend_names())
    hint = ('e.g. {"orders": {"fields": {"total": "float"}, "required": ["total"], '
            '"closed": true}} for every backend, or {"dynamodb": {"music": '
            '{"partition_key": "Artist", "sort_key": "SongTitle"}}, "firestore": '
            '{"users": {"required": ["age"]}}}')
    if not isinstance(data, dict):
        raise UsageError(f"{path} must map backend names ({names}) to their schema, or "
                         "collection names to their declarations", hint=hint)
    from crossql.portability import per_backend

    try:
        return per_backend(data)
    except (TypeError, ConfigError) as err:
        problem = str(err) if isinstance(err, TypeError) else "; ".join(
            f"{where}: {message}" for where, message in err.problems)
        if set(data) <= set(backend_names()):
            raise UsageError(f"{path}: {problem}") from None
        raise UsageError(f"{path} must map backend names ({names}) to their schema, or "
                         f"collection names to their declarations: {problem}",
                         hint=hint) from None


@contextlib.contextmanager
def _schema_errors(args: argparse.Namespace) -> Iterator[None]:
    """A schema of the wrong shape is a usage error naming the ``--schema`` file (the
    compilers raise ``TypeError`` for it; DynamoDB key schemas raise ``ConfigError``)."""
    try:
        yield
    except TypeError as err:
        if not getattr(args, "schema", None):
            raise
        raise UsageError(f"{args.schema}: {err}") from None
    except ConfigError as err:
        if not getattr(args, "schema", None):
            raise
        raise UsageError(f"{args.schema}: " + "; ".join(f"{path}: {message}"
                                                        for path, message in err.problems)
                         ) from None


def _load_config(args: argparse.Namespace, *, from_env: bool = False
                 ) -> tuple[NoSQLConfig, str] | None:
    """The configuration ``--config`` names (or, with ``from_env``, ``CROSSQL_CONFIG``),
    with the environment's overrides applied, and its path; None when there is none."""
    from crossql.config import load_config

    path = args.config or (os.environ.get("CROSSQL_CONFIG") if from_env else None)
    if not path:
        return None
    if not Path(path).is_file():
        raise UsageError(f"configuration file not found: {path}",
                         hint="--config takes a YAML file with a `nosql:` section "
                              "(docs/configuration.md)")
    return load_config(path), path


def _backend_list(cfg: NoSQLConfig) -> str:
    return ", ".join([f"default ({cfg.driver})", *(f"{b.name} ({b.driver})"
                                                   for b in cfg.backends)])


def _configured_store(args: argparse.Namespace, cfg: NoSQLConfig, origin: str) -> Store:
    """The store of the backend ``--backend`` names in the configuration (default: the
    primary); not opened yet."""
    name = args.backend or cfg.primary_name
    known = ["default", *(b.name for b in cfg.backends)]
    if name not in known:
        raise UsageError(f"no backend named {name!r} in {origin}; it has {_backend_list(cfg)}",
                         hint="--backend takes a name of the config's `backends:` list, or "
                              "`default` for the top-level driver")
    return crossql.connect(cfg).backend(name)


# -- subcommands -------------------------------------------------------------------------------


def cmd_parse(args: argparse.Namespace) -> int:
    _print_json(ir.to_dict(crossql.parse(_query_text(args))))
    return EXIT_OK


def cmd_fmt(args: argparse.Namespace) -> int:
    _write(crossql.format(_query_text(args)))
    return EXIT_OK


def _compile(args: argparse.Namespace, text: str | None = None,
             params: dict[str, Any] | None = None) -> Plan:
    """The plan of ``compile``/``explain``: for a driver (``--backend``, ``--option``,
    ``--schema``), or as a configured backend's store plans it (``--config``)."""
    params = _params(args) if params is None else params
    text = _query_text(args) if text is None else text
    options = _options(args)
    schemas = _schemas(args)
    loaded = _load_config(args)
    if loaded is not None:
        if options or schemas:
            raise UsageError("with --config, options come from the backend's block of the "
                             "configuration; --option, --firestore-* and --schema apply "
                             "without --config")
        cfg, origin = loaded
        crossql.parse(text)  # a syntax error is reported before anything else
        store = _configured_store(args, cfg, origin)
        if args.live:
            return asyncio.run(_live_plan(store, text, params))
        return store.plan(text, params)
    if args.live:
        raise UsageError("--live asks a configured backend's server: give --config FILE")
    backend = args.backend or "memory"
    if backend not in backend_names():
        raise UsageError(f"unknown backend {backend!r} (choose from "
                         f"{', '.join(backend_names())})",
                         hint="with --config FILE, --backend names a backend of that file")
    others = sorted(set(options) - {backend})
    if others:
        raise UsageError(f"--option for {', '.join(others)} does not apply to "
                         f"--backend {backend}")
    with _schema_errors(args):
        return crossql.compile(text, backend=backend, params=params,
                               schema=schemas.get(backend), options=options.get(backend))


async def _live_plan(store: Store, text: str, params: Mapping[str, Any]) -> Plan:
    """The plan after asking the server what planning depends on (DynamoDB: the table's
    key schema and indexes, by ``DescribeTable``)."""
    await store.open()
    try:
        describe = getattr(store, "describe", None)
        if callable(describe):
            await describe(crossql.parse(text).collection)
        return store.plan(text, params)
    finally:
        await store.close()


def cmd_compile(args: argparse.Namespace) -> int:
    named = _file_queries(args)
    if named is not None:
        return _compile_file(args, named)
    plan = _compile(args)
    if args.python:
        _write(plan.to_python())
    else:
        _print_json(plan.to_dict())
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    named = _file_queries(args)
    if named is not None:
        return _compile_file(args, named)
    params = _params(args)  # first: it takes the query a greedy --params swallowed
    text = _query_text(args)
    plan = _compile(args, text, params)
    _write(plan.explain() + _index_line(args, text, plan))
    return EXIT_OK


def _index_line(args: argparse.Namespace, text: str, plan: Plan) -> str:
    """The index the plan is expected to use (crossql/indexes/check.py), as a last line of
    ``explain``; nothing where the plan says it (DynamoDB) or no index applies."""
    from crossql.indexes.check import index_note

    if getattr(plan, "static_rows", None) is not None or getattr(plan, "document", None):
        return ""
    schema = None if getattr(args, "config", None) else _schemas(args).get(plan.backend)
    note = index_note(crossql.parse(text), plan.backend, schema)
    return "" if note is None else f"\n  {note}"


class RowSink:
    """Where ``run`` puts rows: JSON lines are written (and flushed) as each row arrives;
    a table or a JSON array needs them all and is printed by ``finish``."""

    def __init__(self, fmt: str, *, paged: bool = False) -> None:
        self.format = fmt
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self.paged = paged
        self.next_cursor: str | None = None
        """With ``--page-size``: the page's ``next_cursor`` (None on the last page)."""

    def add(self, row: dict[str, Any]) -> None:
        """Take one row."""
        self.count += 1
        if self.format == "jsonl":
            sys.stdout.write(dumps(row) + "\n")
            sys.stdout.flush()
        else:
            self.rows.append(row)

    def finish(self) -> None:
        """Print what was kept: the JSON array, or the table and its row count; a page's
        next cursor on stderr (and, with ``--json``, beside its rows)."""
        if self.paged:
            sys.stderr.write(f"next cursor: {self.next_cursor}\n" if self.next_cursor
                             else "(last page: no next cursor)\n")
        if self.format == "json" and self.paged:
            _print_json({"rows": self.rows, "next_cursor": self.next_cursor})
        elif self.format == "json":
            _print_json(self.rows)
        elif self.format == "table":
            if self.rows:
                _print_renderable(rows_table(self.rows))
            _write(f"({self.count} row{'' if self.count == 1 else 's'})")


class Progress:
    """Rows so far, on stderr, while a ``run`` streams: a spinner with the count and the
    time that appears after ``PROGRESS_AFTER`` seconds (also when no row has arrived yet:
    a Scan may read a long time before a row matches) and disappears when the stream ends.

    Only when stderr is a terminal, and not when JSON lines go to the same kind of
    terminal (there the rows themselves show progress). Never writes to stdout.
    """

    def __init__(self, fmt: str) -> None:
        self.console = _console(stderr=True)
        self.enabled = _isatty(sys.stderr) and self.console.is_terminal and \
            not self.console.is_dumb_terminal and not (fmt == "jsonl" and _isatty(sys.stdout))
        self.count = 0
        self.started = time.monotonic()
        self._live: Live | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Arm the timer that shows the indicator (call inside the event loop)."""
        if self.enabled:
            self._timer = asyncio.get_running_loop().call_later(PROGRESS_AFTER, self._show)

    def text(self) -> str:
        """What the indicator says now."""
        seconds = time.monotonic() - self.started
        return f"{self.count:,} row{'' if self.count == 1 else 's'} so far ({seconds:.1f} s)"

    def _show(self) -> None:
        from rich.live import Live

        # no redirection: rich would otherwise route stdout (the rows) through stderr
        self._live = Live(_Indicator(self), console=self.console, transient=True,
                          refresh_per_second=10, redirect_stdout=False, redirect_stderr=False)
        self._live.start()

    def row(self) -> None:
        """Count one row (the indicator reads the count when it refreshes)."""
        self.count += 1

    def stop(self) -> None:
        """Remove the indicator (it leaves no line behind)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._live is not None:
            self._live.stop()
            self._live = None


class _Indicator:
    """The spinner, its text recomputed at each refresh."""

    def __init__(self, progress: Progress) -> None:
        from rich.spinner import Spinner

        self.progress = progress
        self.spinner = Spinner("dots", style="cyan")

    def __rich__(self) -> Spinner:
        self.spinner.update(text=self.progress.text())
        return self.spinner


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


async def stream_rows(store: Store, text: str, params: Mapping[str, Any],
                      sink: RowSink) -> None:
    """Open ``store``, stream the query's rows into ``sink`` (with ``Progress``), close."""
    progress = Progress(sink.format)
    await store.open()
    try:
        progress.start()
        rows: AsyncIterator[dict[str, Any]] = store.stream(text, **params)
        async for row in rows:
            sink.add(row)
            progress.row()
    finally:
        progress.stop()
        await store.close()


async def _with_timeout(work: Coroutine[Any, Any, None], seconds: float | None,
                        backend: str) -> None:
    try:
        await asyncio.wait_for(work, seconds)
    except TimeoutError:
        raise BackendError(backend, f"no complete answer within {seconds:g} s "
                                    "(--timeout)") from None


async def page_rows(store: Store, text: str, params: Mapping[str, Any], sink: RowSink,
                    size: int, after: str | None, *, opened: bool = False) -> None:
    """Open ``store`` (unless ``opened``), read one page of the query into ``sink``, close."""
    if not opened:
        await store.open()
    try:
        page = await store.page(text, size=size, after=after, **params)
        for row in page.rows:
            sink.add(row)
        sink.next_cursor = page.next_cursor
    finally:
        if not opened:
            await store.close()


def _page_on_data(args: argparse.Namespace, text: str, params: Mapping[str, Any],
                  sink: RowSink) -> None:
    from crossql.backends.memory.store import MemoryStore

    query = parse_query(text)
    docs = _data_collection(args, query.collection)

    async def run() -> None:
        store = MemoryStore()
        await store.collection(query.collection).insert_many(docs)
        await page_rows(store, text, params, sink, args.page_size, args.after, opened=True)

    asyncio.run(run())


def cmd_run(args: argparse.Namespace) -> int:
    params = _params(args)
    text = _query_text(args)
    if args.data and args.config:
        raise UsageError("give --data FILE (the embedded engine) or --config FILE (configured "
                         "backends), not both")
    if args.after is not None and args.page_size is None:
        raise UsageError("--after CURSOR resumes a page walk: give --page-size N too")
    if args.page_size is not None and _is_write(text):
        raise UsageError("--page-size pages the rows of a read query; this is a write")
    sink = RowSink(args.format, paged=args.page_size is not None)
    loaded = None if args.data else _load_config(args, from_env=True)
    if loaded is None:
        if not args.data:
            raise UsageError("nothing to run the query on",
                             hint="give --data FILE.json (documents for the embedded engine) "
                                  "or --config FILE.yaml (a `nosql:` configuration)")
        if args.backend is not None or args.timeout is not None:
            flag = "--backend" if args.backend is not None else "--timeout"
            raise UsageError(f"{flag} applies to --config FILE; --data runs on the "
                             "embedded engine")
        if sink.paged:
            _page_on_data(args, text, params, sink)
        else:
            for row in _run_on_data(args, text, params):
                sink.add(row)
    else:
        if args.collection is not None:
            raise UsageError("--collection names the documents of a --data file")
        cfg, origin = loaded
        # syntax and semantic errors (an unbound parameter) before any connection
        crossql.compile(text, backend="memory", params=params)
        store = _configured_store(args, cfg, origin)
        work = (execute_write(store, text, params, sink) if _is_write(text)
                else page_rows(store, text, params, sink, args.page_size, args.after)
                if sink.paged else stream_rows(store, text, params, sink))
        asyncio.run(_with_timeout(work, args.timeout, store.driver))
    sink.finish()
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    """``crossql watch``: a live query's changes as JSON lines until interrupted (or
    ``--count`` changes); docs/live-queries.md."""
    params, text = _params(args), _query_text(args)
    loaded = _load_config(args, from_env=True)
    if loaded is None:
        raise UsageError("nothing to watch", hint="give --config FILE.yaml")
    crossql.compile(text, backend="memory", params=params)  # query errors before connecting
    store = _configured_store(args, *loaded)

    async def watch() -> None:
        async with store, store.watch(text, initial=args.initial, **params) as changes:
            seen = 0
            while args.count is None or seen < args.count:
                change = await changes.__anext__()
                sys.stdout.write(json.dumps(change.to_dict(), ensure_ascii=False,
                                            default=json_default) + "\n")
                sys.stdout.flush()
                seen += 1

    with contextlib.suppress(StopAsyncIteration):
        asyncio.run(watch())
    return EXIT_OK


def _is_write(text: str) -> bool:
    return isinstance(parse_statement(text), ir.Update | ir.Delete)


def _write_row(result: WriteResult) -> dict[str, Any]:
    return {"matched": result.matched, "modified": result.modified, "deleted": result.deleted}


async def execute_write(store: Store, text: str, params: Mapping[str, Any],
                        sink: RowSink) -> None:
    """Open ``store``, run the ``update``/``delete`` and put its counts into ``sink``."""
    await store.open()
    try:
        sink.add(_write_row(await store.execute(text, **params)))
    finally:
        await store.close()


def _run_on_data(args: argparse.Namespace, text: str,
                 params: Mapping[str, Any]) -> list[dict[str, Any]]:
    statement = parse_statement(text)
    if isinstance(statement, ir.Update | ir.Delete):
        return [_write_on_data(args, statement, params)]
    query = parse_query(text)
    return crossql.evaluate(query, _data_collection(args, query.collection), params=params)


def _data_collection(args: argparse.Namespace, name: str) -> list[Any]:
    """The documents of collection ``name`` in the ``--data`` files."""
    collections = load_collections(args.data, args.collection)
    docs = collections.get(name)
    if docs is None:
        files = ", ".join(args.data)
        hint = ("name the file's documents with --collection " + name
                if len(collections) == 1 and not args.collection else None)
        raise UsageError(f"no collection `{name}` in {files}; "
                         f"it holds {_names(collections)}", hint=hint)
    return docs


def _write_on_data(args: argparse.Namespace, statement: ir.Update | ir.Delete,
                   params: Mapping[str, Any]) -> dict[str, Any]:
    """A write on the embedded engine: what it would do to the files' documents (a dry
    run: the files are not changed)."""
    from crossql.backends.memory.store import MemoryStore

    docs = _data_collection(args, statement.collection)
    plan = crossql.compile(statement, backend="memory", params=params)

    async def run() -> WriteResult:
        store = MemoryStore()
        await store.collection(statement.collection).insert_many(docs)
        return await store.execute_plan(plan)

    result = asyncio.run(run())
    sys.stderr.write("(dry run on the embedded engine: the data files are not changed)\n")
    return _write_row(result)


def cell(value: Any) -> Text:
    """One value as a table cell: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return Text(value)
    if value is None:
        return Text("null", style="dim")
    return Text(json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                           default=json_default))


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
    named = _file_queries(args)
    if named is not None:
        return _check_file(args, named)
    params = _params(args)
    text = _query_text(args)
    schemas, options = _schemas(args), _options(args)
    with _schema_errors(args):
        verdicts = crossql.check(text, params=params, schema=schemas or None,
                                 options=options or None)
    if args.json:
        _print_json([verdict.to_dict() for verdict in verdicts])
    else:
        _print_check(verdicts)
    return EXIT_OK if all(v.accepted for v in verdicts) else EXIT_REFUSED


def _print_check(verdicts: Sequence[crossql.Verdict]) -> None:
    width = max(len(v.backend) for v in verdicts)
    out = Text()
    for verdict in verdicts:
        out.append(verdict.backend.ljust(width + 2), style="bold")
        if verdict.plan is not None:
            out.append("accepted", style="bold green")
            out.append(f"  {verdict.plan.summary()}\n")
        else:
            assert verdict.error is not None
            out.append("refused", style="bold red")
            out.append(f"   {verdict.error.message}\n")
    for verdict in verdicts:
        if verdict.error is not None:
            out.append(f"\n{verdict.backend}:\n", style="bold")
            out.append(verdict.error.render() + "\n")
            note = _note(verdict.error)
            if note:
                out.append(note + "\n")
    _print_text(out)


# -- query files (crossql/queries.py): FILE.crossql[:name] in place of a query -----------------

_QUERY_FILE = re.compile(r"(?P<path>[^\n]*\.crossql)(?::(?P<name>[A-Za-z_][A-Za-z0-9_]*))?")


def _file_queries(args: argparse.Namespace) -> list[NamedQuery] | None:
    """The queries a ``FILE.crossql`` or ``FILE.crossql:name`` argument names (every
    query of the file without ``:name``); None when the argument is a query."""
    from crossql.queries import load_queries

    candidate, params = args.query, list(getattr(args, "params", None) or [])
    if candidate is None and params and not _PARAM.fullmatch(params[-1]):
        candidate = params.pop()  # `--params k=v FILE.crossql`: the greedy list took it
    match = _QUERY_FILE.fullmatch(candidate or "") if args.file is None else None
    if match is None:
        return None
    args.query, args.params = candidate, params
    args.file_params = _params(args)
    path = match.group("path")
    if not Path(path).is_file():
        raise UsageError(f"query file not found: {path}")
    queries = load_queries(path)
    name = match.group("name")
    if name is None:
        return list(queries)
    if name not in queries:
        raise UsageError(f"{path} has no query named {name!r}",
                         hint=f"its queries are {', '.join(queries.names) or '(none)'}")
    return [queries[name]]


def _in_file(query: NamedQuery, err: crossql.QueryError) -> crossql.QueryError:
    """``err`` rendered against the query file; an unbound parameter's hint says where
    the file gives its value."""
    located = query.located(err)
    if err.code == "semantic.unbound-parameter":
        name = re.search(r"`:(\w+)`", err.message)
        located.hint = (f'give the query an example under its `-- name:` line: '
                        f'-- example: {{"{name.group(1) if name else "name"}": ...}}')
        located.args = (located.render(),)
    return located


def _file_params(args: argparse.Namespace, query: NamedQuery) -> dict[str, Any]:
    """The query's ``-- example:`` values, with the ``--params`` it uses over them."""
    given: dict[str, Any] = args.file_params
    names = query.param_names
    return {**(query.example or {}), **{k: v for k, v in given.items() if k in names}}


def _compile_file(args: argparse.Namespace, queries: Sequence[NamedQuery]) -> int:
    """``compile``/``explain`` of the queries of a file: one plan, or each query's under
    its name (a JSON object of plans for ``compile``)."""
    plans: dict[str, Plan] = {}
    for query in queries:
        try:
            plans[query.name] = _compile(args, query.text, _file_params(args, query))
        except crossql.QueryError as err:
            raise _in_file(query, err) from None
    if args.command == "compile" and not args.python:
        _print_json(next(iter(plans.values())).to_dict() if len(plans) == 1 else
                    {name: plan.to_dict() for name, plan in plans.items()})
        return EXIT_OK
    parts = []
    for name, plan in plans.items():
        text = plan.explain() if args.command == "explain" else plan.to_python()
        lead = "--" if args.command == "explain" else "#"
        parts.append(text if len(plans) == 1 else f"{lead} {name}\n{text}")
    _write("\n\n".join(parts))
    return EXIT_OK


def _check_file(args: argparse.Namespace, queries: Sequence[NamedQuery]) -> int:
    """``check FILE.crossql``: every query by every backend; exit 1 when a query is
    refused by a backend it must run on (its ``-- backends:``, else every backend)."""
    schemas, options = _schemas(args), _options(args)
    rows: list[tuple[NamedQuery, list[crossql.Verdict]]] = []
    for query in queries:
        try:
            with _schema_errors(args):
                verdicts = crossql.check(query.text, params=_file_params(args, query),
                                         schema=schemas or None, options=options or None)
        except crossql.QueryError as err:
            raise _in_file(query, err) from None
        rows.append((query, verdicts))
    failed = any(not v.accepted and v.backend in (q.backends or backend_names())
                 for q, verdicts in rows for v in verdicts)
    if args.json:
        _print_json([{"query": q.name, "line": q.line, "backends": list(q.backends or
                                                                        backend_names()),
                      "verdicts": [_file_verdict(q, v) for v in verdicts]}
                     for q, verdicts in rows])
    else:
        _print_check_file(rows)
    return EXIT_REFUSED if failed else EXIT_OK


def _file_verdict(query: NamedQuery, verdict: crossql.Verdict) -> dict[str, Any]:
    if verdict.error is None:
        return verdict.to_dict()
    located = query.located(verdict.error)
    assert isinstance(located, crossql.CapabilityError)
    return crossql.Verdict(verdict.backend, error=located).to_dict()


def _print_check_file(rows: Sequence[tuple[NamedQuery, list[crossql.Verdict]]]) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("query")
    for name in backend_names():
        table.add_column(name)
    for query, verdicts in rows:
        targets = query.backends or backend_names()
        cells = [Text(query.name, style="bold")]
        for verdict in verdicts:
            if verdict.accepted:
                cells.append(Text("accepted", style="green"))
            elif verdict.backend in targets:
                cells.append(Text("REFUSED", style="bold red"))
            else:
                cells.append(Text("refused (not a target)", style="dim"))
        table.add_row(*cells)
    _print_renderable(table)
    out = Text()
    for query, verdicts in rows:
        for verdict in verdicts:
            if verdict.error is None:
                continue
            if verdict.backend not in (query.backends or backend_names()):
                out.append(f"\n{query.name} on {verdict.backend} (not one of its backends): "
                           f"{verdict.error.message}\n", style="dim")
                continue
            out.append(f"\n{query.name} on {verdict.backend}:\n", style="bold")
            err = query.located(verdict.error)
            out.append(err.render() + "\n")
            note = _note(err)
            if note:
                out.append(note + "\n")
    _print_text(out)


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


def _option_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--option", action="append", metavar="BACKEND.KEY=VALUE",
        help="a compile option of one backend, VALUE read as JSON when it is JSON "
             "(firestore.native_or=true, dynamodb.allow_scan=false); repeatable")
    for backend, spec in _options_specs():
        for option, text in spec.flags.items():
            parser.add_argument(_flag(backend, option), action="store_true",
                                help=f"the same as --option {backend}.{option}=true: {text}")
    parser.add_argument(
        "--schema", metavar="FILE",
        help="a JSON or YAML file declaring collections (docs/schemas.md): collection "
             "names to their declarations (fields and kinds, required, closed, DynamoDB "
             "keys) for every backend, or backend names to each one's schema")


def _config_arg(parser: argparse.ArgumentParser, *, run: bool) -> None:
    parser.add_argument(
        "--config", metavar="FILE",
        help="a YAML file with a `nosql:` section; environment variables override it "
             "(docs/configuration.md)" + ("; default: $CROSSQL_CONFIG" if run else ""))


def _backend_arg(parser: argparse.ArgumentParser, *, run: bool) -> None:
    if run:
        text = ("with --config, the named backend to run on (default: the primary; "
                "`default` is the top-level driver)")
    else:
        text = (f"a backend ({', '.join(backend_names())}; default: memory); with --config, "
                "a named backend of the file (default: its primary)")
    parser.add_argument("-b", "--backend", metavar="NAME", help=text)


def _page_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of rows: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"a page holds at least one row, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a timeout is a positive number, not {text}")
    return value


# -- indexes (crossql/indexes, docs/indexes.md) -------------------------------------------------

def read_queries(items: Sequence[str]) -> list[tuple[str, ir.Statement]]:
    """(label, statement) of every query the arguments give: a query's text, a
    ``.crossql`` file (labelled by the queries' names), or a file of one query per line
    (blank lines and ``--``/``#`` lines skipped; labelled ``FILE:LINE``)."""
    from crossql.indexes.sources import DATA_SUFFIXES, SourceError, module_path
    from crossql.queries import FILE_SUFFIX, load_queries

    out: list[tuple[str, ir.Statement]] = []
    for item in items:
        path = Path(item)
        module = module_path(item) if "\n" not in item and len(item) < 4096 else None
        if item.endswith(FILE_SUFFIX):
            if not path.is_file():
                raise UsageError(f"query file not found: {item}")
            out += [(q.name, _with_example(q.statement, q.example))
                    for q in load_queries(item)]
        elif module is not None or item.endswith(DATA_SUFFIXES):
            try:
                out += _source_queries(module or path, module is not None)
            except SourceError as err:
                raise UsageError(str(err), hint=_SOURCES_HINT) from None
        elif "\n" not in item and len(item) < 4096 and path.is_file():
            for number, line in enumerate(_read_text(item).splitlines(), 1):
                text = line.strip()
                if text and not text.startswith(("--", "#")):
                    out.append((f"{item}:{number}", parse_statement(text)))
        else:
            out.append((item, parse_statement(item)))
    if not out:
        raise UsageError("no queries given",
                         hint='give query texts, a .crossql file or a file of one query per '
                              'line: crossql indexes suggest "from users where age > 3"')
    return out


_SOURCES_HINT = ("a Python module's queries are its module-level `..._QUERY` strings and "
                 "its `CROSSQL_QUERIES` tuple or dict; a YAML/JSON file lists {name, query} "
                 "(docs/indexes.md)")


def _source_queries(path: Path, python: bool) -> list[tuple[str, ir.Statement]]:
    """(label, statement) of a Python module's query constants or a YAML/JSON query list
    (crossql/indexes/sources.py); a corpus entry's ``params`` bind as examples do."""
    from crossql.indexes.sources import data_queries, python_queries

    if not path.is_file():
        raise UsageError(f"file not found: {path}")
    text = _read_text(str(path))
    found = python_queries(path, text) if python else data_queries(path, text)
    out = []
    for q in found:
        try:
            statement = parse_statement(q.text)
        except crossql.QueryError as err:
            if q.offset is None:
                raise err.in_file(q.text, 0, f"{path} {q.label}") from None
            raise err.in_file(text, q.offset, str(path), f" ({q.label})") from None
        out.append((q.label, _with_example(statement, q.params)))
    return out


def _with_example(statement: ir.Statement, example: Mapping[str, Any] | None
                  ) -> ir.Statement:
    """The statement with its ``-- example:`` values bound, where they bind: a literal
    tells a DynamoDB key's type (a parameter does not)."""
    from crossql.compiler.checks import bind, check_query

    if example is None or not isinstance(statement, ir.Query):
        return statement
    try:
        return bind(check_query(statement), example)
    except crossql.QueryError:
        return statement


def cmd_indexes_suggest(args: argparse.Namespace) -> int:
    """``crossql indexes suggest``: per backend, the fewest indexes that serve the queries."""
    from crossql.indexes import INDEX_BACKENDS, suggest

    backends = [args.backend] if args.backend else list(INDEX_BACKENDS)
    if args.backend and args.backend not in INDEX_BACKENDS:
        raise UsageError(f"no index rules for backend {args.backend!r} (choose from "
                         f"{', '.join(INDEX_BACKENDS)})")
    if args.format == "firestore" and backends != ["firestore"]:
        raise UsageError("--format firestore prints firestore.indexes.json: give "
                         "--backend firestore")
    report = suggest(read_queries(args.queries), _schemas(args) or None, backends)
    if args.format == "firestore":
        _print_json(report.firestore_json())
    elif args.format == "json":
        _print_json(report.to_dict())
    else:
        _print_renderable(index_table(report))
    return EXIT_OK


def cmd_indexes_apply(args: argparse.Namespace) -> int:
    """``crossql indexes apply``: create the declared indexes that are missing on a
    configured backend (MongoDB, DynamoDB), or write Firestore's firestore.indexes.json."""
    from crossql.indexes.ensure import declared_for, firestore_indexes_file

    loaded = _load_config(args, from_env=True)
    if loaded is None:
        raise UsageError("indexes apply needs a configuration: --config FILE (or "
                         "CROSSQL_CONFIG)")
    cfg, origin = loaded
    store = _configured_store(args, cfg, origin)
    driver = store.driver
    from crossql.indexes.model import entry_indexes, schema_collections

    pairs = schema_collections((_schemas(args) or {}).get(driver)) or ()
    declared = {str(name): raw for name, raw in
                ((name, entry_indexes(entry, driver)[0]) for name, entry in pairs) if raw}
    if not declared:
        raise UsageError(f"no {driver} indexes declared",
                         hint=f"give --schema FILE with `{driver}: {{collection: {{indexes: "
                              "[...]}}}}` (docs/indexes.md)")
    if driver == "firestore" and args.prune:
        raise UsageError("--prune drops indexes on MongoDB and DynamoDB; for Firestore, "
                         "edit firestore.indexes.json (`firebase deploy` asks before "
                         "deleting the indexes it does not list)")
    if driver == "firestore":
        outcomes = firestore_indexes_file(declared_for(driver, declared), args.out)
    elif driver in ("mongodb", "dynamodb"):
        async def apply() -> list[Any]:
            async with store:
                return list(await store.ensure_indexes(  # type: ignore[attr-defined]
                    declared, prune=args.prune))
        outcomes = asyncio.run(apply())
    else:
        raise UsageError(f"the {driver} backend has no indexes to create")
    if args.json:
        _print_json([o.to_dict() for o in outcomes])
    else:
        table = Table(title=f"indexes on {driver}")
        for name in ("collection", "index", "status", "detail"):
            table.add_column(name)
        for o in outcomes:
            table.add_row(o.collection, o.index, o.status, o.detail)
        _print_renderable(table)
    return EXIT_OK


def index_table(report: IndexReport) -> Table:
    """The report as a table: one row per index, then the queries no index serves."""
    table = Table(title="indexes that serve the queries")
    for name in ("backend", "collection", "index", "status", "serves"):
        table.add_column(name)
    for backend, suggestions in report.indexes.items():
        for s in suggestions:
            table.add_row(backend, s.collection, s.index.text(),
                          "declared" if s.declared else "missing", "\n".join(s.queries))
        for u in report.unindexed.get(backend, ()):
            table.add_row(backend, u.collection, "(none)", "unindexed",
                          f"{u.query}\n  {u.reason}")
    return table


def _indexes_parser(sub: Any) -> None:
    """``indexes`` and its subcommands, on the ``crossql`` parser's subparsers."""
    from crossql.indexes import INDEX_BACKENDS

    p = sub.add_parser("indexes", help="derive, check and create indexes (docs/indexes.md)",
                       description="derive, check and create indexes (docs/indexes.md)")
    inner = p.add_subparsers(dest="indexes_command", metavar="SUBCOMMAND", required=True,
                             parser_class=_Parser)
    s = inner.add_parser("suggest", help="print per backend the fewest indexes that serve "
                                         "the queries, and which query each serves")
    s.set_defaults(handler=cmd_indexes_suggest)
    s.add_argument("queries", nargs="*", metavar="QUERY",
                   help="a query, a .crossql file, a file of one query per line, a "
                        "Python module (x.py or pkg.mod: its ..._QUERY strings and "
                        "CROSSQL_QUERIES), or a YAML/JSON list of {name, query}")
    s.add_argument("--schema", metavar="FILE",
                   help="a JSON or YAML file mapping backend names to their schema per "
                        "collection; its `indexes` lists are the declared indexes")
    s.add_argument("-b", "--backend", metavar="NAME",
                   help=f"one backend ({', '.join(INDEX_BACKENDS)}; default: all)")
    fmt = s.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json",
                     help="print the report as JSON")
    fmt.add_argument("--format", dest="format", choices=("table", "json", "firestore"),
                     help="table (default), json, or firestore: a deployable "
                          "firestore.indexes.json (with --backend firestore)")
    s.set_defaults(format="table")

    a = inner.add_parser("apply", help="create the declared indexes a configured backend "
                                       "lacks (drops none without --prune); Firestore: "
                                       "write firestore.indexes.json")
    a.set_defaults(handler=cmd_indexes_apply)
    _config_arg(a, run=True)
    a.add_argument("-b", "--backend", metavar="NAME",
                   help="the named backend of the configuration (default: its primary)")
    a.add_argument("--schema", metavar="FILE", required=True,
                   help="the JSON or YAML schema whose `indexes` lists declare the indexes")
    a.add_argument("--prune", action="store_true",
                   help="drop the indexes of the declared collections that the schema does "
                        "not declare (MongoDB, never _id_; DynamoDB GSIs: an LSI cannot be)")
    a.add_argument("--out", metavar="FILE", default="firestore.indexes.json",
                   help="for Firestore, the file to write (default: %(default)s; indexes it "
                        "already lists are kept)")
    a.add_argument("--json", action="store_true", help="print the outcomes as JSON")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crossql`` command."""
    parser = _Parser(
        prog="crossql",
        description="One small query language for document stores, compiled per backend.",
        epilog="Exit status: 0 ok; 1 `check` found a backend that refuses the query; "
               "2 a query error, bad usage, unreadable data or an invalid configuration; "
               "3 the backend failed while running the query; 70 a bug in CrossQL.",
    )
    parser.add_argument("--version", action="version", version=f"crossql {crossql.__version__}")
    parser.add_argument("--error-format", choices=("text", "json"), default="text",
                        help="how errors are written to stderr (default: %(default)s)")
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

    for name, handler, text in (
            ("compile", cmd_compile, "compile a query for a backend; print the plan as JSON"),
            ("explain", cmd_explain, "say in words what a backend would run")):
        p = command(name, handler, text)
        _backend_arg(p, run=False)
        _config_arg(p, run=False)
        p.add_argument("--live", action="store_true",
                       help="with --config, ask the server what the plan depends on "
                            "(DynamoDB: the table's keys and indexes) before planning")
        _param_args(p)
        _option_args(p)
        if name == "compile":
            p.add_argument("--python", action="store_true",
                           help="print the equivalent hand-written code instead of the plan")
        _query_args(p)

    p = command("run", cmd_run, "run a query: on documents from JSON files (the embedded "
                                "engine) or on a configured backend")
    p.add_argument("-d", "--data", metavar="FILE", action="append",
                   help="a .json file (a list of documents, or an object mapping collection "
                        "names to lists) or a .jsonl file (a document per line); repeatable")
    p.add_argument("-c", "--collection", metavar="NAME",
                   help="the collection a list or .jsonl file holds (default: the file's stem)")
    _config_arg(p, run=True)
    _backend_arg(p, run=True)
    _param_args(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json",
                     help="print the rows as a JSON array")
    fmt.add_argument("--jsonl", dest="format", action="store_const", const="jsonl",
                     help="print one JSON row per line, as each arrives")
    p.set_defaults(format="table")
    p.add_argument("--timeout", metavar="SECONDS", type=_seconds,
                   help="with --config, give up (exit 3) when the rows have not all arrived "
                        "after SECONDS")
    p.add_argument("--page-size", metavar="N", type=_page_size,
                   help="print one page of at most N rows and its next cursor on stderr "
                        "(and, with --json, beside the rows) (docs/pagination.md)")
    p.add_argument("--after", metavar="CURSOR",
                   help="with --page-size, the page after the one whose cursor this is")
    _query_args(p)

    p = command("watch", cmd_watch, "print a live query's changes as JSON lines until "
                                    "interrupted (docs/live-queries.md)")
    _config_arg(p, run=True)
    _backend_arg(p, run=True)
    _param_args(p)
    p.add_argument("--initial", action="store_true",
                   help="first print the documents that match now, as `added`")
    p.add_argument("--count", metavar="N", type=int, help="stop after N changes")
    _query_args(p)

    p = command("check", cmd_check,
                "compile a query for every backend: which accept it, which refuse and why")
    _param_args(p)
    _option_args(p)
    p.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    _query_args(p)

    _indexes_parser(sub)
    return parser


def _unbound_parameter(err: crossql.QueryError) -> str | None:
    """The name of the parameter an unbound-parameter error points at (its span)."""
    if err.code != "semantic.unbound-parameter" or err.span is None or err.source is None:
        return None
    start, end = err.span
    return err.source[start:end].removeprefix(":") or None


def _note(err: crossql.QueryError, configured: bool = False) -> str | None:
    """A command-line hint beside the library's own (which speaks of Python calls)."""
    gutter = " " * (len(str(err.line)) + 2)
    unbound = _unbound_parameter(err)
    if unbound:
        return f"{gutter}= on the command line: --params {unbound}=VALUE"
    if not isinstance(err, crossql.CapabilityError) or err.backend not in backend_names():
        return None
    options = get_backend(err.backend).options
    names = options.lifts.get(err.code, ()) if options is not None else ()
    if options is None or not names:
        return None
    if configured:
        keys = ", ".join(f"{name}: true" for name in names)
        return f"{gutter}= in the configuration: `options: {{{keys}}}` in the " \
               f"`{err.backend}:` block"
    flags = " ".join(_flag(err.backend, name) if name in options.flags
                     else f"--option {err.backend}.{name}=true" for name in names)
    return f"{gutter}= on the command line: {flags}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except crossql.QueryError as err:
        _print_query_error(err, args.error_format,
                           _note(err, configured=bool(getattr(args, "config", None))))
        return EXIT_USAGE
    except UsageError as err:
        _print_usage_error(err)
        return EXIT_USAGE
    except ConfigError as err:
        _print_config_error(err, args.error_format)
        return EXIT_USAGE
    except BackendError as err:
        _print_backend_error(err, args.error_format)
        return EXIT_BACKEND
    except BrokenPipeError:
        # the reader went away (`crossql run ... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("CROSSQL_DEBUG"):
            raise
        sys.stderr.write(f"crossql: internal error: {type(exc).__name__}: {exc}\n"
                         "  = hint: this is a bug in CrossQL; CROSSQL_DEBUG=1 shows the "
                         "traceback\n")
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
