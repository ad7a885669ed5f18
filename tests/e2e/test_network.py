"""net apply on real lab hosts: the new address is confirmed, or the node rolls itself back.

Lab nodes run no NetworkManager, ifup or netplan; the fixture gives them a
RHEL-style /etc/sysconfig/network-scripts so the runbook's ifcfg format is
detected, and the ifcfg backend applies it with ip, its fallback on minimal hosts.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from clusterctl.errors import ExitStatus
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


def test_unreachable_new_address_rolls_back(lab, tmp_path):
    path = inventory_with(lab, tmp_path, "node2", "10.231.250.5")  # no route from the controller
    before = addresses(lab, "node2")
    status, recorder, _ = run_steps(path, network.Network(6))
    assert status == ExitStatus.HOST_FAILURE
    failed = [e for e in recorder.events if e.state == State.FAILED]
    assert failed and "rolled back" in failed[-1].detail
    assert addresses(lab, "node2") == before
    assert inside(lab, "node2", "ls /etc/sysconfig/network-scripts").strip() == ""


def test_reachable_new_address_is_kept_and_rendered_as_ifcfg(lab, tmp_path):
    path = inventory_with(lab, tmp_path, "node1", "10.231.83.111")
    status, recorder, _ = run_steps(path, network.Network(10))
    assert status == ExitStatus.OK, [e.detail for e in recorder.events if e.state == State.FAILED]
    assert recorder.final_states()["node1", "network"] == State.CHANGED
    assert addresses(lab, "node1") == ["10.231.83.111/24"]
    cfg = inside(lab, "node1", "cat /etc/sysconfig/network-scripts/ifcfg-eth0")
    assert "IPADDR=10.231.83.111" in cfg and "BOOTPROTO=static" in cfg and "PREFIX=24" in cfg
    again = inventory_with(lab, tmp_path, "node1", "10.231.83.111", via_old=False)
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
