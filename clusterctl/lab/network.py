"""The lab's network: a bridge on this machine and one namespace per node joined to it by a veth.

Nodes get an address on the bridge's subnet and no default route, and the
bridge has no uplink, so node traffic reaches the other nodes and the
controller's bridge address and nothing else.
"""

from __future__ import annotations

from pathlib import Path

from .host_tools import run_tool
from .topology import LabTopology

NETNS_DIR = Path("/run/netns")
_SYS_NET = Path("/sys/class/net")


def create_bridge(topology: LabTopology) -> None:
    """Create the lab bridge with the controller's address on it and bring it up."""
    bridge = topology.bridge
    run_tool(["ip", "link", "add", bridge, "type", "bridge"])
    run_tool(["ip", "addr", "add", str(topology.gateway), "dev", bridge])
    run_tool(["ip", "link", "set", bridge, "up"])


def create_node_network(topology: LabTopology, node: str) -> None:
    """Create the node's namespace with lo and eth0 (its address, no route out), plugged into the bridge."""
    netns, veth = topology.netns(node), topology.veth(node)
    address = f"{topology.address(node)}/{topology.subnet.prefixlen}"
    run_tool(["ip", "netns", "add", netns])
    run_tool(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    run_tool(["ip", "link", "set", veth, "master", topology.bridge, "up"])
    run_tool(["ip", "-n", netns, "addr", "add", address, "dev", "eth0"])
    run_tool(["ip", "-n", netns, "link", "set", "lo", "up"])
    run_tool(["ip", "-n", netns, "link", "set", "eth0", "up"])


def lab_namespaces(topology: LabTopology) -> list[str]:
    """This lab's network namespaces that exist now (found by name, so half-built labs are covered)."""
    if not NETNS_DIR.is_dir():
        return []
    pattern = topology.netns_pattern()
    return sorted(p.name for p in NETNS_DIR.iterdir() if pattern.fullmatch(p.name))


def lab_links(topology: LabTopology) -> list[str]:
    """This lab's links in the root namespace that exist now: its bridge and any stray veth ends."""
    pattern = topology.veth_pattern()
    return sorted(p.name for p in _SYS_NET.iterdir()
                  if p.name == topology.bridge or pattern.fullmatch(p.name))


def remove_network(topology: LabTopology) -> None:
    """Delete the lab's links and namespaces; pieces already gone are fine.

    The veths are deleted explicitly rather than left to go with their
    namespaces because the kernel destroys a namespace asynchronously, and the
    links would linger for a moment after 'ip netns delete' returned.
    """
    for link in lab_links(topology):
        if link != topology.bridge:
            run_tool(["ip", "link", "delete", link], check=False)
    for netns in lab_namespaces(topology):
        run_tool(["ip", "netns", "delete", netns])
    if topology.bridge in lab_links(topology):
        run_tool(["ip", "link", "delete", topology.bridge])
