"""Where the reference semantics of writes used to live; kept because user code names it
(``WriteResult``, and the memory backend's ``to_python()`` prints
``crossql.runtime.writes.apply(...)``). The semantics are in ``crossql.semantics.writes``."""

from crossql.semantics.writes import WriteResult, apply

__all__ = ["WriteResult", "apply"]
