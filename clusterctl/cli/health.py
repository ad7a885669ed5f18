"""clusterctl collect, and the display of zk doctor's report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

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
