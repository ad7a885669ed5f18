"""clusterctl bootstrap on bare lab hosts: the whole runbook, converging, planning, resuming."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from clusterctl import bootstrap
from clusterctl.errors import ExitStatus
from clusterctl.events import Event, State
from clusterctl.lab.runbook import pick_packages, render_runbook_sections
from tests.lab_helpers import inside, run_steps, running_lab
from clusterctl.steps import zookeeper

pytestmark = pytest.mark.e2e


def node_state(lab) -> dict[str, str]:
    """What a node holds that bootstrap would change: checked before and after a plan."""
    script = ("ls -A /opt /root/.ssh 2>&1; md5sum /etc/hosts; ls /etc/profile.d; "
              "command -v java || echo no-java; pgrep -f '[Q]uorumPeerMain' || echo no-zk")
    return {node: inside(lab, node, script, check=False) for node in lab.nodes}


@pytest.fixture(scope="module")
def lab(artifacts):
    jdk, zookeeper = pick_packages(artifacts)
    extra = render_runbook_sections(["node1", "node2", "node3", "node4"], jdk, zookeeper, heap_mb=128)
    with running_lab("te2b", "10.231.84.0/24", 4, inventory_extra=extra) as lab:
        yield lab


@pytest.fixture(scope="module")
def planned_then_bootstrapped(lab):
    inventory = lab.state_dir / "inventory.toml"
    before = node_state(lab)
    plan = subprocess.run([sys.executable, "-m", "clusterctl", "plan", "-i", str(inventory)],
                          capture_output=True, text=True, timeout=120)
    diff = subprocess.run([sys.executable, "-m", "clusterctl", "plan", "--diff", "-i", str(inventory)],
                          capture_output=True, text=True, timeout=120)
    after_plan = node_state(lab)
    boot = subprocess.run([sys.executable, "-m", "clusterctl", "bootstrap", "-i", str(inventory)],
                          capture_output=True, text=True, timeout=600)
    return inventory, before, (plan, diff), after_plan, boot


def test_plan_on_a_fresh_lab_lists_every_change_and_touches_nothing(planned_then_bootstrapped):
    _, before, (plan, diff), after_plan, _ = planned_then_bootstrapped
    assert plan.returncode == 0 and diff.returncode == 0, plan.stdout + plan.stderr
    assert after_plan == before
    rows = {tuple(line.split()[:2]) for line in plan.stdout.splitlines()}
    for node in ("node1", "node2", "node3", "node4"):
        assert {(node, "hosts"), (node, "ssh-keys"), (node, "ssh-trust"), (node, "jdk-stage"),
                (node, "jdk-install")} <= rows, plan.stdout
    for node in ("node2", "node3", "node4"):
        assert (node, "zookeeper") in rows
    assert "network: no host has an interface key" in plan.stdout, "a step left out is said, not silent"
    # The checks the run will make are planned too (and the run then makes them: the next test).
    assert "check verify-ssh: each of 4 host(s) logs in along a ring" in plan.stdout, plan.stdout
    assert "check jdk-verify: a login shell finds java on 4 host(s), and java -version runs on node1" in plan.stdout
    assert "check zk-smoke: a znode written through one of 3 server(s)" in plan.stdout
    assert "+++ /etc/hosts (planned)" not in plan.stdout, "diffs only with --diff"
    assert "+++ /etc/hosts (planned)" in diff.stdout
    assert "server.1=node2:2888:3888:participant;0.0.0.0:2181" in diff.stdout


def test_bootstrap_ends_with_a_smoke_tested_ensemble(lab, planned_then_bootstrapped):
    _, _, _, _, boot = planned_then_bootstrapped
    assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
    assert "zk-smoke" in boot.stdout and "quorum: voters up 3 of 3" in boot.stdout
    roles = sorted(inside(lab, n, "echo srvr | timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181; "
                                  "cat >&3; cat <&3' | sed -n 's/^Mode: //p'").strip()
                   for n in ("node2", "node3", "node4"))
    assert roles == ["follower", "follower", "leader"]
    for node in lab.nodes:
        assert "17.0.15" in inside(lab, node, "bash -lc 'java -version' 2>&1")
    assert inside(lab, "node3", "cat /var/lib/zookeeper/myid").strip() == "2"


def test_second_run_reports_no_changes(lab, planned_then_bootstrapped):
    inventory = planned_then_bootstrapped[0]
    status, recorder, _ = run_steps(inventory, bootstrap.select_steps())
    assert status == ExitStatus.OK
    states = set(recorder.final_states().values())
    assert State.CHANGED not in states and State.FAILED not in states
    plan = subprocess.run([sys.executable, "-m", "clusterctl", "plan", "-i", str(inventory)],
                          capture_output=True, text=True, timeout=120)
    assert "plan: nothing to change" in plan.stdout
    assert "check zk-smoke: not run: nothing changes" in plan.stdout
    assert not any(step == "zk-smoke" for _, step in recorder.final_states()), "the smoke test did not run"


def test_without_the_jdk_package_status_and_plan_work_and_jdk_install_refuses(lab, artifacts,
                                                                                planned_then_bootstrapped):
    """A second controller, or this one after the package was deleted once installed, has no JDK package."""
    inventory = planned_then_bootstrapped[0]
    jdk, _ = pick_packages(artifacts)
    gone = lab.state_dir / "deleted" / jdk.name
    elsewhere = inventory.with_name("inventory-without-jdk-package.toml")
    elsewhere.write_text(inventory.read_text().replace(f'package = "{jdk}"', f'package = "{gone}"'))

    def cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "clusterctl", *argv, "-i", str(elsewhere)],
                              capture_output=True, text=True, timeout=120)

    status = cli("zk", "status")
    assert status.returncode == 0 and "quorum: voters up 3 of 3" in status.stdout, status.stdout + status.stderr
    plan = cli("plan", "--json")
    assert plan.returncode == 0, plan.stdout[-2000:] + plan.stderr
    planned = __import__("json").loads(plan.stdout)
    assert set(planned["not_compared"]) == {"jdk-stage", "jdk-install"}
    assert all(row["changes"][0]["summary"].startswith(f"not compared: jdk.package: {gone} does not exist")
               for row in planned["plan"] if row["step"] in ("jdk-stage", "jdk-install"))
    assert planned["changes"] == 0, "everything else is as the inventory says"
    refused = cli("jdk", "install")
    assert refused.returncode == 2 and refused.stderr == (
        f"clusterctl: {elsewhere}: jdk.package: {gone} does not exist or is unreadable "
        f"(fix: build it with 'clusterctl artifacts' or point the key at your package)\n"), refused.stderr


def test_node_killed_during_the_jdk_step_leaves_others_finished_and_next_run_completes(lab, planned_then_bootstrapped):
    inventory = planned_then_bootstrapped[0]
    status, _, _ = run_steps(inventory, lambda session: zookeeper.stop(session, zookeeper.plan_stop(session)))
    assert status == ExitStatus.OK
    for node in lab.nodes:
        inside(lab, node, "rpm -e jdk-17 >/dev/null 2>&1; rm -rf /opt/apps /usr/java; rm -f /etc/profile.d/java.sh")
    killed = threading.Event()

    def kill_on_bytes(event: Event) -> None:
        if event.kind == "bytes" and event.bytes_done > 0 and not killed.is_set():
            killed.set()
            threading.Thread(target=lab.stop_node, args=("node3",), kwargs={"crash": True}).start()

    status, recorder, _ = run_steps(inventory, lambda s: s.reporter.add(kill_on_bytes), bootstrap.select_steps())
    assert killed.is_set()
    assert status == ExitStatus.HOST_FAILURE
    final = recorder.final_states()
    assert any(state == State.FAILED for (host, _), state in final.items() if host == "node3")
    for node in ("node1", "node2", "node4"):
        assert not any(state == State.FAILED for (host, _), state in final.items() if host == node), final
        assert "17.0.15" in inside(lab, node, "bash -lc 'java -version' 2>&1")
    lab.start_node("node3")
    staged = inside(lab, "node3", "ls -A /opt/apps 2>/dev/null || true").split()
    assert not any(name.endswith(".rpm") for name in staged), "no truncated package under the final name"
    status, recorder, _ = run_steps(inventory, bootstrap.select_steps())
    assert status == ExitStatus.OK, [e.detail for e in recorder.events if e.state == State.FAILED]
    assert "17.0.15" in inside(lab, "node3", "bash -lc 'java -version' 2>&1")
    assert recorder.final_states()["node1", "jdk-install"] == State.UNCHANGED
