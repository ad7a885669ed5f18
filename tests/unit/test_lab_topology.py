"""A lab's names and addresses follow from its name and subnet: its nodes', and its bastion's on both networks."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from clusterctl.lab import LabError
from clusterctl.lab.topology import LabTopology, bastion_subnet

STATE_ROOT = Path("/run/clusterctl/lab")


def topology(name: str = "demo", subnet: str = "10.231.0.0/24") -> LabTopology:
    return LabTopology(name, ipaddress.IPv4Network(subnet), STATE_ROOT)


def test_the_bastion_sits_before_node1_on_the_lab_bridge():
    lab = topology()
    assert [str(lab.address(m)) for m in ("bastion", "node1", "node2")] == ["10.231.0.10", "10.231.0.11",
                                                                           "10.231.0.12"]


def test_the_bastion_network_is_the_small_block_right_after_the_lab_subnet():
    assert str(bastion_subnet(ipaddress.IPv4Network("10.231.0.0/24"))) == "10.231.1.0/29"
    assert str(bastion_subnet(ipaddress.IPv4Network("10.231.146.0/24"))) == "10.231.147.0/29"
    assert str(bastion_subnet(ipaddress.IPv4Network("192.168.7.64/27"))) == "192.168.7.96/29"


def test_the_controller_has_the_first_address_of_the_bastion_network_and_the_bastion_the_second():
    lab = topology(subnet="10.231.146.0/24")
    assert (str(lab.bastion_gateway), str(lab.bastion_address)) == ("10.231.147.1/29", "10.231.147.2")
    assert not lab.bastion_subnet.overlaps(lab.subnet)


@pytest.mark.parametrize("subnet", ["10.255.255.0/24", "172.31.255.0/24", "192.168.255.0/24"])
def test_a_lab_at_the_end_of_a_private_range_has_no_bastion_network(subnet):
    with pytest.raises(LabError, match="no private block after it"):
        bastion_subnet(ipaddress.IPv4Network(subnet))


def test_the_bastion_is_named_apart_from_the_nodes_everywhere():
    lab = topology()
    assert (lab.netns("bastion"), lab.veth("bastion"), lab.bastion_veth) == (
        "clab-demo-bastion", "clv-demo-b", "clv-demo-j")
    assert (lab.bridge, lab.bastion_bridge) == ("clb-demo", "clj-demo")
    assert lab.node_dir("bastion") == STATE_ROOT / "demo" / "bastion"
    assert str(lab.node_cgroup("bastion")) == "clusterctl-lab/demo/bastion"


def test_teardown_finds_the_bastions_namespace_and_links_by_name_but_not_another_labs():
    lab = topology()
    assert lab.netns_pattern().fullmatch("clab-demo-bastion")
    assert not lab.netns_pattern().fullmatch("clab-demo2-bastion")
    assert all(lab.veth_pattern().fullmatch(link) for link in ("clv-demo-b", "clv-demo-j", "clv-demo-3"))
    assert not lab.veth_pattern().fullmatch("clv-demo-x")


def test_a_long_lab_name_still_makes_interface_names_linux_accepts():
    lab = topology("a-rather-long-lab-name")
    assert all(len(link) <= 15 for link in (*lab.bridges, lab.veth("bastion"), lab.bastion_veth,
                                            lab.veth("node999")))


def test_a_machine_that_is_neither_a_node_nor_the_bastion_is_refused():
    with pytest.raises(LabError, match="nodes are named node1, node2"):
        topology().address("gateway")
