"""Static address configs in each backend's own format (the runbook's ifcfg-eth0)."""

from __future__ import annotations

import configparser
import ipaddress

from hypothesis import given, strategies as st

from clusterctl.render.network import StaticAddress, config_path, parse_ifcfg, render_network_config

RUNBOOK = StaticAddress("eth0", "192.168.10.12", 24, "192.168.10.1", ("192.168.10.1", "8.8.8.8"))


def test_ifcfg_matches_the_runbook_format():
    values = parse_ifcfg(render_network_config("ifcfg", RUNBOOK))
    assert values == {"DEVICE": "eth0", "TYPE": "Ethernet", "ONBOOT": "yes", "BOOTPROTO": "static",
                      "IPADDR": "192.168.10.12", "PREFIX": "24", "NETMASK": "255.255.255.0",
                      "GATEWAY": "192.168.10.1", "DNS1": "192.168.10.1", "DNS2": "8.8.8.8"}
    assert config_path("ifcfg", "eth0") == "/etc/sysconfig/network-scripts/ifcfg-eth0"


def test_nmconnection_is_a_keyfile_with_a_manual_ipv4():
    keyfile = configparser.ConfigParser(interpolation=None)
    keyfile.read_string(render_network_config("nmconnection", RUNBOOK))
    assert keyfile["connection"]["interface-name"] == "eth0"
    assert keyfile["ipv4"]["method"] == "manual"
    assert keyfile["ipv4"]["address1"] == "192.168.10.12/24,192.168.10.1"
    assert keyfile["ipv4"]["dns"] == "192.168.10.1;8.8.8.8;"


def test_netplan_and_networkd_carry_address_gateway_and_dns():
    netplan = render_network_config("netplan", RUNBOOK)
    assert "addresses: [192.168.10.12/24]" in netplan and "via: 192.168.10.1" in netplan
    assert "dhcp4: false" in netplan and "addresses: [192.168.10.1, 8.8.8.8]" in netplan
    networkd = render_network_config("networkd", RUNBOOK).splitlines()
    assert "Name=eth0" in networkd and "Address=192.168.10.12/24" in networkd
    assert "Gateway=192.168.10.1" in networkd and "DNS=8.8.8.8" in networkd


def test_no_gateway_means_no_default_route_in_any_backend():
    bare = StaticAddress("eth1", "10.0.0.5", 16)
    for backend in ("ifcfg", "nmconnection", "netplan", "networkd"):
        text = render_network_config(backend, bare)
        assert "GATEWAY" not in text and "Gateway" not in text and "via:" not in text and ",10." not in text


@given(st.ip_addresses(v=4), st.integers(1, 32))
def test_ifcfg_round_trips_address_prefix_and_netmask(address, prefix):
    values = parse_ifcfg(render_network_config("ifcfg", StaticAddress("eth0", str(address), prefix)))
    assert values["IPADDR"] == str(address) and values["PREFIX"] == str(prefix)
    assert ipaddress.ip_network(f"0.0.0.0/{values['NETMASK']}").prefixlen == prefix
