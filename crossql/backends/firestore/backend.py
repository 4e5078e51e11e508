"""The Firestore backend as the compiler sees it: the reads' compiler and the writes'
(which builds on it) meet here, so neither imports the other's module back."""

from __future__ import annotations

from crossql.backends.base import BackendSpec, ConfigBlock, OptionsSpec
from crossql.backends.firestore.compiler import CAPABILITIES, COMPLETION, compile_firestore
from crossql.backends.firestore.filters import BACKEND
from crossql.backends.firestore.writes import WRITE_CAPABILITIES, compile_firestore_write

BACKEND_SPEC = BackendSpec(
    name=BACKEND, capabilities=CAPABILITIES, compile=compile_firestore,
    compile_write=compile_firestore_write, write_capabilities=WRITE_CAPABILITIES,
    options=OptionsSpec(
        model="crossql.backends.firestore.options:FirestoreOptions",
        coerce="crossql.backends.firestore.config:coerce_options",
        flags={"native_not_equal": "let Firestore plans use `!=` and `not-in`",
               "native_or": "let Firestore plans use `Or` filters"},
        # the profile's refusals (compiler.py check_profile, filters.py expand_exists)
        lifts={"capability.firestore.not-equal": ("native_not_equal",),
               "capability.firestore.or": ("native_or",),
               "capability.firestore.exists": ("native_not_equal", "native_or")}),
    config=ConfigBlock(model="crossql.backends.firestore.config:FirestoreConfig",
                       open_store="crossql.backends.firestore.config:open_store",
                       summary="Firestore through `google.cloud.firestore.AsyncClient` "
                               "([backends/firestore.md](backends/firestore.md)).",
                       environment={"FIRESTORE_EMULATOR_HOST": "emulator_host",
                                    "FIRESTORE_PROJECT": "project_id"},
                       # (`client_side`'s table is the one under `dynamodb:`: the same model)
                       nested={"options": "The Firestore profile: opt-in operators."}),
    docs="backends/firestore.md", completion=COMPLETION)
