"""clusterctl preflight: every host's checks before anything is changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import HostsFailed
from ..run import open_run
from ..steps.base import plan_steps
from ..steps.preflight import Preflight
from .options import run_options

if TYPE_CHECKING:
    from rich.table import Table

LEVEL_STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}


@click.command("preflight")
@run_options
def preflight_command(options) -> None:
    """Check every host before changing anything: disk, memory, ports, clock, names, systemd, sudo.

    The first step of bootstrap too. A failed check stops bootstrap before any change (exit 1);
    a warning is shown and does not.
    """
    with open_run(options, "preflight", read_only=True) as run:
        planned = plan_steps(run.session, [Preflight()])
        plans = planned.get(Preflight.name, {})
        for host, plan in plans.items():
            if plan.problem:
                run.session.fail(host, Preflight.name, plan.problem)
    run.console.print(checks_table(plans))
    if run.exit_status:
        raise HostsFailed(run.exit_status)


def checks_table(plans) -> Table:
    """host × check: ok, warn or FAIL, with what was found and the fix."""
    from rich.table import Table  # rich: imported where it draws (see display)
    from rich.text import Text
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("host", "check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for host, plan in plans.items():
        for check in plan.checks:
            style = LEVEL_STYLES[check.level]
            level = check.level.upper() if check.level == "fail" else check.level
            fix = f" (fix: {check.fix})" if check.fix and check.level != "ok" else ""
            table.add_row(Text(host), Text(check.name), Text(level, style=style), Text(check.detail + fix))
    return table
