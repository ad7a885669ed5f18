"""The display of zk doctor's report (and, with it, the other health commands' output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..zk.doctor import CRITICAL, Report

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
