"""The ensemble's status as a table: one row per server, what it says of itself, then the quorum line.

Pure drawing (rich, imported where it draws), kept apart from the zk
commands so that bootstrap, apply and jdk print the status without loading
every zk command's module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..zk.status import EnsembleStatus

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

ROLE_STYLES = {"leader": "bold green", "follower": "green", "observer": "cyan", "standalone": "green",
               "looking": "yellow", "down": "bold red", "unknown": "yellow"}


def status_table(status: EnsembleStatus) -> Table:
    """One row per server: what it says of itself."""
    from rich.table import Table  # rich: imported where it draws (see display)
    from rich.text import Text
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("host", "id", "role", "zxid", "conns", "latency ms", "note"):
        table.add_column(column, justify="right" if column in ("id", "conns") else "left")
    for s in status.servers:
        role = s.role + (" (observer)" if s.observer and s.role not in ("observer", "down") else "")
        latency = format_latency(s.latency)
        notes = [s.error] if s.error else []
        if s.via == "ssh":
            notes.append("asked over ssh")
        if s.synced_learners is not None:
            followers, observers = s.synced_learners
            notes.append(f"in sync: {followers} followers" + (f", {observers} observers" if observers else ""))
        notes += list(s.notes)
        zxid = s.to_json()["zxid"] or ""
        table.add_row(Text(s.host), str(s.id), Text(role, style=ROLE_STYLES.get(s.role, "")), zxid,
                      "" if s.connections is None else str(s.connections), latency, Text("; ".join(notes)))
    return table


def format_latency(latency: tuple[int, float, int] | None) -> str:
    """min/avg/max in ms, the average to one decimal: 4/17.3/41."""
    if latency is None:
        return ""
    low, avg, high = latency
    return f"{low}/{avg:.1f}/{high}"


def show_status(console: Console, status: EnsembleStatus) -> None:
    from rich.text import Text
    console.print(status_table(status))
    style = "green" if status.quorum.has_quorum else "bold red"
    verdict = "quorum" if status.quorum.has_quorum else "NO QUORUM"
    console.print(Text.assemble((verdict, style), f": {status.quorum.describe()}"))
