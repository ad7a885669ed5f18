"""Listeners that show a run: a rich live grid, plain lines, and the run log file; and the tables of results.

Data is never markup: what came from the inventory, a host or an exception
reaches rich as :class:`~rich.text.Text` (styled here, never parsed), and
clusterctl's consoles (:func:`make_console`) read no markup or emoji codes in
anything, so a string that slips through is printed as written too.

rich is imported by the functions that draw, not with this module: every
command's module imports this one, and ``--help`` draws nothing (rich is a
sixth of its start-up).
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .events import Event, State
from .plan import Change

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

STYLES = {
    State.PENDING: ("·", "dim"),
    State.RUNNING: ("…", "yellow"),
    State.OK: ("ok", "green"),
    State.CHANGED: ("changed", "bold yellow"),
    State.UNCHANGED: ("unchanged", "green"),
    State.FAILED: ("FAILED", "bold red"),
    State.SKIPPED: ("skipped", "dim red"),
    State.INTERRUPTED: ("interrupted", "bold magenta"),
}


def make_console(file: IO[str] | None = None) -> Console:
    """A console on ``file`` (stdout if None) that prints what it is given as written: no markup, emoji or highlights.

    Wide on a pipe or a file, so that long reasons are not folded.
    """
    from rich.console import Console
    console = Console(file=file, markup=False, emoji=False, highlight=False)
    return console if console.is_terminal else Console(file=file, markup=False, emoji=False, highlight=False,
                                                       width=160)


def labelled(label: str, style: str, text: str) -> Text:
    """``label`` in ``style``, then ``text`` as written: ``warning: …``, ``note: …``."""
    from rich.text import Text
    return Text.assemble((label, style), " ", text)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class _Cell:
    __slots__ = ("state", "detail", "started", "ended", "done", "total")

    def __init__(self) -> None:
        self.state: State = State.PENDING
        self.detail = ""
        self.started: float | None = None
        self.ended: float | None = None
        self.done = 0
        self.total = 0


class LiveGrid:
    """Hosts × steps, redrawn a few times a second while the run goes on."""

    def __init__(self, console: Console, hosts: list[str]):
        self.console = console
        self.hosts = list(hosts)
        self.steps: list[str] = []
        self.cells: dict[tuple[str, str], _Cell] = {}
        from rich.live import Live
        self.live = Live(console=console, refresh_per_second=8, transient=False,
                         get_renderable=self.render)

    def __enter__(self) -> LiveGrid:
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def __call__(self, event: Event) -> None:
        if event.kind not in ("state", "bytes"):
            return
        if event.step not in self.steps:
            self.steps.append(event.step)
        if event.host not in self.hosts:
            self.hosts.append(event.host)
        cell = self.cells.setdefault((event.host, event.step), _Cell())
        if event.kind == "bytes":
            cell.done, cell.total = event.bytes_done, event.bytes_total
            return
        cell.state = event.state
        cell.detail = event.detail
        if event.state == State.RUNNING and cell.started is None:
            cell.started = event.at
        if event.state.finished:
            cell.ended = event.at

    def render(self) -> Table:
        from rich.table import Table
        from rich.text import Text
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("host")
        for step in self.steps:
            table.add_column(Text(step))
        now = time.monotonic()
        for host in self.hosts:
            row = [Text(host, style="bold")]
            for step in self.steps:
                row.append(self._cell_text(self.cells.get((host, step)), now))
            table.add_row(*row)
        return table

    @staticmethod
    def _cell_text(cell: _Cell | None, now: float) -> Text:
        from rich.text import Text
        if cell is None:
            return Text("")
        glyph, style = STYLES[cell.state]
        if cell.state == State.RUNNING:
            text = Text(f"{now - (cell.started or now):4.1f}s", style=style)
            if cell.total:
                filled = int(10 * cell.done / cell.total)
                text.append(f" [{'█' * filled}{' ' * (10 - filled)}] {human_bytes(cell.done)}", style="cyan")
            return text
        text = Text(glyph, style=style)
        if cell.started and cell.ended and cell.ended - cell.started >= 0.05:
            text.append(f" {cell.ended - cell.started:.1f}s", style="dim")
        return text


class PlainLines:
    """One line per finished state, for logs and pipes; -v adds remote output."""

    def __init__(self, out: IO[str], verbose: bool = False):
        self.out = out
        self.verbose = verbose

    def __call__(self, event: Event) -> None:
        if event.kind == "state" and event.state and event.state not in (State.PENDING, State.RUNNING):
            detail = f"  {event.detail}" if event.detail else ""
            print(f"{event.host:<12} {event.step:<14} {event.state.value}{detail}", file=self.out, flush=True)
        elif event.kind == "command" and self.verbose:
            print(f"{event.host:<12} {event.step:<14} $ {event.command.splitlines()[0][:120]}"
                  f"  → {event.exit_code}", file=self.out, flush=True)
            for line in event.output.splitlines():
                print(f"{event.host:<12} {'':<14}   {line}", file=self.out, flush=True)


class VerboseOutput:
    """With -v under the live grid: remote command output printed above the grid."""

    def __init__(self, console: Console):
        self.console = console

    def __call__(self, event: Event) -> None:
        if event.kind == "command":
            from rich.text import Text
            self.console.print(Text.assemble((event.host, "bold"), " ", (event.step, "dim"),
                                             f" $ {event.command.splitlines()[0][:120]} → {event.exit_code}"))
            if event.output:
                self.console.print(Text(event.output.rstrip("\n")))


class RunLog:
    """Writes every event, every remote command and its output, to a log file."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.file = os.fdopen(fd, "a", buffering=1)

    def __call__(self, event: Event) -> None:
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        if event.kind == "command":
            self.file.write(f"{stamp} {event.host} {event.step} $ {event.command}\n"
                            f"{stamp} {event.host} {event.step} exit {event.exit_code}\n")
            for line in event.output.splitlines():
                self.file.write(f"    {line}\n")
        elif event.kind == "state" and event.state:
            self.file.write(f"{stamp} {event.host} {event.step} {event.state.value} {event.detail}\n")
        elif event.kind in ("note", "caveat"):
            self.file.write(f"{stamp} {event.host} {event.step} note {event.detail}\n")

    def header(self, command: str, inventory: Path, hosts: list[str]) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        limit = f", only {','.join(hosts)}" if hosts else ""
        self.file.write(f"{stamp} clusterctl {command} with {inventory}{limit}\n")

    def interrupted(self, signal_name: str, states: dict) -> None:
        """Record the interruption and where each host's steps stood."""
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        self.file.write(f"{stamp} interrupted by {signal_name}; where each host stood:\n")
        for (host, step), state in states.items():
            self.file.write(f"    {host} {step} {state.value}\n")

    def close(self) -> None:
        self.file.close()


def default_log_path(command: str) -> Path:
    """Where a run's log goes: $XDG_STATE_HOME/clusterctl/runs/<time>-<command>.log."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "clusterctl" / "runs" / f"{datetime.now():%Y%m%d-%H%M%S}-{command}.log"


def matrix_table(hosts: list[str], results: dict[str, dict[str, str | None]], logins: int | None = None) -> Table:
    """source rows × target columns: ✓ where the pair is proven, ✗ where it is not."""
    from rich.table import Table
    from rich.text import Text
    how = f"; {logins} real logins" if logins is not None else ""
    table = Table(title=f"node → node SSH (BatchMode, strict host keys{how})", header_style="bold")
    table.add_column("from \\ to")
    for target in hosts:
        table.add_column(Text(target), justify="center")
    for source in hosts:
        row = results.get(source)
        cells = []
        for target in hosts:
            if target == source:
                cells.append(Text("—", style="dim"))
            elif row is None:
                cells.append(Text("?", style="dim"))
            elif row.get(target, "no answer") is None:
                cells.append(Text("✓", style="green"))
            else:
                cells.append(Text("✗", style="bold red"))
        table.add_row(Text(source), *cells)
    return table


MATRIX_MAX_HOSTS = 16  # wider than this, the N×N table no longer fits a terminal (and takes rich seconds)


def matrix_summary(hosts: list[str], results: dict[str, dict[str, str | None]], logins: int | None) -> str:
    """The proof in one line, for a matrix too wide to draw: how many pairs were proven, failed, not asked."""
    proven = sum(1 for row in results.values() for err in row.values() if err is None)
    failed = sum(1 for row in results.values() for err in row.values() if err is not None)
    pairs = len(hosts) * (len(hosts) - 1)
    how = f"; {logins} real logins" if logins is not None else ""
    unasked = pairs - proven - failed
    return (f"node → node SSH (BatchMode, strict host keys{how}): {len(hosts)} hosts, {proven} of {pairs} pairs "
            f"proven" + (f", {failed} failed" if failed else "") + (f", {unasked} not checked" if unasked else ""))


def show_ssh_matrix(console: Console, matrix) -> None:
    """The node → node proof of ssh-trust (a steps.ssh_trust matrix) as a table, or as one line past
    :data:`MATRIX_MAX_HOSTS`; then each pair that failed and why."""
    from rich.text import Text
    if len(matrix.hosts) > MATRIX_MAX_HOSTS:
        console.print(Text(matrix_summary(matrix.hosts, matrix.results, matrix.logins)))
    else:
        console.print(matrix_table(matrix.hosts, matrix.results, matrix.logins))
    for source, target, err in matrix.failed_pairs:
        console.print(Text.assemble((f"{source} → {target}", "red"), f": {err}"))


def plan_rows(planned: dict[str, dict[str, "HostPlan"]]) -> list[tuple[str, str, list[Change]]]:
    """(host, step, what ``plan`` shows) for every host and step with something to show, hosts in order."""
    rows = []
    for step, per_host in planned.items():
        for host, plan in per_host.items():
            shown = plan.shown()
            if shown:
                rows.append((host, step, shown))
    order = {host: i for i, host in enumerate(dict.fromkeys(h for per in planned.values() for h in per))}
    return sorted(rows, key=lambda r: order[r[0]])


def plan_counts(rows: list[tuple[str, str, list[Change]]]) -> tuple[int, int]:
    """(changes, hosts with changes); notes and refusals are not changes."""
    changes = sum(1 for _, _, shown in rows for c in shown if c.change)
    hosts = len({h for h, _, shown in rows if any(c.change for c in shown)})
    return changes, hosts


def plan_table(rows: list[tuple[str, str, list[Change]]]) -> Table:
    """The compact plan: one row per host and step, what would change there in a few words."""
    from rich.table import Table
    from rich.text import Text
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("host", "step", "would change"):
        table.add_column(column, overflow="fold")
    for host, step, shown in rows:
        table.add_row(Text(host), Text(step), Text("; ".join(c.summary for c in shown)))
    return table


def not_compared(planned: dict[str, dict[str, "HostPlan"]]) -> dict[str, str]:
    """step → why plan could not compare its hosts (a package file not on this controller)."""
    return {step: why for step, per_host in planned.items()
            for why in dict.fromkeys(p.not_compared for p in per_host.values() if p.not_compared)}


def plan_json(planned: dict[str, dict[str, "HostPlan"]], not_applied: dict[str, str],
              checks: list[tuple[str, str]] = ()) -> dict:
    rows = plan_rows(planned)
    changes, hosts = plan_counts(rows)
    return {
        "changes": changes,
        "hosts_changed": hosts,
        "plan": [{"host": host, "step": step,
                  "changes": [{"summary": c.summary, "diff": c.diff or None, "change": c.change} for c in shown]}
                 for host, step, shown in rows],
        "not_applied": not_applied,
        "not_compared": not_compared(planned),
        "checks": [{"step": step, "check": said} for step, said in checks],
    }


def show_plan(console: Console, planned: dict[str, dict[str, "HostPlan"]], *, diff: bool = False,
              not_applied: dict[str, str] | None = None, checks: list[tuple[str, str]] = ()) -> None:
    """The plan as a compact table (with ``diff``: every change with its diff), the checks the run would make,
    then how much would change."""
    from rich.text import Text
    rows = plan_rows(planned)
    for step, why in (not_applied or {}).items():
        console.print(Text(f"{step}: {why}", style="dim"))
    if diff:
        from rich.syntax import Syntax  # and pygments: only for --diff
        for host, step, shown in rows:
            for change in shown:
                console.print(Text.assemble((host, "bold"), " ", (step, "cyan"), f": {change.summary}"))
                if change.diff:
                    console.print(Syntax(change.diff, "diff", theme="ansi_dark", background_color="default"))
    elif rows:
        console.print(plan_table(rows))
    for step, said in checks:
        console.print(Text.assemble("check ", (step, "cyan"), f": {said}"))
    changes, hosts = plan_counts(rows)
    unread = not_compared(planned)
    # "Nothing to change" must not hide what could not be compared.
    tail = f"; not compared: {', '.join(unread)} (a package file is not on this controller)" if unread else ""
    if changes:
        hint = "" if diff else " (--diff shows each file's diff)"
        console.print(f"plan: {changes} change(s) on {hosts} host(s){hint}{tail}")
    else:
        console.print(f"plan: nothing to change{tail}")
