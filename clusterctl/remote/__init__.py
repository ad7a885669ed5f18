"""The code clusterctl runs on hosts: shell scripts (and a few Python programs) kept as files.

Each script is sent on the command's stdin and run as ``bash -s -- ARG...``
(``python3 - ARG...`` for ``.py``): arguments are positional, quoted for the
remote shell, never pasted into the script's text. A script is function
definitions and one last line ``main "$@"``; bash reads a script from a pipe
one byte at a time, so whatever follows that line on stdin (a file's new
content) is left for the script's own commands to read.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

INTERPRETERS = {".sh": ("bash", "-s", "--"), ".py": ("python3", "-")}


@dataclass(frozen=True)
class RemoteScript:
    """One script of this package: its file name and its bytes."""

    name: str
    text: bytes

    @property
    def interpreter(self) -> tuple[str, ...]:
        return INTERPRETERS[self.name[self.name.rindex("."):]]

    def command_line(self, args: tuple[str, ...] | list[str]) -> str:
        """The remote command that runs this script (read from stdin) with ``args``."""
        return " ".join(shlex.quote(word) for word in (*self.interpreter, *map(str, args)))


@lru_cache(maxsize=None)
def load(name: str) -> RemoteScript:
    """The script ``name`` (e.g. ``"write_file.sh"``) from this package."""
    text = resources.files(__name__).joinpath(name).read_bytes()
    if not text.endswith(b"\n"):
        raise ValueError(f"remote script {name} must end with a newline")
    return RemoteScript(name, text)


def names() -> list[str]:
    """Every script this package holds."""
    return sorted(p.name for p in resources.files(__name__).iterdir() if p.name.endswith(tuple(INTERPRETERS)))
