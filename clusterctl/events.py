"""What a run reports, and who listens.

Steps and the execution core emit :class:`Event` objects; the live grid, the
plain log, the run log file and the tests are all listeners. Nothing that does
work prints.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Protocol


class State(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"  # checked, nothing to say (verify steps)
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"  # not run because the host failed an earlier step
    INTERRUPTED = "interrupted"  # not run, or cut off, because the run was interrupted

    @property
    def finished(self) -> bool:
        return self not in (State.PENDING, State.RUNNING)


@dataclass(frozen=True)
class Event:
    """Something that happened on one host during one step.

    ``kind`` is "state" for step progress, "bytes" for transfer progress,
    "command" for one remote command and its result (the run log and -v use
    these), "note" for a line of information, and "caveat" for a lasting condition of the host that
    the run's summary repeats (a server nothing supervises).
    """

    host: str
    step: str
    kind: str = "state"
    state: State | None = None
    detail: str = ""
    bytes_done: int = 0
    bytes_total: int = 0
    command: str = ""
    exit_code: int | None = None
    output: str = ""
    at: float = field(default_factory=time.monotonic)


class Listener(Protocol):
    def __call__(self, event: Event) -> None: ...


class Reporter:
    """Fans events out to listeners; safe to call from worker threads."""

    def __init__(self, listeners: list[Listener] | None = None):
        self.listeners: list[Listener] = list(listeners or [])
        self._lock = threading.Lock()

    def add(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def emit(self, event: Event) -> None:
        with self._lock:
            for listener in self.listeners:
                listener(event)

    def state(self, host: str, step: str, state: State, detail: str = "") -> None:
        self.emit(Event(host, step, "state", state, detail))

    def note(self, host: str, step: str, detail: str) -> None:
        self.emit(Event(host, step, "note", detail=detail))

    def caveat(self, host: str, step: str, detail: str) -> None:
        """A lasting condition of ``host`` the operator must not miss: said in the summary too."""
        self.emit(Event(host, step, "caveat", detail=detail))

    def progress(self, host: str, step: str, done: int, total: int) -> None:
        self.emit(Event(host, step, "bytes", bytes_done=done, bytes_total=total))

    def command(self, host: str, step: str, command: str, exit_code: int, output: str) -> None:
        self.emit(Event(host, step, "command", command=command, exit_code=exit_code, output=output))


class Recorder:
    """A listener that keeps every event: for tests and for the run summary."""

    def __init__(self, where: Callable[[Event], bool] | None = None):
        self.events: list[Event] = []
        self.where = where

    def __call__(self, event: Event) -> None:
        if self.where is None or self.where(event):
            self.events.append(event)

    def caveats(self, host: str) -> list[str]:
        """What was said to last about ``host``, each once, in order."""
        return list(dict.fromkeys(e.detail for e in self.events if e.kind == "caveat" and e.host == host))

    def final_states(self) -> dict[tuple[str, str], State]:
        """(host, step) → the last state reported for it."""
        states: dict[tuple[str, str], State] = {}
        for e in self.events:
            if e.kind == "state" and e.state is not None:
                states[e.host, e.step] = e.state
        return states
