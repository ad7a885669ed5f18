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
from .topology import LabTopology


def check_root() -> None:
    """This is Linux and we are root: enough to use or tear down a lab."""
    if not sys.platform.startswith("linux"):
        raise LabError("the lab needs Linux (network and mount namespaces); run it on a Linux machine")
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates namespaces, links and mounts): run it with sudo")


def check_host(init: NodeInit) -> None:
    """This machine can build a lab whose nodes boot ``init``: Linux, root, overlayfs, cgroup2, the needed tools."""
    check_root()
    if "overlay" not in Path("/proc/filesystems").read_text():
        raise LabError("the kernel has no overlay filesystem: load it with 'modprobe overlay'")
    cgroup2_mount()
    check_required_tools()
    if init is NodeInit.SYSTEMD and not os.access(SYSTEMD, os.X_OK):
        raise LabError(f"{SYSTEMD} is missing on this machine: install the systemd package, "
                       "or boot the nodes with '--init none'")


def host_networks() -> list[tuple[str, ipaddress.IPv4Interface]]:
    """(interface, address) of every IPv4 address on this machine, from 'ip -4 -o addr'."""
    found = []
    for line in run_tool(["ip", "-4", "-o", "addr", "show"]).splitlines():
        fields = line.split()
        if "inet" in fields:
            found.append((fields[1], ipaddress.IPv4Interface(fields[fields.index("inet") + 1])))
    return found


def other_labs(state_root: Path, name: str) -> list[tuple[str, ipaddress.IPv4Network]]:
    """(name, subnet) of the other labs recorded under ``state_root``."""
    records = (read_record(state.parent) for state in sorted(state_root.glob(f"*/{STATE_FILE}")))
    return [(record.name, ipaddress.IPv4Network(record.subnet))
            for record in records if record is not None and record.name != name]


def check_subnet_free(topology: LabTopology) -> None:
    """The lab's subnet overlaps no address on this machine and no other lab."""
    subnet = topology.subnet
    for other, other_subnet in other_labs(topology.state_root, topology.name):
        if subnet.overlaps(other_subnet):
            raise LabError(f"subnet {subnet} overlaps lab '{other}' ({other_subnet}): "
                           "choose another with --subnet or take that lab down")
    for interface, address in host_networks():
        if subnet.overlaps(address.network):
            raise LabError(f"subnet {subnet} overlaps {address} on {interface} of this machine: "
                           "choose another with --subnet")


def check_links_free(topology: LabTopology) -> None:
    """No link with the lab's bridge name exists (a lab with a colliding name, or one left over)."""
    if Path("/sys/class/net", topology.bridge).exists():
        raise LabError(f"a link named {topology.bridge} already exists: take down the lab that made it "
                       f"('clusterctl lab down --name {topology.name}') or pick another name")
