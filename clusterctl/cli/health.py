"""clusterctl collect, and the display of zk doctor's report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..display import make_console
from ..run import open_run
from ..zk.doctor import CRITICAL, Report
from .options import run_options

if TYPE_CHECKING:
    from rich.console import Console

SEVERITY_STYLES = {CRITICAL: "bold red", "warning": "yellow"}


def show_report(console: Console, report: Report) -> None:
    """One row per finding (where, how bad, what, the evidence, what to do), then the verdict."""
    from rich.table import Table  # rich: imported where it draws (see display)
    from rich.text import Text
    if report.findings:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("where", "severity", "check", "finding", "evidence", "what to do"):
            table.add_column(column, overflow="fold")
        for f in report.findings:
            table.add_row(Text(f.where), Text(f.severity, style=SEVERITY_STYLES.get(f.severity, "")), Text(f.check),
                          Text(f.summary), Text(f.evidence), Text(f.fix))
        console.print(table)
    q = report.status.quorum
    leader = report.status.leader
    style = {"healthy": "green", "warnings": "yellow"}.get(report.verdict, "bold red")
    counts = ", ".join(f"{n} {s}" for s, n in ((s, sum(f.severity == s for f in report.findings))
                                               for s in (CRITICAL, "warning")) if n)
    console.print(Text.assemble((report.verdict, style), f": {counts or 'no finding'}; "
                                f"leader {leader.host if leader else 'none'}, {q.describe()}"))


@click.command("collect")
@run_options
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="The tarball to write (default: ./<cluster>-collect-<time>.tar.gz).")
@click.option("--lines", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="How many of the last lines of each server log, GC log and journal.")
def collect_command(options, out: Path | None, lines: int) -> None:
    """A support bundle: one tarball of every server's config, words, logs, journal, disks and versions.

    Per server: the config it runs (the config directory, the unit and its
    drop-in), srvr/mntr/conf, the last --lines of its server and GC logs and
    of the unit's journal, disks and memory, its ZooKeeper and JDK versions;
    the doctor's report; this inventory and its last run logs here. Secrets
    are redacted (the super user's password and digest, every password,
    secret or digest setting, private keys; key stores are left out). Reads
    only; the tarball is readable by its owner only.
    """
    from ..steps.collect import collect, default_output
    options.live = False
    with open_run(options, "collect", read_only=True) as run:
        target = (out or default_output(run.inventory.cluster.name)).expanduser().absolute()
        done = collect(run.session, target, lines)
    from rich.text import Text  # rich: imported where it draws (see display)
    run.console.print(Text(f"collected: {done.path} ({done.members} files); doctor: {done.report.verdict}"))


WATCH_INTERVAL = 1.0
HIGHLIGHT_SECONDS = 10  # how long a changed row stays highlighted
EVENTS_SHOWN = 8


def watch_status(options) -> None:
    """zk status --watch: the table redrawn every second on the alternate screen until Ctrl-C (SIGINT) or
    SIGTERM; then the screen as it was, the last table printed once, exit 0 (3 without quorum)."""
    import os
    import time
    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    from ..errors import NoQuorum
    from ..zk.status import probe, role_changes
    from .status_view import show_status, status_table
    console = make_console()
    events: list[tuple[float, str]] = []
    changed_at: dict[str, float] = {}
    last = None
    # The run's own lines (an interrupt's note) go to the run log only: nothing may write over the live table.
    with open(os.devnull, "w") as quiet, open_run(options, "zk-status", out=quiet, read_only=True) as run:
        from ..steps import zookeeper
        zookeeper.servers(run.inventory)
        with Live(console=console, screen=True, auto_refresh=False, transient=True) as live:
            while not run.session.stopping.is_set():
                status = probe(run.session, detail=True)
                now = time.monotonic()
                for line in role_changes(last, status):
                    events.append((time.time(), line))
                    changed_at[line.split(":", 1)[0]] = now
                last = status
                table = status_table(status)
                for i, server in enumerate(status.servers):
                    if now - changed_at.get(server.host, -1e9) < HIGHLIGHT_SECONDS or \
                            now - changed_at.get("leader", -1e9) < HIGHLIGHT_SECONDS and server.role == "leader":
                        table.rows[i].style = "reverse"
                q = status.quorum
                verdict = Text.assemble(("quorum" if q.has_quorum else "NO QUORUM",
                                         "green" if q.has_quorum else "bold red"), f": {q.describe()}")
                lines = [Text(f"{time.strftime('%H:%M:%S', time.localtime(t))}  {e}",
                              style="bold yellow" if e.startswith("leader") else "yellow")
                         for t, e in events[-EVENTS_SHOWN:]]
                header = Text(f"clusterctl zk status --watch  {time.strftime('%H:%M:%S')}  (Ctrl-C ends)",
                              style="dim")
                live.update(Group(header, table, verdict, *lines), refresh=True)
                run.session.stopping.wait(WATCH_INTERVAL)
    if last is not None:
        show_status(console, last)
    if last is not None and not last.quorum.has_quorum:
        raise NoQuorum(f"no quorum: {last.quorum.describe()}")
