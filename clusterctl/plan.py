"""What a step would change on a host: the common currency of plan and apply."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """One change on one host. ``diff`` shows file content changes, when there are any.

    ``change`` is False for what ``plan`` shows that is not a change: a
    refusal, a restart that is needed, a fallback taken.
    """

    summary: str
    diff: str = ""
    change: bool = True


def file_diff(path: str, before: str, after: str) -> str:
    """A unified diff of a file's content, as `diff -u` shows it."""
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"{path} (now)", f"{path} (planned)"))


def file_change(path: str, before: str, after: str, summary: str) -> Change | None:
    """A Change when the content differs, else None."""
    if before == after:
        return None
    return Change(summary, file_diff(path, before, after))
