"""net apply on real lab hosts: the new address is confirmed, or the node rolls itself back.

Lab nodes run no NetworkManager, ifup or netplan; the fixture gives them a
RHEL-style /etc/sysconfig/network-scripts so the runbook's ifcfg format is
detected, and the ifcfg backend applies it with ip, its fallback on minimal hosts.
Every address a test gives a node is in its lab's subnet: the controller's
traffic never leaves this machine (it may well have a default route).
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
import time

from contextlib import contextmanager

import pytest

from clusterctl.errors import ExitStatus
from clusterctl.lab import LabUser
from clusterctl.events import State
from tests.lab_helpers import inside, run_steps, running_lab
from clusterctl.steps import network

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab():
    with running_lab("te2n", "10.231.83.0/24", 2) as lab:
        for node in lab.nodes:
            inside(lab, node, "mkdir -p /etc/sysconfig/network-scripts")
        yield lab


@pytest.fixture(scope="module")
def deploy_lab():
    """Logged in as deploy, with passworded sudo, through a bastion: as a company's hosts are reached."""
    with running_lab("te2nb", "10.231.88.0/24", 2, user=LabUser.parse("deploy:sudo"), bastion=True) as lab:
        for node in lab.nodes:
            inside(lab, node, "mkdir -p /etc/sysconfig/network-scripts")
        yield lab


def inventory_with(lab, tmp_path, node: str, new_address: str, via_old: bool = True):
    text = (lab.state_dir / "inventory.toml").read_text()
    old = lab.address(node)
    extra = 'interface = "eth0"\nprefix = 24\n' + (f'ssh_address = "{old}"\n' if via_old else "")
    text = text.replace(f'[hosts.{node}]\naddress = "{old}"\n', f'[hosts.{node}]\naddress = "{new_address}"\n{extra}')
    assert extra in text
    path = tmp_path / "net.toml"
    path.write_text(text)
    return path


def addresses(lab, node):
    return re.findall(r"inet (\S+)", inside(lab, node, "ip -4 addr show dev eth0"))


def lab_address(lab, index: int) -> str:
    """The address ``index`` of the lab's subnet (wherever CLUSTERCTL_TEST_SUBNET_OFFSET put it)."""
    return str(ipaddress.ip_network(lab.subnet)[index])


@contextmanager
def unanswered(lab, node: str, address: str):
    """``node`` sends nothing from ``address`` (a policy rule inside the node): it may take the address,
    but the controller's SYNs to it stay unanswered, and stay on the lab bridge."""
    inside(lab, node, f"ip route add prohibit default table 187 && ip rule add from {address} lookup 187")
    try:
        yield
    finally:
        inside(lab, node, f"ip rule del from {address} lookup 187; ip route flush table 187", check=False)


def test_unreachable_new_address_rolls_back(lab, tmp_path):
    new = lab_address(lab, 205)
    path = inventory_with(lab, tmp_path, "node2", new)
    before = addresses(lab, "node2")
    with unanswered(lab, "node2", new):
        status, recorder, _ = run_steps(path, network.Network(6))
    assert status == ExitStatus.HOST_FAILURE
    failed = [e for e in recorder.events if e.state == State.FAILED]
    assert failed and "rolled back" in failed[-1].detail and "not reachable" in failed[-1].detail
    assert addresses(lab, "node2") == before
    assert inside(lab, "node2", "ls /etc/sysconfig/network-scripts").strip() == ""


def test_reachable_new_address_is_kept_and_rendered_as_ifcfg(lab, tmp_path):
    new = lab_address(lab, 111)
    path = inventory_with(lab, tmp_path, "node1", new)
    status, recorder, _ = run_steps(path, network.Network(10))
    assert status == ExitStatus.OK, [e.detail for e in recorder.events if e.state == State.FAILED]
    assert recorder.final_states()["node1", "network"] == State.CHANGED
    assert addresses(lab, "node1") == [f"{new}/24"]
    cfg = inside(lab, "node1", "cat /etc/sysconfig/network-scripts/ifcfg-eth0")
    assert f"IPADDR={new}" in cfg and "BOOTPROTO=static" in cfg and "PREFIX=24" in cfg
    assert verdict_after_the_timeout(lab, "node1", 10) == "confirmed"
    assert addresses(lab, "node1") == [f"{new}/24"]
    again = inventory_with(lab, tmp_path, "node1", new, via_old=False)
    status, recorder, _ = run_steps(again, network.Network(10))
    assert status == ExitStatus.OK
    assert recorder.final_states()["node1", "network"] == State.UNCHANGED


def test_net_plan_and_apply_with_hosts_touch_the_named_host_alone(lab, tmp_path):
    # Both hosts have addressing keys (the addresses they have now), so both need an ifcfg file.
    text = (lab.state_dir / "inventory.toml").read_text()
    for node in lab.nodes:
        now = addresses(lab, node)[0].split("/")[0]
        text = text.replace(f'[hosts.{node}]\naddress = "{lab.address(node)}"\n',
                            f'[hosts.{node}]\naddress = "{now}"\ninterface = "eth0"\nprefix = 24\n')
    path = tmp_path / "both.toml"
    path.write_text(text)
    for node in lab.nodes:
        inside(lab, node, "rm -f /etc/sysconfig/network-scripts/ifcfg-eth0")
    plan = subprocess.run([sys.executable, "-m", "clusterctl", "net", "plan", "--hosts", "node2", "-i", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert re.search(r"^node2\s+network\s+configure", plan.stdout, re.M) and "node1" not in plan.stdout
    before = addresses(lab, "node1")
    status, recorder, _ = run_steps(path, network.Network(10), hosts=["node2"])
    assert status == ExitStatus.OK, [e.detail for e in recorder.events if e.state == State.FAILED]
    assert {h for (h, _), s in recorder.final_states().items() if s == State.CHANGED} == {"node2"}
    assert inside(lab, "node1", "ls /etc/sysconfig/network-scripts").strip() == ""
    assert addresses(lab, "node1") == before
    assert "IPADDR=" in inside(lab, "node2", "cat /etc/sysconfig/network-scripts/ifcfg-eth0")


def net_apply(path, *words: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clusterctl", "-i", str(path), "net", "apply", *words],
                          capture_output=True, text=True, timeout=300)


def verdict_after_the_timeout(lab, node: str, timeout: int) -> str:
    """The node's own verdict on its last change, read once its rollback timer would have run out."""
    time.sleep(timeout + 3)
    return inside(lab, node, "cat \"$(ls -td /run/clusterctl-net-* | head -n 1)/status\"").strip()


@pytest.mark.parametrize("node, new_index", [("node2", None), ("node1", 111)],
                         ids=["at-its-current-address", "at-a-new-address"])
def test_a_sudo_user_behind_a_bastion_gets_the_change_confirmed(deploy_lab, tmp_path, monkeypatch, node, new_index):
    # Issue #18: as deploy the confirmation never landed (the state dir is root's), yet the run said
    # "reached at the new address", and the node rolled back ten seconds later.
    lab = deploy_lab
    monkeypatch.setenv("CLUSTERCTL_BECOME_PASSWORD", lab.user_password)
    old = lab.address(node)
    new_address = None if new_index is None else lab_address(lab, new_index)
    path = inventory_with(lab, tmp_path, node, new_address or old, via_old=new_address is not None)
    run = net_apply(path, "--hosts", node, "--timeout", "10")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    wanted = new_address or old
    assert re.search(rf"^{node}\s+network\s+changed\s+{re.escape(wanted)}/24 via ifcfg, reached at the new address",
                     run.stdout, re.M), run.stdout[-3000:]
    assert lab.user_password not in run.stdout + run.stderr
    assert verdict_after_the_timeout(lab, node, 10) == "confirmed"
    assert f"IPADDR={wanted}" in inside(lab, node, "cat /etc/sysconfig/network-scripts/ifcfg-eth0")
    assert addresses(lab, node) == [f"{wanted}/24"]


def test_a_confirmation_that_cannot_land_is_a_failed_host_not_a_success(deploy_lab, tmp_path, monkeypatch):
    # sudo that takes the password for the facts but refuses net.sh confirm: the run must not say "changed".
    lab = deploy_lab
    monkeypatch.setenv("CLUSTERCTL_BECOME_PASSWORD", lab.user_password)
    node = "node2"
    inside(lab, node, "rm -f /etc/sysconfig/network-scripts/ifcfg-eth0")
    inside(lab, node, "printf '%s\\n' '#!/bin/sh' 'exit 1' > /usr/local/bin/touch && chmod 755 /usr/local/bin/touch")
    try:
        path = inventory_with(lab, tmp_path, node, lab.address(node), via_old=False)
        run = net_apply(path, "--hosts", node, "--timeout", "6")
        assert run.returncode == 1, run.stdout[-3000:] + run.stderr
        line = re.search(rf"^{node}\s+network\s+failed\s+(.*)$", run.stdout, re.M)
        assert line and "the confirmation failed" in line.group(1) and "cannot write" in line.group(1) \
            and "rolled back" in line.group(1), run.stdout[-3000:]
        assert "reached at the new address" not in run.stdout
        assert inside(lab, node, "ls /etc/sysconfig/network-scripts").strip() == ""
    finally:
        inside(lab, node, "rm -f /usr/local/bin/touch")
