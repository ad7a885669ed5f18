"""One invocation of clusterctl, shared by the click CLI and tasks.py.

It loads the inventory (before any host is contacted), wires the listeners
(live grid on a terminal, plain lines otherwise, always the run log), opens a
session, handles interrupts, and at the end prints the per-host summary and
settles the exit status.
"""

from __future__ import annotations

import logging
import os
import queue
import shlex
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator, Sequence

from .core import local_hashes, ssh_config
from .core.session import BECOME_PASSWORD_ENV, Session
from .display import LiveGrid, PlainLines, RunLog, STYLES, VerboseOutput, default_log_path, labelled, make_console
from .errors import ExitStatus, HostsFailed, Interrupted, UsageError
from .events import Recorder, Reporter, State
from .inventory import Inventory, inventory_path, load_inventory
from .run_options import RunOptions
from .steps.base import Step, require_packages

if TYPE_CHECKING:
    from rich.console import Console

PASSWORD_ENV = "CLUSTERCTL_SSH_PASSWORD"
# paramiko logs a dropped host's socket errors to stderr itself; the per-host
# summary already says why that host failed, once and in one line.
logging.getLogger("paramiko").setLevel(logging.CRITICAL)
INTERRUPT_GRACE = 5.0  # seconds work in flight may take to finish after an interrupt, before it is cut off


@dataclass
class Run:
    inventory: Inventory
    session: Session
    reporter: Reporter
    recorder: Recorder
    console: Console
    log_path: Path
    started: float
    command: str
    resume: str = ""
    read_only: bool = False
    interrupted_by: int | None = None  # the signal that stopped the run

    @property
    def exit_status(self) -> ExitStatus:
        if self.interrupted_by is not None:
            return ExitStatus.TERMINATED if self.interrupted_by == signal.SIGTERM else ExitStatus.INTERRUPTED
        return ExitStatus.HOST_FAILURE if self.session.failures else ExitStatus.OK


def load(options: RunOptions) -> Inventory:
    """The inventory the options name, the SSH config applied, --hosts checked; raises InventoryError/UsageError."""
    inventory = load_inventory(inventory_path(options.inventory))
    inventory = ssh_config.apply(inventory, ssh_config.load(Path(options.ssh_config) if options.ssh_config else None))
    unknown = [h for h in options.hosts if h not in inventory.hosts]
    if unknown:
        raise UsageError(f"--hosts names {unknown[0]!r}, which {inventory.path} does not define "
                         f"(hosts: {', '.join(list(inventory.hosts)[:20])})")
    return inventory


def password(options: RunOptions) -> str | None:
    if options.ask_pass:
        import click
        return click.prompt("SSH password", hide_input=True, err=True)
    return os.environ.get(PASSWORD_ENV) or None


def become_password(options: RunOptions) -> str | None:
    """The sudo password: asked once for the whole run, or from the environment; never logged or shown."""
    if options.ask_become_pass:
        import click
        return click.prompt("sudo password", hide_input=True, err=True)
    return os.environ.get(BECOME_PASSWORD_ENV) or None


def check_log_path(path: Path) -> Path:
    """``path`` if a run log can be written there, else a UsageError naming the option and the fix."""
    parent = path.parent
    for ancestor in [parent, *parent.parents]:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UsageError(f"--log {path}: {ancestor} is a file, not a directory; give another path")
            break
    if path.is_dir():
        raise UsageError(f"--log {path}: is a directory; name a file in it")
    return path


class Interrupts:
    """SIGINT and SIGTERM during a run: stop starting work; a second one (or the grace) cuts off what is in flight.

    The handler only hands the signal to a thread of its own: a handler runs in the main thread
    between two of its statements, and one that took a lock the main thread was holding (the
    reporter's, as it emitted an event) waited for it forever, so the run never ended.
    SimpleQueue.put is the one hand-over Python allows in a signal handler.
    """

    def __init__(self, run: Run):
        self.run = run
        self._previous: dict[int, object] = {}
        self._signals: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._watcher = threading.Thread(target=self._watch, name="interrupts", daemon=True)

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._watcher.start()
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._watcher.is_alive():
            self._signals.put(None)
            self._watcher.join(1)

    def _handle(self, signum: int, frame) -> None:
        self._signals.put(signum)

    def _watch(self) -> None:
        while (signum := self._signals.get()) is not None:
            self._act(signum)

    def _act(self, signum: int) -> None:
        session = self.run.session
        if self.run.interrupted_by is None:
            self.run.interrupted_by = signum
            session.stopping.set()
            self.run.reporter.note("-", "run", f"interrupted by {signal.Signals(signum).name}: "
                                               f"finishing what is in flight (up to {INTERRUPT_GRACE:.0f}s)")
            timer = threading.Timer(INTERRUPT_GRACE, session.aborting.set)
            timer.daemon = True
            timer.start()
        else:
            session.aborting.set()


@contextmanager
def open_run(options: RunOptions, command: str, *, out: IO[str] | None = None,
             inventory: Inventory | None = None, read_only: bool = False, dry_run: bool = False,
             needs: Sequence[Step] = ()) -> Iterator[Run]:
    """Everything a command needs to work on hosts, torn down and summarised at the end.

    ``read_only`` commands (status, plan) print no changed/unchanged totals. A
    ``dry_run`` is read-only and leaves no file on the controller either: no run
    log, no new known_hosts entry (and its session runs no script that writes).
    The package files the steps of ``needs`` send or compare are checked
    first: without one, the run is refused (exit 2) before it has begun.
    """
    inventory = inventory or load(options)
    read_only = read_only or dry_run
    # A run that changes hosts may leave files here (a run log); plan, status and dry runs leave none.
    local_hashes.remember_between_runs(not read_only)
    require_packages(inventory, needs)
    if dry_run:
        log_path = Path(os.devnull)
    else:
        log_path = check_log_path(Path(options.log)) if options.log else default_log_path(command)
    out = out or sys.stdout
    console = make_console(out)
    for warning in inventory.warnings:
        console.print(labelled("warning:", "yellow", warning))
    recorder = Recorder(lambda e: e.kind in ("state", "caveat"))
    run_log = RunLog(log_path)
    reporter = Reporter([recorder, run_log])
    live = console.is_terminal if options.live is None else options.live
    grid = LiveGrid(console, [h for h in inventory.hosts if not options.hosts or h in options.hosts]) if live else None
    if grid:
        reporter.add(grid)
        if options.verbose:
            reporter.add(VerboseOutput(console))
    else:
        reporter.add(PlainLines(out, options.verbose))
    session = Session(inventory, reporter, forks=options.forks, password=password(options),
                      limit=options.hosts or None, become_password=become_password(options), dry_run=dry_run)
    resume = "clusterctl " + shlex.join(options.argv) if options.argv else f"the same {command} command"
    run = Run(inventory, session, reporter, recorder, console, log_path, time.monotonic(), command, resume,
              read_only)
    run_log.header(command, inventory.path, options.hosts)
    try:
        with Interrupts(run):
            if grid:
                with grid:
                    yield run
            else:
                yield run
    except Interrupted:
        # What an interrupt cut short is in the summary; the exit status is the signal's.
        raise HostsFailed(run.exit_status or ExitStatus.INTERRUPTED) from None
    finally:
        session.close()
        if run.interrupted_by is not None:
            run_log.interrupted(signal.Signals(run.interrupted_by).name, run.recorder.final_states())
        run_log.close()
        print_summary(run)


SUMMARY_STYLES = {"failed": "bold red", "interrupted": "bold magenta", "changed": STYLES[State.CHANGED][1],
                  "unchanged": "green"}


def print_summary(run: Run) -> None:
    """Per host: failed (step and reason), interrupted, changed, or unchanged; then the totals."""
    from rich.table import Table  # rich: imported where it draws (see display)
    from rich.text import Text
    states = run.recorder.final_states()
    table = Table(title=None, box=None, header_style="bold")
    table.add_column("host")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    counts = {"failed": 0, "interrupted": 0, "changed": 0, "unchanged": 0}
    touched = [h for h in run.inventory.hosts if any(k[0] == h for k in states)]
    for host in touched:
        failure = run.session.failures.get(host)
        mine = {step: s for (h, step), s in states.items() if h == host}
        caveats = run.recorder.caveats(host)
        if failure:
            result, details = "failed", [f"{failure.step}: {failure.reason}"]
        elif State.INTERRUPTED in mine.values():
            result, details = "interrupted", [", ".join(step for step, s in mine.items() if s == State.INTERRUPTED)]
        elif changed := [step for step, s in mine.items() if s == State.CHANGED]:
            result, details = "changed", [", ".join(changed)]
        elif not run.read_only:
            result, details = "unchanged", []
        else:
            continue
        counts[result] += 1
        table.add_row(Text(host), Text(result, style=SUMMARY_STYLES[result]), Text("; ".join([*details, *caveats])))
    if table.row_count:
        run.console.print(table)
    elapsed = time.monotonic() - run.started
    if run.interrupted_by is not None:
        name = signal.Signals(run.interrupted_by).name
        run.console.print(Text(f"interrupted by {name} after {elapsed:.1f}s: {counts['changed']} changed, "
                               f"{counts['interrupted']} interrupted, {counts['failed']} failed; log: {run.log_path}"))
        run.console.print(Text(f"to finish, run it again; it resumes where it stopped: {run.resume}"))
    elif run.read_only:
        if counts["failed"]:  # a read-only command's answer is its own output; only faults need a summary
            run.console.print(Text(f"{counts['failed']} failed; log: {run.log_path}"))
    else:
        run.console.print(Text(f"{counts['changed']} changed, {counts['unchanged']} unchanged, "
                               f"{counts['failed']} failed in {elapsed:.1f}s; log: {run.log_path}"))
