"""Checks made before a lab touches this machine, each failing with one line that names the fix."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

from .errors import LabError
from .host_tools import check_required_tools, run_tool
from .node_cgroup import cgroup2_mount
from .node_process import SYSTEMD, NodeInit
from .state import STATE_FILE, read_record
from .topology import LabTopology, bastion_subnet

LOGIN_USER_PROGRAMS = {"/usr/sbin/useradd": "passwd", "/usr/bin/sudo": "sudo"}  # program -> Debian package


def check_root() -> None:
    """This is Linux and we are root: enough to use or tear down a lab."""
    if not sys.platform.startswith("linux"):
        raise LabError("the lab needs Linux (network and mount namespaces); run it on a Linux machine")
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates namespaces, links and mounts): run it with sudo")


def check_host(init: NodeInit, login_user: bool = False) -> None:
    """This machine can build a lab whose nodes boot ``init``: Linux, root, overlayfs, cgroup2, the needed tools.

    With ``login_user``, also what a node needs to add a user and give it sudo rights.
    """
    check_root()
    if "overlay" not in Path("/proc/filesystems").read_text():
        raise LabError("the kernel has no overlay filesystem: load it with 'modprobe overlay'")
    cgroup2_mount()
    check_required_tools()
    if init is NodeInit.SYSTEMD and not os.access(SYSTEMD, os.X_OK):
        raise LabError(f"{SYSTEMD} is missing on this machine: install the systemd package, "
                       "or boot the nodes with '--init none'")
    for program, package in (LOGIN_USER_PROGRAMS if login_user else {}).items():
        if not os.access(program, os.X_OK):
            raise LabError(f"{program} is missing on this machine, and the nodes run its own: "
                           f"install the {package} package")
    if init is NodeInit.SYSTEMD:
        raise_inotify_instances()


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
WANTED_INOTIFY_INSTANCES = 1024


def raise_inotify_instances() -> None:
    """Every node's systemd (and its journald, udev, logind) holds inotify instances, all of them root's: the
    kernel's default of 128 per user runs out at a few labs of systemd nodes, and a node then fails to boot
    ("degraded"). Raised (until this machine reboots) where it is lower; never lowered."""
    try:
        current = int(INOTIFY_INSTANCES.read_text())
        if current < WANTED_INOTIFY_INSTANCES:
            INOTIFY_INSTANCES.write_text(f"{WANTED_INOTIFY_INSTANCES}\n")
    except (OSError, ValueError):
        pass  # a kernel without the knob, or a read-only /proc: the nodes may still boot


def host_networks() -> list[tuple[str, ipaddress.IPv4Interface]]:
    """(interface, address) of every IPv4 address on this machine, from 'ip -4 -o addr'."""
    found = []
    for line in run_tool(["ip", "-4", "-o", "addr", "show"]).splitlines():
        fields = line.split()
        if "inet" in fields:
            found.append((fields[1], ipaddress.IPv4Interface(fields[fields.index("inet") + 1])))
    return found


def other_labs(state_root: Path, name: str) -> list[tuple[str, ipaddress.IPv4Network]]:
    """(name, subnet) of the other labs recorded under ``state_root``: each lab subnet and bastion network."""
    records = (read_record(state.parent) for state in sorted(state_root.glob(f"*/{STATE_FILE}")))
    found = []
    for record in records:
        if record is not None and record.name != name:
            subnet = ipaddress.IPv4Network(record.subnet)
            found.append((record.name, subnet))
            if record.bastion:
                found.append((record.name, bastion_subnet(subnet)))
    return found


def check_subnet_free(topology: LabTopology, bastion: bool = False) -> None:
    """The lab's subnet, and with ``bastion`` its bastion network, overlap no other lab and no address here."""
    subnets = {f"subnet {topology.subnet}": topology.subnet}
    if bastion:
        subnets[f"the bastion network {topology.bastion_subnet} (right after subnet {topology.subnet})"] = \
            topology.bastion_subnet
    labs, addresses = other_labs(topology.state_root, topology.name), host_networks()
    for described, subnet in subnets.items():
        for other, other_subnet in labs:
            if subnet.overlaps(other_subnet):
                raise LabError(f"{described} overlaps lab '{other}' ({other_subnet}): "
                               "choose another with --subnet or take that lab down")
        for interface, address in addresses:
            if subnet.overlaps(address.network):
                raise LabError(f"{described} overlaps {address} on {interface} of this machine: "
                               "choose another with --subnet")


def check_links_free(topology: LabTopology, bastion: bool = False) -> None:
    """No link with the lab's bridge names exists (a lab with a colliding name, or one left over)."""
    for bridge in topology.bridges if bastion else (topology.bridge,):
        if Path("/sys/class/net", bridge).exists():
            raise LabError(f"a link named {bridge} already exists: take down the lab that made it "
                           f"('clusterctl lab down --name {topology.name}') or pick another name")
