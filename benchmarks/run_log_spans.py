"""Per-step wall time of a clusterctl run, from its run log (``--log FILE``).

The log's event lines are ``HH:MM:SS.mmm host step what ...`` (clusterctl/display.py,
RunLog): states, notes, and each remote command with its exit status, all
under the step they belong to. A command is logged when it has finished, so
the time from one line to the next is charged to the step of the later line:
that is the work the later line reports. The steps' times then add up to the
logged run (first line to last), whichever hosts were busy, and a step name
that comes back (transfer-probe before each stage) collects all its turns.
"""

from __future__ import annotations

import re
from pathlib import Path

_EVENT = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) (\S+) (\S+) (\S+)(?: (.*))?$")
DAY = 24 * 3600.0


def events(text: str) -> list[tuple[float, str, str, str, str]]:
    """(seconds since the first event, host, step, what, detail) per event line, in order.

    Times are of the day: one that goes back by more than half a day crossed midnight.
    """
    found, offset, last = [], 0.0, None
    for line in text.splitlines():
        match = _EVENT.match(line)
        if not match:
            continue
        h, m, s, ms, host, step, what, detail = match.groups()
        at = int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 + offset
        if last is not None and at < last - DAY / 2:
            offset += DAY
            at += DAY
        last = at
        found.append((at, host, step, what, detail or ""))
    if not found:
        return []
    first = found[0][0]
    return [(at - first, host, step, what, detail) for at, host, step, what, detail in found]


def step_spans(text: str) -> dict[str, float]:
    """step → seconds charged to it (see the module's docstring), in the order steps first appear."""
    spans: dict[str, float] = {}
    previous = 0.0
    for at, _, step, _, _ in events(text):
        spans[step] = spans.get(step, 0.0) + at - previous
        previous = at
    return spans


def logged_seconds(text: str) -> float:
    """From the first event line to the last: the run without Python's start-up and exit."""
    found = events(text)
    return found[-1][0] if found else 0.0


def failures(text: str) -> list[str]:
    """``host step detail`` for every host and step the log says failed."""
    return [f"{host} {step}: {detail}" for _, host, step, what, detail in events(text) if what == "failed"]


def spans_of(path: Path) -> dict[str, float]:
    return step_spans(path.read_text(errors="replace"))
