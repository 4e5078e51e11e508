"""The package's version, in a module of its own: the tracer names it without importing
the package's ``__init__`` (which imports everything above the runtime)."""

__version__ = "0.1.0"
