"""The lab's network: a bridge on this machine and one namespace per machine joined to it by a veth.

Machines get an address on the bridge's subnet and no default route, and the
bridge has no uplink, so their traffic reaches the other machines and the
controller's bridge address and nothing else. A bastion has a second leg, on a
bridge of its own (the bastion network) where the controller has an address
too; it forwards no packets between the two, so only what it relays (SSH's
ProxyJump) passes.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from .host_tools import run_tool
from .topology import BASTION, LabTopology

NETNS_DIR = Path("/run/netns")
_SYS_NET = Path("/sys/class/net")


def create_bridge(topology: LabTopology) -> None:
    """Create the lab bridge with the controller's address on it and bring it up."""
    _create_bridge(topology.bridge, topology.gateway)


def create_bastion_bridge(topology: LabTopology) -> None:
    """Create the bastion network's bridge with the controller's address on it and bring it up."""
    _create_bridge(topology.bastion_bridge, topology.bastion_gateway)


def create_node_network(topology: LabTopology, machine: str) -> None:
    """Create the machine's namespace with lo and eth0 (its address, no route out), plugged into the lab bridge.

    The bastion gets eth1 on the bastion network as well.
    """
    netns = topology.netns(machine)
    run_tool(["ip", "netns", "add", netns])
    run_tool(["ip", "-n", netns, "link", "set", "lo", "up"])
    _plug(netns, "eth0", topology.veth(machine), topology.bridge,
          f"{topology.address(machine)}/{topology.subnet.prefixlen}")
    if machine == BASTION:
        _plug(netns, "eth1", topology.bastion_veth, topology.bastion_bridge,
              f"{topology.bastion_address}/{topology.bastion_subnet.prefixlen}")


def _create_bridge(bridge: str, address: ipaddress.IPv4Interface) -> None:
    run_tool(["ip", "link", "add", bridge, "type", "bridge"])
    run_tool(["ip", "addr", "add", str(address), "dev", bridge])
    run_tool(["ip", "link", "set", bridge, "up"])


def _plug(netns: str, interface: str, veth: str, bridge: str, address: str) -> None:
    """Give ``netns`` an ``interface`` with ``address``, linked by ``veth`` to ``bridge``, both ends up."""
    run_tool(["ip", "link", "add", veth, "type", "veth", "peer", "name", interface, "netns", netns])
    run_tool(["ip", "link", "set", veth, "master", bridge, "up"])
    run_tool(["ip", "-n", netns, "addr", "add", address, "dev", interface])
    run_tool(["ip", "-n", netns, "link", "set", interface, "up"])


def lab_namespaces(topology: LabTopology) -> list[str]:
    """This lab's network namespaces that exist now (found by name, so half-built labs are covered)."""
    if not NETNS_DIR.is_dir():
        return []
    pattern = topology.netns_pattern()
    return sorted(p.name for p in NETNS_DIR.iterdir() if pattern.fullmatch(p.name))


def lab_links(topology: LabTopology) -> list[str]:
    """This lab's links in the root namespace that exist now: its bridges and any stray veth ends."""
    pattern = topology.veth_pattern()
    return sorted(p.name for p in _SYS_NET.iterdir()
                  if p.name in topology.bridges or pattern.fullmatch(p.name))



def remove_network(topology: LabTopology) -> None:
    """Delete the lab's links and namespaces; pieces already gone are fine.

    The veths are deleted explicitly rather than left to go with their
    namespaces because the kernel destroys a namespace asynchronously, and the
    links would linger for a moment after 'ip netns delete' returned.
    """
    for link in lab_links(topology):
        if link not in topology.bridges:
            run_tool(["ip", "link", "delete", link], check=False)
    for netns in lab_namespaces(topology):
        run_tool(["ip", "netns", "delete", netns])
    for bridge in set(topology.bridges) & set(lab_links(topology)):
        run_tool(["ip", "link", "delete", bridge])
