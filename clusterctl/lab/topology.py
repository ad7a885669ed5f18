"""Names and addresses of a lab, derived from its name, subnet and size alone.

Everything the lab creates on this machine (namespaces, links, directories) is
named here, so teardown can find all of it again from the same three facts.
A lab's machines are its nodes, node1..nodeN, and optionally a bastion, which
has a leg on the lab bridge and one on a bridge of its own (the bastion
network), where the controller reaches it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import LabError

DEFAULT_NAME = "demo"
DEFAULT_SUBNET = "10.231.0.0/24"
DEFAULT_STATE_ROOT = Path("/run/clusterctl/lab")
CGROUP_PARENT = PurePosixPath("clusterctl-lab")  # in this machine's cgroup2 tree, shared by all labs
FIRST_HOST_OFFSET = 10  # node k gets the subnet's address .10+k; .1 is the controller's bridge
BASTION = "bastion"  # the bastion's name, as a machine of the lab; on the lab bridge it has .10, before node1
# The bastion network: the block of this size right after the lab subnet. Small, so it
# takes little of the address space a neighbouring lab may want.
BASTION_PREFIX = 29
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")
_IFNAME_MAX = 15  # IFNAMSIZ - 1
_TAG_MAX = 7  # "clv-" + tag + "-" + up to three digits (or "b", "j" for the bastion) stays within 15 characters


def check_lab_name(name: str) -> str:
    """Return ``name`` if it is a valid lab name, else raise LabError saying what is allowed."""
    if not _NAME.match(name):
        raise LabError(f"bad lab name {name!r}: use 1-32 lowercase letters, digits and dashes, "
                       "starting with a letter (e.g. demo)")
    return name


def parse_subnet(subnet: str) -> ipaddress.IPv4Network:
    """The subnet as a network, or LabError if it is not a private IPv4 CIDR that fits a lab."""
    try:
        network = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise LabError(f"bad lab subnet {subnet!r}: {exc}; give a CIDR like 10.231.0.0/24") from None
    if not network.is_private or network.is_loopback or network.is_link_local:
        raise LabError(f"lab subnet {subnet} is not a private range; use one inside 10.0.0.0/8, "
                       "172.16.0.0/12 or 192.168.0.0/16")
    if not 8 <= network.prefixlen <= 27:
        raise LabError(f"lab subnet {subnet} must have a prefix between /8 and /27 (e.g. /24)")
    return network


def bastion_subnet(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    """The bastion network of a lab on ``subnet``: the /29 right after it (10.231.0.0/24 -> 10.231.1.0/29).

    Raises LabError if that block is not private (a lab at the very end of a private range).
    """
    try:
        network = ipaddress.IPv4Network(f"{subnet.broadcast_address + 1}/{BASTION_PREFIX}", strict=False)
    except ValueError:  # the lab ends at 255.255.255.255
        network = None
    if network is None or not network.is_private:
        raise LabError(f"a lab on {subnet} has no private block after it for its bastion network: "
                       "choose another --subnet")
    return network


def link_tag(name: str) -> str:
    """A short form of the lab name for interface names; long names become a hash.

    The hashed form contains an underscore, which lab names cannot, so it never
    equals another lab's literal name.
    """
    if len(name) <= _TAG_MAX:
        return name
    return name[:2] + "_" + hashlib.sha256(name.encode()).hexdigest()[:_TAG_MAX - 3]


@dataclass(frozen=True)
class LabTopology:
    """Where each piece of one lab lives: state paths, namespaces, links, addresses."""

    name: str
    subnet: ipaddress.IPv4Network
    state_root: Path

    @property
    def state_dir(self) -> Path:
        return self.state_root / self.name

    @property
    def bridge(self) -> str:
        return f"clb-{link_tag(self.name)}"

    @property
    def bridges(self) -> tuple[str, str]:
        """The lab bridge and the bastion network's (which only a lab with a bastion has)."""
        return self.bridge, self.bastion_bridge

    @property
    def gateway(self) -> ipaddress.IPv4Interface:
        """The controller's address on the lab bridge (the subnet's first address)."""
        return ipaddress.IPv4Interface(f"{self.subnet.network_address + 1}/{self.subnet.prefixlen}")

    @property
    def max_nodes(self) -> int:
        return self.subnet.num_addresses - 2 - FIRST_HOST_OFFSET

    def node_names(self, count: int) -> list[str]:
        if not 1 <= count <= min(self.max_nodes, 999):
            raise LabError(f"a lab on {self.subnet} holds 1 to {min(self.max_nodes, 999)} nodes, "
                           f"not {count}; pick another -n or a larger --subnet")
        return [f"node{k}" for k in range(1, count + 1)]

    def node_index(self, node: str) -> int:
        match = re.fullmatch(r"node([1-9][0-9]*)", node)
        if not match:
            raise LabError(f"no node {node!r} in lab {self.name}: nodes are named node1, node2, ...")
        return int(match.group(1))

    def address(self, machine: str) -> ipaddress.IPv4Address:
        """The machine's address on the lab bridge."""
        offset = 0 if machine == BASTION else self.node_index(machine)
        return self.subnet.network_address + FIRST_HOST_OFFSET + offset

    def netns(self, machine: str) -> str:
        return f"clab-{self.name}-{machine}"

    def netns_pattern(self) -> re.Pattern[str]:
        """Matches exactly this lab's namespace names, not those of a lab whose name extends it."""
        return re.compile(rf"clab-{re.escape(self.name)}-(node[0-9]+|{BASTION})")

    def veth(self, machine: str) -> str:
        """The controller-side end of the machine's link to the lab bridge; its other end is the machine's eth0."""
        suffix = "b" if machine == BASTION else str(self.node_index(machine))
        name = f"clv-{link_tag(self.name)}-{suffix}"
        assert len(name) <= _IFNAME_MAX, name
        return name

    def veth_pattern(self) -> re.Pattern[str]:
        return re.compile(rf"clv-{re.escape(link_tag(self.name))}-([0-9]+|b|j)")

    def node_dir(self, machine: str) -> Path:
        """The machine's directory in the lab's state: its disk, console log and pid file."""
        return self.state_dir / machine

    @property
    def cgroup(self) -> PurePosixPath:
        """The lab's cgroup, relative to the root of this machine's cgroup2 tree; one child per machine."""
        return CGROUP_PARENT / self.name

    def node_cgroup(self, machine: str) -> PurePosixPath:
        if machine != BASTION:
            self.node_index(machine)
        return self.cgroup / machine

    # The bastion network.

    @property
    def bastion_subnet(self) -> ipaddress.IPv4Network:
        return bastion_subnet(self.subnet)

    @property
    def bastion_bridge(self) -> str:
        return f"clj-{link_tag(self.name)}"

    @property
    def bastion_gateway(self) -> ipaddress.IPv4Interface:
        """The controller's address on the bastion network (its first address)."""
        return ipaddress.IPv4Interface(f"{self.bastion_subnet.network_address + 1}/{BASTION_PREFIX}")

    @property
    def bastion_address(self) -> ipaddress.IPv4Address:
        """The bastion's address on the bastion network, where the controller reaches it."""
        return self.bastion_subnet.network_address + 2

    @property
    def bastion_veth(self) -> str:
        """The controller-side end of the bastion's link to the bastion network; its other end is its eth1."""
        return f"clv-{link_tag(self.name)}-j"
