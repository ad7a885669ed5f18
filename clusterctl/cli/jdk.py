"""clusterctl jdk install and clusterctl jdk verify."""

from __future__ import annotations

import click
from rich.table import Table

from ..core.transfer import MODES
from ..errors import HostsFailed
from ..run import open_run
from ..steps import jdk
from ..steps.base import run_steps
from .options import run_options


@click.group("jdk")
def jdk_group() -> None:
    """Stage, install and check the JDK named in [jdk]."""


@jdk_group.command("install")
@run_options
@click.option("--mode", type=click.Choice(MODES),
              help="How to move the package (default: [jdk] distribute, else auto: pipeline when the "
                   "nodes trust each other, direct otherwise).")
def install_command(options, mode: str | None) -> None:
    """Stage the package on every node, install it where missing, write /etc/profile.d/java.sh, check it."""
    with open_run(options, "jdk-install") as run:
        jdk.require_spec(run.inventory)
        done = run_steps(run.session, jdk.steps(mode))
    run.console.print(java_table(run, done.outputs.get(jdk.VERIFY_STEP, {})))
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@jdk_group.command("verify")
@run_options
def verify_command(options) -> None:
    """Run java -version in a login shell on every node and show what each one reports."""
    with open_run(options, "jdk-verify", read_only=True) as run:
        spec = jdk.require_spec(run.inventory)
        checks = jdk.verify(run.session, run.session.targets(spec.hosts))
    run.console.print(java_table(run, checks))
    if run.exit_status:
        raise HostsFailed(run.exit_status)


def java_table(run, checks: dict[str, jdk.JavaCheck]) -> Table:
    """node → the Java a login shell runs there."""
    table = Table(title="java in a login shell", header_style="bold")
    for column in ("host", "version", "java", "runtime"):
        table.add_column(column)
    for host in run.inventory.hosts:
        check = checks.get(host)
        if check is None:
            continue
        failed = host in run.session.failures
        version = f"[bold red]{check.version or 'none'}[/]" if failed else f"[green]{check.version}[/]"
        table.add_row(host, version, check.java or "-", check.runtime)
    return table
