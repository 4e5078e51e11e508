"""The reference semantics: LANGUAGE.md made executable on plain documents.

``reference`` evaluates a bound query over documents, ``writes`` applies a bound
``update``/``delete`` to them. Pure functions below the backends and the runtime
(docs/architecture.md, "The import rule"): the memory backend runs them, the
runtime and ``crossql.evaluate`` call them, every other backend is tested against
them."""
