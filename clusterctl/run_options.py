"""What one invocation of clusterctl was asked for: the options every command on hosts takes.

Kept apart from :mod:`clusterctl.run` (which opens the session, the display
and the run log) so that parsing a command line, and ``--help``, import
none of those.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_FORKS = 32  # hosts worked on at once


@dataclass
class RunOptions:
    inventory: str | None = None
    forks: int = DEFAULT_FORKS
    ask_pass: bool = False
    ask_become_pass: bool = False
    ssh_config: str | None = None  # -F: instead of ~/.ssh/config
    verbose: bool = False
    log: str | None = None
    hosts: list[str] = field(default_factory=list)
    live: bool | None = None  # None: a live grid when stdout is a terminal
    argv: list[str] | None = None  # the command line, for the line that says how to resume
