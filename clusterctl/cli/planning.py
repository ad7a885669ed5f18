"""Showing what steps would change: ``plan``, and ``--dry-run`` of every command made of runbook steps."""

from __future__ import annotations

import json
from typing import Sequence

import click

from .. import bootstrap
from ..display import plan_json, show_plan
from ..errors import HostsFailed
from ..run import RunOptions, open_run
from ..steps.base import Step, not_applied, planned_checks


def show_steps_plan(options: RunOptions, command: str, steps: Sequence[Step], *, diff: bool = False,
                    as_json: bool = False, dry_run: bool = False) -> None:
    """Decide ``steps`` on every host and show the plan; change nothing.

    A ``dry_run`` (a command's --dry-run) also leaves no run log or known_hosts entry behind and runs
    only remote scripts that read; ``plan`` keeps its run log.
    """
    if as_json:
        options.live = False
    out = click.get_text_stream("stderr") if as_json else None
    with open_run(options, command, read_only=True, dry_run=dry_run, out=out) as run:
        planned = bootstrap.plan(run.session, steps)
    skipped = not_applied(run.inventory, steps)
    checks = planned_checks(run.inventory, steps, planned)
    if as_json:
        click.echo(json.dumps(plan_json(planned, skipped, checks), indent=2))
    else:
        show_plan(run.console, planned, diff=diff, not_applied=skipped, checks=checks)
        if dry_run:
            run.console.print("dry run: nothing was changed")
    if run.exit_status:
        raise HostsFailed(run.exit_status)
