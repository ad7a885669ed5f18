"""`clusterctl lab`: bring up real Linux hosts on this machine, look at them, run commands in them, take them down."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..errors import ExitStatus
from . import DEFAULT_NAME, DEFAULT_STATE_ROOT, DEFAULT_SUBNET, Lab, LabError

_name_option = click.option("--name", envvar="CLUSTERCTL_LAB", default=DEFAULT_NAME, show_default=True,
                            help="Lab name (or $CLUSTERCTL_LAB).")
# Hidden: for tests and for running several checkouts side by side.
_state_root_option = click.option("--state-root", envvar="CLUSTERCTL_LAB_STATE_ROOT", hidden=True,
                                  default=str(DEFAULT_STATE_ROOT), type=click.Path(file_okay=False))


def _lab_errors(command):
    """Turn a LabError into one line on stderr and exit status 2, also when this group runs on its own."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except LabError as exc:
            click.echo(f"clusterctl lab: {exc}", err=True)
            raise click.exceptions.Exit(ExitStatus.USAGE) from None

    return wrapper


@click.group(name="lab", context_settings={"help_option_names": ["-h", "--help"]})
def lab_group() -> None:
    """Real Linux hosts node1..nodeN on this machine, made from kernel namespaces (needs root).

    Each node has its own address, hostname, processes and copy-on-write disk,
    and an sshd that lets root in with the lab key or the lab password.
    """


@lab_group.command()
@click.option("-n", "--nodes", type=click.IntRange(1, 999), default=4, show_default=True, help="Number of nodes.")
@_name_option
@click.option("--subnet", envvar="CLUSTERCTL_LAB_SUBNET", default=DEFAULT_SUBNET, show_default=True,
              help="Private IPv4 subnet of the lab (or $CLUSTERCTL_LAB_SUBNET).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also copy the inventory here.")
@click.option("--no-lab-key", is_flag=True,
              help="Do not authorize the lab key on the nodes: first contact needs the password.")
@click.option("--disk-size", default="6g", show_default=True, help="Size limit of each node's disk (tmpfs).")
@click.option("--artifacts", "artifacts_dir", type=click.Path(file_okay=False, exists=True),
              help="Mirror the runbook: add [jdk] and [zookeeper] sections using the packages built here "
                   "by 'clusterctl artifacts'.")
@_state_root_option
@_lab_errors
def up(nodes: int, name: str, subnet: str, output: str | None, no_lab_key: bool, disk_size: str,
       artifacts_dir: str | None, state_root: str) -> None:
    """Bring up a lab and write its inventory."""
    lab = Lab(name, subnet, state_root)
    extra = ""
    if artifacts_dir:
        from .artifacts import ensure_artifacts
        from .runbook import pick_packages, render_runbook_sections
        jdk, zookeeper = pick_packages(ensure_artifacts(Path(artifacts_dir).resolve()))
        extra = render_runbook_sections(lab.topology.node_names(nodes), jdk, zookeeper)
    inventory = lab.up(nodes=nodes, authorize_lab_key=not no_lab_key, tmpfs_size=disk_size, inventory_extra=extra)
    if output:
        shutil.copyfile(inventory, output)
    click.echo(f"lab '{name}' is up: {nodes} node{'s' if nodes > 1 else ''} on {lab.subnet}")
    for node in lab.nodes:
        click.echo(f"  {node:<8} {lab.address(node)}")
    click.echo(f"inventory: {inventory}" + (f" (copied to {output})" if output else ""))
    click.echo(f"password:  export CLUSTERCTL_SSH_PASSWORD=\"$(cat {lab.password_path})\"")
    first = lab.nodes[0]
    login = f"ssh root@{lab.address(first)}" if no_lab_key else f"ssh -i {lab.key_path} root@{lab.address(first)}"
    click.echo(f"try:       clusterctl lab exec {first} -- hostname   or   {login}")


@lab_group.command()
@_name_option
@_state_root_option
@_lab_errors
def status(name: str, state_root: str) -> None:
    """Show each node: address, whether it runs, whether its sshd answers."""
    lab = Lab.load(name, state_root)
    table = Table(title=f"lab {name} ({lab.subnet})")
    for column in ("node", "address", "state", "pid", "sshd"):
        table.add_column(column)
    for node in lab.status():
        table.add_row(node.name, node.address, "running" if node.pid else "stopped",
                      str(node.pid or "-"), "up" if node.sshd_up else "down")
    Console().print(table)


@lab_group.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("node")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@_name_option
@_state_root_option
@_lab_errors
def exec_command(node: str, command: tuple[str, ...], name: str, state_root: str) -> None:
    """Run COMMAND as root inside NODE (a login shell if none) and exit with its status.

    Put options of the command after '--': clusterctl lab exec node1 -- ls -la /opt
    """
    argv = list(command) or ["/bin/bash", "--login"]
    result = Lab.load(name, state_root).exec(node, argv, capture_output=False)
    raise click.exceptions.Exit(result.returncode)


@lab_group.command()
@click.argument("node")
@click.option("--crash", is_flag=True, help="SIGKILL every process at once, like a power cut.")
@_name_option
@_state_root_option
@_lab_errors
def stop(node: str, crash: bool, name: str, state_root: str) -> None:
    """Shut NODE down: its processes end (SIGTERM, then SIGKILL), its disk stays."""
    Lab.load(name, state_root).stop_node(node, crash=crash)
    click.echo(f"{node} stopped")


@lab_group.command()
@click.argument("node")
@_name_option
@_state_root_option
@_lab_errors
def start(node: str, name: str, state_root: str) -> None:
    """Boot a stopped NODE again on the disk it had."""
    Lab.load(name, state_root).start_node(node)
    click.echo(f"{node} started")


@lab_group.command()
@_name_option
@_state_root_option
@_lab_errors
def down(name: str, state_root: str) -> None:
    """Stop every node and remove all the lab made; fine on a lab already down or half-built."""
    # Only the name matters for teardown, so a lab whose record was never written is found too.
    Lab(name, DEFAULT_SUBNET, state_root).down()
    click.echo(f"lab '{name}' is down")
