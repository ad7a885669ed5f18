"""Parallel test workers never share a lab: each has its own lab names and address plane."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from tests.lab_helpers import worker_separation

E2E = Path(__file__).resolve().parents[1] / "e2e"
# test_lab.py's labs stay at fixed addresses whatever the worker: 10.231.140.0 to 10.231.147.255.
FIXED = list(ipaddress.summarize_address_range(ipaddress.IPv4Address("10.231.140.0"),
                                               ipaddress.IPv4Address("10.231.147.255")))


def test_the_first_worker_keeps_the_runs_plane_and_adds_its_letter():
    assert worker_separation("gw0", {}) == {"CLUSTERCTL_TEST_LAB_PREFIX": "a", "CLUSTERCTL_TEST_SUBNET_PLANE": "231"}
    assert worker_separation("gw0", {"CLUSTERCTL_TEST_LAB_PREFIX": "c", "CLUSTERCTL_TEST_SUBNET_PLANE": "236"}) == {
        "CLUSTERCTL_TEST_LAB_PREFIX": "ca", "CLUSTERCTL_TEST_SUBNET_PLANE": "236"}


def test_each_further_worker_moves_to_the_next_plane():
    assert worker_separation("gw1", {}) == {"CLUSTERCTL_TEST_LAB_PREFIX": "b", "CLUSTERCTL_TEST_SUBNET_PLANE": "232"}
    assert worker_separation("gw1", {"CLUSTERCTL_TEST_LAB_PREFIX": "c", "CLUSTERCTL_TEST_SUBNET_PLANE": "236"}) == {
        "CLUSTERCTL_TEST_LAB_PREFIX": "cb", "CLUSTERCTL_TEST_SUBNET_PLANE": "237"}


def test_a_worker_past_the_last_plane_is_refused():
    with pytest.raises(ValueError, match="gw5 has no lab plane"):
        worker_separation("gw5", {"CLUSTERCTL_TEST_SUBNET_PLANE": "251"})


def e2e_lab_subnets() -> dict[str, list[ipaddress.IPv4Network]]:
    """The subnets the e2e modules other than test_lab.py bring labs up on, with the bastion /29 after each
    (whether or not it has a bastion)."""
    found = {}
    for path in sorted(E2E.glob("test_*.py")):
        if path.name != "test_lab.py":
            nets = [ipaddress.IPv4Network(s) for s in re.findall(r'"(10\.231\.\d+\.\d+/\d+)"', path.read_text())]
            found[path.name] = nets + [ipaddress.IPv4Network((n.broadcast_address + 1, 29)) for n in nets]
    return found


def test_no_other_module_brings_a_lab_up_on_test_labs_fixed_addresses():
    # gw0 keeps plane 231, and test_lab.py may run beside any module on any worker.
    subnets = e2e_lab_subnets()
    assert sum(map(len, subnets.values())) > 20
    assert {name: [str(n) for n in nets if any(n.overlaps(f) for f in FIXED)] for name, nets in subnets.items()} == {
        name: [] for name in subnets}

