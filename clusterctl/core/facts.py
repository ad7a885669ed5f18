"""Gathering facts: what a host is now, asked in one round trip.

A step names the facts it needs as data, :class:`FactQuery` (a name, a kind
from the vocabulary in ``remote/facts.sh``, and its arguments). All queries
for one host go out as the arguments of one run of that script, so a no-op
run costs one command per host however many steps and checks there are. Each
answer's output and exit status come back between markers that the parser
splits on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MARK = "\x1eclusterctl-fact"
_FRAME = re.compile(_MARK + r" (?P<name>[\w.-]+)\n(?P<body>.*?)" + _MARK + r"-rc (?P<rc>\d+)\n", re.S)
_NAME = re.compile(r"[\w.-]+")
_KIND = re.compile(r"[a-z][a-z0-9_]*")
SCRIPT = "facts.sh"


@dataclass(frozen=True)
class Fact:
    """One answer: what the fact printed and its exit status."""

    output: str
    rc: int

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


@dataclass(frozen=True)
class FactQuery:
    """One question for a host: ``kind`` (a ``fact_KIND`` function of facts.sh) asked with ``args``."""

    name: str
    kind: str
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"bad fact name {self.name!r}")
        if not _KIND.fullmatch(self.kind):
            raise ValueError(f"bad fact kind {self.kind!r}")


def query(name: str, kind: str, *args: object) -> FactQuery:
    """A FactQuery; arguments are passed as strings, one positional argument each."""
    return FactQuery(name, kind, tuple(str(a) for a in args))


def gather_args(queries: list[FactQuery]) -> list[str]:
    """The positional arguments of facts.sh that ask ``queries`` in order."""
    args: list[str] = []
    for q in queries:
        args += [q.name, q.kind, str(len(q.args)), *q.args]
    return args


def parse_facts(output: str) -> dict[str, Fact]:
    """Split facts.sh's output back into facts by name."""
    facts = {}
    for m in _FRAME.finditer(output):
        body = m.group("body")
        facts[m.group("name")] = Fact(body[:-1] if body.endswith("\n") else body, int(m.group("rc")))
    return facts


def frame(facts: dict[str, Fact]) -> str:
    """What facts.sh prints for ``facts`` (for fake hosts in tests, and the parser's own tests)."""
    return "".join(f"{_MARK} {name}\n{fact.output}\n{_MARK}-rc {fact.rc}\n" for name, fact in facts.items())
