"""Gathering facts: what a host is now, asked in one round trip.

A step names the facts it needs as shell snippets. All snippets for one host
go out as one script, so a no-op run costs one command per host however many
steps and checks there are. Each snippet's stdout and exit status come back
between markers that the parser splits on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MARK = "\x1eclusterctl-fact"
_FRAME = re.compile(_MARK + r" (?P<name>[\w.-]+)\n(?P<body>.*?)" + _MARK + r"-rc (?P<rc>\d+)\n", re.S)


@dataclass(frozen=True)
class Fact:
    output: str
    rc: int

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


def gather_script(snippets: dict[str, str]) -> str:
    """One shell script printing every snippet's output between markers."""
    parts = []
    for name, snippet in snippets.items():
        if not re.fullmatch(r"[\w.-]+", name):
            raise ValueError(f"bad fact name {name!r}")
        parts.append(
            f"printf '{_MARK} %s\\n' {name}; "
            f"( {snippet}\n) 2>/dev/null; rc=$?; "
            f"printf '\\n{_MARK}-rc %s\\n' $rc"
        )
    return "\n".join(parts) + "\n"


def parse_facts(output: str) -> dict[str, Fact]:
    """Split a gather script's output back into facts by name."""
    facts = {}
    for m in _FRAME.finditer(output):
        body = m.group("body")
        facts[m.group("name")] = Fact(body[:-1] if body.endswith("\n") else body, int(m.group("rc")))
    return facts
