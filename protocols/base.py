"""The base of every message: frozen, keyword-only, tagged (tag = class name), no GC tracking."""

from __future__ import annotations

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """A payload delivered by the mailbox; it holds data only, never references to actors."""
