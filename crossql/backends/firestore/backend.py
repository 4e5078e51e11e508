"""The Firestore backend as the compiler sees it: the reads' compiler and the writes'
(which builds on it) meet here, so neither imports the other's module back."""

from __future__ import annotations

from crossql.backends.base import BackendSpec
from crossql.backends.firestore.compiler import CAPABILITIES, compile_firestore
from crossql.backends.firestore.filters import BACKEND
from crossql.backends.firestore.writes import compile_firestore_write

BACKEND_SPEC = BackendSpec(name=BACKEND, capabilities=CAPABILITIES, compile=compile_firestore,
                           compile_write=compile_firestore_write)
