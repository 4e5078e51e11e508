"""``FirestoreOptions``: which Firestore operators a plan may use.

The default profile is the contract our users wrote down: Firestore rejects
``!=`` and ``OR``. Firestore itself has answered ``!=``/``not-in`` since 2020
and ``Or`` filters since 2023; each option lets the compiler emit them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from crossql.backends.completion import ClientSide


class FirestoreOptions(BaseModel):
    """Opt-in Firestore operators (both off by default).

    >>> FirestoreOptions(native_not_equal=True).profile
    'native_not_equal'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    native_not_equal: bool = False
    """Emit ``!=``, ``not-in`` and ``!= null`` (Firestore's one-per-query inequality)."""

    native_or: bool = False
    """Emit ``Or`` composite filters (at most 30 disjunctions in normal form)."""

    client_side: ClientSide | None = None
    """``{max_rows: N}``: what Firestore cannot order, group or aggregate is completed
    client-side over at most N rows read (docs/configuration.md, "Client-side
    completion"); None: refused. Not part of the profile; a configuration gives it in
    the ``firestore:`` block itself (its ``client_side``)."""
    require_indexes: bool = False
    """Refuse a query that needs a composite index the schema does not declare (the
    collection's ``indexes`` list; docs/indexes.md), as production Firestore does and
    the emulator does not."""

    @property
    def profile(self) -> str:
        """A short name of the profile: ``default``, ``native_not_equal``, ``native_or``
        or ``native_not_equal+native_or`` (the operators it emits; ``require_indexes``
        changes no plan, so it is not named)."""
        names = [name for name in ("native_not_equal", "native_or") if getattr(self, name)]
        return "+".join(names) or "default"
