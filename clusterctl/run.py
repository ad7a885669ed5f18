"""One invocation of clusterctl, shared by the click CLI and tasks.py.

It loads the inventory (before any host is contacted), wires the listeners
(live grid on a terminal, plain lines otherwise, always the run log), opens a
session, and at the end prints the per-host summary and settles the exit status.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from rich.console import Console
from rich.table import Table

from .core.session import DEFAULT_FORKS, Session
from .display import LiveGrid, PlainLines, RunLog, STYLES, VerboseOutput, default_log_path
from .errors import ExitStatus
from .events import Recorder, Reporter, State
from .inventory import Inventory, inventory_path, load_inventory

PASSWORD_ENV = "CLUSTERCTL_SSH_PASSWORD"
# paramiko logs a dropped host's socket errors to stderr itself; the per-host
# summary already says why that host failed, once and in one line.
logging.getLogger("paramiko").setLevel(logging.CRITICAL)


@dataclass
class RunOptions:
    inventory: str | None = None
    forks: int = DEFAULT_FORKS
    ask_pass: bool = False
    verbose: bool = False
    log: str | None = None
    hosts: list[str] = field(default_factory=list)
    live: bool | None = None  # None: a live grid when stdout is a terminal


@dataclass
class Run:
    inventory: Inventory
    session: Session
    reporter: Reporter
    recorder: Recorder
    console: Console
    log_path: Path
    started: float

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.HOST_FAILURE if self.session.failures else ExitStatus.OK


def load(options: RunOptions) -> Inventory:
    """The inventory the options name, limited to --hosts; raises InventoryError."""
    inventory = load_inventory(inventory_path(options.inventory))
    return inventory.limited_to(options.hosts) if options.hosts else inventory


def password(options: RunOptions) -> str | None:
    if options.ask_pass:
        import click
        return click.prompt("SSH password", hide_input=True, err=True)
    return os.environ.get(PASSWORD_ENV) or None


@contextmanager
def open_run(options: RunOptions, command: str, *, out: IO[str] | None = None,
             inventory: Inventory | None = None) -> Iterator[Run]:
    """Everything a command needs to work on hosts, torn down and summarised at the end."""
    inventory = inventory or load(options)
    out = out or sys.stdout
    console = Console(file=out, highlight=False)
    if not console.is_terminal:
        console = Console(file=out, highlight=False, width=160)  # logs and pipes: don't fold long reasons
    for warning in inventory.warnings:
        console.print(f"[yellow]warning:[/] {warning}", markup=True)
    recorder = Recorder(lambda e: e.kind == "state")
    log_path = Path(options.log) if options.log else default_log_path(command)
    run_log = RunLog(log_path)
    reporter = Reporter([recorder, run_log])
    live = console.is_terminal if options.live is None else options.live
    grid = LiveGrid(console, list(inventory.hosts)) if live else None
    if grid:
        reporter.add(grid)
        if options.verbose:
            reporter.add(VerboseOutput(console))
    else:
        reporter.add(PlainLines(out, options.verbose))
    session = Session(inventory, reporter, forks=options.forks, password=password(options))
    run = Run(inventory, session, reporter, recorder, console, log_path, time.monotonic())
    try:
        if grid:
            with grid:
                yield run
        else:
            yield run
    finally:
        session.close()
        run_log.close()
    print_summary(run)


def print_summary(run: Run) -> None:
    """Per host: failed (step and reason), changed, or unchanged; then the totals."""
    states = run.recorder.final_states()
    table = Table(title=None, box=None, header_style="bold")
    table.add_column("host")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    counts = {"failed": 0, "changed": 0, "unchanged": 0}
    touched = [h for h in run.inventory.hosts if any(k[0] == h for k in states)]
    for host in touched:
        failure = run.session.failures.get(host)
        if failure:
            counts["failed"] += 1
            table.add_row(host, "[bold red]failed[/]", f"{failure.step}: {failure.reason}")
            continue
        changed = [step for (h, step), s in states.items() if h == host and s == State.CHANGED]
        if changed:
            counts["changed"] += 1
            table.add_row(host, f"[{STYLES[State.CHANGED][1]}]changed[/]", ", ".join(changed))
        else:
            counts["unchanged"] += 1
            table.add_row(host, "[green]unchanged[/]", "")
    if touched:
        run.console.print(table)
    elapsed = time.monotonic() - run.started
    run.console.print(f"{counts['changed']} changed, {counts['unchanged']} unchanged, {counts['failed']} failed "
                      f"in {elapsed:.1f}s; log: {run.log_path}")
