"""clusterctl jdk install, upgrade and verify."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..core.transfer import MODES
from ..display import labelled
from ..errors import HostsFailed
from ..run import load, open_run
from ..steps import jdk, upgrade, zookeeper
from .zk import show_dry_run, show_status
from ..steps.base import run_steps
from .options import confirmation, dry_run_option, run_options
from .planning import show_steps_plan

if TYPE_CHECKING:
    from rich.table import Table


@click.group("jdk")
def jdk_group() -> None:
    """Stage, install and check the JDK named in [jdk]."""


@jdk_group.command("install")
@run_options
@dry_run_option
@click.option("--mode", type=click.Choice(MODES),
              help="How to move the package (default: [jdk] distribute, else auto: pipeline when the "
                   "nodes trust each other, direct otherwise).")
def install_command(options, mode: str | None, dry_run: bool) -> None:
    """Stage the package on every node, install it where missing, write /etc/profile.d/java.sh, check it."""
    steps = jdk.steps(mode)
    if dry_run:
        jdk.require_spec(load(options))
        return show_steps_plan(options, "jdk-install", steps, dry_run=True)
    with open_run(options, "jdk-install", needs=steps) as run:
        jdk.require_spec(run.inventory)
        done = run_steps(run.session, steps)
    run.console.print(java_table(run, done.outputs.get(jdk.VERIFY_STEP, {})))
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@jdk_group.command("upgrade")
@run_options
@dry_run_option
@click.option("--package", "package", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The new JDK, a .tar.gz (it is unpacked beside the one in use).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=upgrade.DEFAULT_TIMEOUT, show_default=True,
              help="Seconds for each server to serve on the new JDK before it is switched back.")
@click.option("--pause", type=click.FloatRange(0, 3600), default=0.0, help="Seconds to wait between servers.")
@click.option("--confirm", is_flag=True, help="Ask before each server.")
def upgrade_command(options, package: Path, timeout: float, pause: float, confirm: bool, dry_run: bool) -> None:
    """Switch every node to a new JDK; ZooKeeper servers one at a time, switched back by themselves on failure.

    The JDK is staged and unpacked beside the one in use on every node first
    (no server is touched if that fails anywhere). Then each ZooKeeper server,
    followers first and the leader last, each while the ensemble can lose one
    more voter: java_home switched, the server restarted and waited for until
    it serves, caught up; one that does not within --timeout gets its previous
    JDK back and is restarted, and the upgrade stops (exit 1). The other nodes
    switch last. Run again, it goes on where it stopped.
    """
    inventory = load(options)
    jdk.require_spec(inventory)
    target = upgrade.with_jdk_package(inventory, package)

    ask = confirmation(options, confirm)
    with open_run(options, "jdk-upgrade", inventory=target, dry_run=dry_run) as run:
        decided = upgrade.plan_jdk_upgrade(run.session, timeout=timeout)
        if dry_run:
            show_dry_run(run, decided)
            return
        upgrade.upgrade_jdk(run.session, decided, timeout=timeout, pause=pause, confirm=ask)
        after = None if run.session.stopping.is_set() or not target.zookeeper else zookeeper.status(run.session)
    if after is not None:
        show_status(run.console, after)
    if package.resolve() != inventory.jdk.package.resolve() and not run.exit_status:
        run.console.print(labelled("note:", "yellow", f"{inventory.path} still names {inventory.jdk.package}: set "
                                   f"[jdk] package = \"{package.resolve()}\" there, or the next apply would switch "
                                   f"back"))
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@jdk_group.command("verify")
@run_options
def verify_command(options) -> None:
    """Run java -version in a login shell on every node and show what each one reports."""
    with open_run(options, "jdk-verify", read_only=True) as run:
        spec = jdk.require_spec(run.inventory)
        checks = jdk.verify(run.session, spec.hosts)
    run.console.print(java_table(run, checks))
    if run.exit_status:
        raise HostsFailed(run.exit_status)


def java_table(run, checks: dict[str, jdk.JavaCheck]) -> Table:
    """node → the Java a login shell runs there."""
    from rich.table import Table  # rich: imported where it draws (see display)
    from rich.text import Text
    table = Table(title="java in a login shell", header_style="bold")
    for column in ("host", "version", "java", "runtime"):
        table.add_column(column)
    for host in run.inventory.hosts:
        check = checks.get(host)
        if check is None:
            continue
        failed = host in run.session.failures
        version = Text(check.version or "none", style="bold red") if failed else Text(check.version, style="green")
        table.add_row(Text(host), version, Text(check.java or "-"), Text(check.runtime))
    return table
