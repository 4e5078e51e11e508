"""A backend is one registered object: its folder plus one line of
``crossql.backends.registry.REGISTRY``. A toy fifth backend (a copy of the memory
backend's spec under another name, with options and a configuration block of its own)
is registered with that one line and shows up everywhere the backends are listed —
names, ``check``, the configuration's drivers, blocks and environment, ``connect``,
the support matrix, the configuration reference and the command line's options —
without a change to any other file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crossql.backends import BACKEND_NAMES, backend_names, get_backend
from crossql.backends.base import BackendSpec

ROOT = Path(__file__).resolve().parent.parent

TOY = textwrap.dedent('''
    import sys, types
    from dataclasses import replace

    from crossql.backends import registry
    from crossql.backends.memory import BACKEND as MEMORY
    from crossql.backends.firestore.backend import BACKEND_SPEC as FIRESTORE

    # the toy's folder: a spec like the memory backend's, under another name
    toy = types.ModuleType("toy_backend")
    toy.BACKEND = replace(
        MEMORY, name="toy", docs="backends/toy.md",
        capabilities=replace(MEMORY.capabilities, backend="toy"),
        write_capabilities=replace(MEMORY.write_capabilities, backend="toy"),
        options=replace(FIRESTORE.options, lifts={}),
        config=replace(MEMORY.config, summary="A toy backend.", required=True,
                       environment={"TOY_PLAN_CACHE_SIZE": "plan_cache_size"}))
    sys.modules["toy_backend"] = toy

    registry.REGISTRY["toy"] = "toy_backend"  # the one registry line
''')

PROBE = textwrap.dedent('''
    import contextlib, io, json
    import crossql
    from crossql.backends import backend_names
    from crossql.backends.matrix import support_matrix
    from crossql.cli import main
    from crossql.config import ENVIRONMENT, load_config
    from crossql.config_reference import configuration_reference
    from crossql.errors import ConfigError

    def problems(config, env=None):
        try:
            load_config(config, env=env or {})
        except ConfigError as err:
            return err.problems
        return []

    def cli(*argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
        return code, out.getvalue(), err.getvalue()

    config = load_config({"driver": "toy", "toy": {"plan_cache_size": 3}})
    from_env = load_config(env={"CROSSQL_DRIVER": "toy", "TOY_PLAN_CACHE_SIZE": "7"})
    store = crossql.connect({"driver": "memory", "backends": [
        {"name": "t", "driver": "toy", "toy": {}}]}).backend("t")
    print(json.dumps({
        "names": backend_names(),
        "check": [[v.backend, v.accepted] for v in crossql.check("from users where a > 1")],
        "check_options": [v.accepted for v in crossql.check(
            "from users", options={"toy": {"native_or": True}})],
        "block": config.block().plan_cache_size,
        "from_env": from_env.block().plan_cache_size,
        "environment": ENVIRONMENT.get("TOY_PLAN_CACHE_SIZE"),
        "no_block": problems({"driver": "toy"}),
        "bad_driver": problems({"driver": "cassandra"}),
        "store": type(store).__name__,
        "matrix": support_matrix(),
        "reference": configuration_reference(),
        "cli_check": cli("check", "--toy-native-or", "from users"),
        "cli_compile": cli("compile", "-b", "toy", "--option", "toy.native_or=true",
                           "from users where a > 1")[0],
        "cli_bad_option": cli("check", "--option", "toy.native_nor=true", "from users"),
        "cli_no_options": cli("check", "--option", "mongodb.x=1", "from users"),
    }))
''')


@pytest.fixture(scope="module")
def toy() -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", TOY + PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT),
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_the_registry_lists_the_four_backends_in_order() -> None:
    assert backend_names() == BACKEND_NAMES == ("memory", "mongodb", "dynamodb", "firestore")
    for name in backend_names():
        spec = get_backend(name)
        assert isinstance(spec, BackendSpec) and spec.name == name
        assert spec.write_capabilities is not None and spec.config is not None


def test_an_unknown_backend_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown backend 'cassandra'; known: memory, mongodb"):
        get_backend("cassandra")


def test_a_fifth_backend_is_listed_and_checked(toy: dict[str, object]) -> None:
    assert toy["names"] == ["memory", "mongodb", "dynamodb", "firestore", "toy"]
    assert ["toy", True] in toy["check"]  # type: ignore[operator]
    assert toy["check_options"] == [True] * 5


def test_a_fifth_backend_is_a_driver_of_the_configuration(toy: dict[str, object]) -> None:
    assert toy["block"] == 3
    assert toy["from_env"] == 7
    assert toy["environment"] == ["toy", "plan_cache_size"]
    assert toy["no_block"] == [["toy", "driver is toy but there is no `toy:` block"]]
    assert "'firestore' or 'toy'" in str(toy["bad_driver"])
    assert toy["store"] == "MemoryStore"


def test_a_fifth_backend_is_in_the_generated_pages(toy: dict[str, object]) -> None:
    matrix = str(toy["matrix"])
    assert "| construct | memory | mongodb | dynamodb | firestore | toy |" in matrix
    assert "[toy](backends/toy.md)" in matrix
    assert matrix.count("| **not refused** |") == 2  # the reads' and the writes' tables
    reference = str(toy["reference"])
    assert "### `toy`\n\nA toy backend.\n" in reference
    assert "### `toy.options`" not in reference  # no nested block declared
    assert "| `TOY_PLAN_CACHE_SIZE` | `toy.plan_cache_size` |" in reference
    # (the toy's block is the memory backend's model, whose table is `memory`'s)
    assert "| `toy` | mapping ([`memory`](#memory)) or null | null | The default backend's " \
           "block when `driver: toy`. |" in reference


def test_a_fifth_backend_has_its_options_on_the_command_line(toy: dict[str, object]) -> None:
    code, out, _ = toy["cli_check"]  # type: ignore[misc]
    assert code == 0 and "toy        accepted" in out
    assert toy["cli_compile"] == 0
    code, _, err = toy["cli_bad_option"]  # type: ignore[misc]
    assert code == 2 and "--option toy.native_nor: unknown option" in err
    _, _, err = toy["cli_no_options"]  # type: ignore[misc]
    assert "mongodb takes no options" in err
    assert "and toy (native_not_equal, native_or, client_side, require_indexes)" in err


def test_check_gives_an_options_object_to_the_backend_whose_options_it_is() -> None:
    import crossql
    from crossql.backends.dynamodb import DynamoOptions
    from crossql.backends.firestore import FirestoreOptions

    query = 'from users where status != "x"'
    before = {v.backend: v.accepted for v in crossql.check(query)}
    assert before["firestore"] is False and before["dynamodb"] is True
    opened = {v.backend: v.accepted
              for v in crossql.check(query, options=FirestoreOptions(native_not_equal=True))}
    assert opened == {**before, "firestore": True}
    closed = {v.backend: v.accepted
              for v in crossql.check(query, options=DynamoOptions(allow_scan=False))}
    assert closed == {**before, "dynamodb": False}
    keyed = {v.backend: v.accepted for v in crossql.check(
        query, options={"dynamodb": {"allow_scan": False}, "firestore": None})}
    assert keyed == closed
