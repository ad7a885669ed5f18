"""`clusterctl lab`: bring up real Linux hosts on this machine, look at them, run commands in them, take them down."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..display import make_console
from ..errors import CommandStatus
from .errors import LabError
from .lab_user import LabUser
from .node_disk import DEFAULT_DISK_SIZE
from .node_process import DEFAULT_INIT, NodeInit
from .topology import DEFAULT_NAME, DEFAULT_STATE_ROOT, DEFAULT_SUBNET

if TYPE_CHECKING:
    from .lab import Lab

_name_option = click.option("--name", envvar="CLUSTERCTL_LAB", default=DEFAULT_NAME, show_default=True,
                            help="Lab name (or $CLUSTERCTL_LAB).")
# Hidden: for tests and for running several checkouts side by side.
_state_root_option = click.option("--state-root", envvar="CLUSTERCTL_LAB_STATE_ROOT", hidden=True,
                                  default=str(DEFAULT_STATE_ROOT), type=click.Path(file_okay=False))


@click.group(name="lab", context_settings={"help_option_names": ["-h", "--help"]})
def lab_group() -> None:
    """Real Linux hosts node1..nodeN on this machine, made from kernel namespaces (needs root).

    Each node has its own address, hostname, processes, cgroups and
    copy-on-write disk, boots an init (systemd, unless '--init none'), and runs
    an sshd that lets root in with the lab key or the lab password (or, with
    '--user', that user and not root). With '--bastion', the nodes take SSH
    from this machine only through a bastion.
    """


def _load(name: str, state_root: str) -> Lab:
    """The lab ``name`` as it was brought up (the lab's code loads here, not when --help lists `lab`)."""
    from .lab import Lab
    return Lab.load(name, state_root)


def _parse_user(context, parameter, value: str | None) -> LabUser | None:
    try:
        return LabUser.parse(value) if value is not None else None
    except LabError as exc:
        raise click.BadParameter(str(exc), context, parameter) from None


def _parse_node_disks(context, parameter, values: tuple[str, ...]) -> dict[str, str]:
    sizes = {}
    for value in values:
        node, equals, size = value.partition("=")
        if not equals or not node or not size:
            raise click.BadParameter(f"{value!r} is not NODE=SIZE (like node3=64m)", context, parameter)
        sizes[node] = size
    return sizes


@lab_group.command()
@click.option("-n", "--nodes", type=click.IntRange(1, 999), default=4, show_default=True, help="Number of nodes.")
@_name_option
@click.option("--subnet", envvar="CLUSTERCTL_LAB_SUBNET", default=DEFAULT_SUBNET, show_default=True,
              help="Private IPv4 subnet of the lab (or $CLUSTERCTL_LAB_SUBNET).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also copy the inventory here.")
@click.option("--no-lab-key", is_flag=True,
              help="Do not authorize the lab key on the nodes: first contact needs the password.")
@click.option("--init", "init", type=click.Choice([kind.value for kind in NodeInit]), default=DEFAULT_INIT.value,
              show_default=True,
              help="The nodes' pid 1: systemd (sshd runs as ssh.service), or none: a minimal init that only "
                   "runs sshd, for the quickest boot.")
@click.option("--disk-size", default=DEFAULT_DISK_SIZE, show_default=True,
              help="Size limit of each node's disk (a tmpfs on this machine).")
@click.option("--node-disk", "node_disks", multiple=True, callback=_parse_node_disks, metavar="NODE=SIZE",
              help="Another size for one node's disk (say node3=64m, to fill it up); repeatable.")
@click.option("--user", callback=_parse_user, metavar="NAME[:sudo|:nopasswd|:nosudo]",
              help="A login user on every machine, with its own password and the lab key; root then logs in "
                   "over SSH on no node (only on the bastion). sudo (default): anything as root, with its "
                   "password; nopasswd: without; nosudo: no sudo rights.")
@click.option("--bastion", is_flag=True,
              help="Add a machine named bastion, on a network of its own with this machine: the nodes accept "
                   "SSH from this machine only through it (ProxyJump).")
@click.option("--artifacts", "artifacts_dir", type=click.Path(file_okay=False, exists=True),
              help="Mirror the runbook: add [jdk] and [zookeeper] sections using the packages built here "
                   "by 'clusterctl artifacts'.")
@_state_root_option
def up(nodes: int, name: str, subnet: str, output: str | None, no_lab_key: bool, init: str, disk_size: str,
       node_disks: dict[str, str], user: LabUser | None, bastion: bool, artifacts_dir: str | None,
       state_root: str) -> None:
    """Bring up a lab and write its inventory; return when every node is up.

    Up means booted through its init (systemd: startup finished, no unit
    failed) with sshd answering. A lab that is already up with the same shape
    (nodes, subnet, init, disk sizes, lab key, user, bastion) is used as it is:
    its stopped machines boot and its inventory is written again. Another
    shape is refused (exit 2).
    """
    from .lab import Lab  # here, not when --help lists `lab`
    lab = Lab(name, subnet, state_root)
    extra = ""
    if artifacts_dir:
        from .artifacts import ensure_artifacts
        from .runbook import pick_packages, render_runbook_sections
        jdk, zookeeper = pick_packages(ensure_artifacts(Path(artifacts_dir).resolve()))
        extra = render_runbook_sections(lab.topology.node_names(nodes), jdk, zookeeper)
    inventory = lab.up(nodes=nodes, authorize_lab_key=not no_lab_key, disk_size=disk_size, disk_sizes=node_disks,
                       init=init, inventory_extra=extra, user=user, bastion=bastion)
    if output:
        shutil.copyfile(inventory, output)
    click.echo(f"lab '{name}' is up: {nodes} node{'s' if nodes > 1 else ''} on {lab.subnet}, init {lab.init}")
    for node in lab.nodes:
        click.echo(f"  {node:<8} {lab.address(node):<15} disk {lab.disk_size(node)}")
    if bastion:
        click.echo(f"  {'bastion':<8} {lab.bastion_address:<15} (and {lab.address('bastion')} on the lab bridge)")
    click.echo(f"inventory: {inventory}" + (f" (copied to {output})" if output else ""))
    password_path = lab.user_password_path if user else lab.password_path
    click.echo(f"password:  export CLUSTERCTL_SSH_PASSWORD=\"$(cat {password_path})\"")
    login_name = user.name if user else "root"
    first = lab.nodes[0]
    key = "" if no_lab_key else f"-i {lab.key_path} "
    if bastion:
        # A jump host takes no -i of its own: OpenSSH passes only -F to the ssh it starts for the jump.
        login = (f"ssh {key}-o ProxyCommand='ssh {key}-W %h:%p {login_name}@{lab.bastion_address}' "
                 f"{login_name}@{lab.address(first)}")
    else:
        login = f"ssh {key}{login_name}@{lab.address(first)}"
    click.echo(f"try:       clusterctl lab exec {first} -- hostname   or   {login}")


@lab_group.command()
@_name_option
@_state_root_option
def status(name: str, state_root: str) -> None:
    """Show each node (and the bastion): address, whether it runs, whether its sshd answers."""
    from rich.table import Table  # rich: imported where it draws (see clusterctl.display)
    from rich.text import Text
    lab = _load(name, state_root)
    user = f", user {lab.user}" if lab.user else ""
    table = Table(title=Text(f"lab {name} ({lab.subnet}, init {lab.init}{user})"))
    for column in ("node", "address", "state", "pid", "sshd"):
        table.add_column(column)
    for node in lab.status():
        table.add_row(Text(node.name), Text(node.address), "running" if node.pid else "stopped",
                      str(node.pid or "-"), "up" if node.sshd_up else "down")
    make_console().print(table)


@lab_group.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("node")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@_name_option
@_state_root_option
def exec_command(node: str, command: tuple[str, ...], name: str, state_root: str) -> None:
    """Run COMMAND as root inside NODE (a login shell if none) and exit with its status.

    Put options of the command after '--': clusterctl lab exec node1 -- ls -la /opt
    """
    argv = list(command) or ["/bin/bash", "--login"]
    result = _load(name, state_root).exec(node, argv, capture_output=False)
    if result.returncode:
        raise CommandStatus(result.returncode)


@lab_group.command()
@click.argument("node")
@click.option("--crash", is_flag=True, help="SIGKILL every process at once, like a power cut.")
@_name_option
@_state_root_option
def stop(node: str, crash: bool, name: str, state_root: str) -> None:
    """Shut NODE down: its processes end, its disk stays.

    A clean shutdown first (systemd powers off; the minimal init sends
    SIGTERM to every process), SIGKILL if that takes too long.
    """
    _load(name, state_root).stop_node(node, crash=crash)
    click.echo(f"{node} stopped")


@lab_group.command()
@click.argument("node")
@_name_option
@_state_root_option
def start(node: str, name: str, state_root: str) -> None:
    """Boot a stopped NODE again on the disk it had, through the init the lab was brought up with."""
    _load(name, state_root).start_node(node)
    click.echo(f"{node} started")


def _add_power_cycle_command(name: str, crash: bool, help: str) -> None:
    """Add 'lab reboot' or 'lab crash': both power-cycle nodes, with or without a clean shutdown first."""

    @lab_group.command(name=name, help=help)
    @click.argument("nodes", nargs=-1)
    @click.option("--all", "every_node", is_flag=True, help="Every node of the lab, and its bastion.")
    @_name_option
    @_state_root_option
    def power_cycle(nodes: tuple[str, ...], every_node: bool, name: str, state_root: str) -> None:
        lab = _load(name, state_root)
        if every_node == bool(nodes):
            raise LabError("name the nodes to power-cycle, or give --all (not both)")
        targets = lab.machines if every_node else list(nodes)
        lab.reboot(targets, crash=crash)
        click.echo(f"{', '.join(targets)} {'crashed' if crash else 'rebooted'} and up again")


_add_power_cycle_command("reboot", crash=False, help="""Reboot NODES (or --all); return when they are up again.

    A clean shutdown first, as 'lab stop' does; then, with every process of
    the node gone and its disk kept, it boots again through its init.""")
_add_power_cycle_command("crash", crash=True, help="""Crash NODES (or --all) and boot them; return when they are up again.

    Every process of the node is killed at once (SIGKILL of its pid 1 ends
    its pid namespace), as in a power cut; its disk stays and it boots
    again through its init.""")


@lab_group.command()
@_name_option
@_state_root_option
def down(name: str, state_root: str) -> None:
    """Stop every node and remove all the lab made; fine on a lab already down or half-built."""
    from .lab import Lab  # here, not when --help lists `lab`
    # Only the name matters for teardown, so a lab whose record was never written is found too.
    Lab(name, DEFAULT_SUBNET, state_root).down()
    click.echo(f"lab '{name}' is down")
