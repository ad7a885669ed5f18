"""The JDK step on real lab hosts: staging in each mode, each package type, re-runs, interruptions.

One lab for the module; node state is reset between cases from inside the
nodes rather than by new labs.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from clusterctl.core.transfer import local_file
from clusterctl.events import Recorder, State
from clusterctl.steps import hosts_file, jdk, ssh_trust
from clusterctl.steps.stage import StageFile

from tests.lab_helpers import inside, run_steps, running_lab, throttle

pytestmark = pytest.mark.e2e
NODES = ["node1", "node2", "node3", "node4"]
STAGE = "/opt/apps"
UNINSTALL = ("rm -rf /opt/apps /etc/profile.d/java.sh /usr/java; "
             "rpm -e --force-debian jdk-17 >/dev/null 2>&1; dpkg -P jdk-17 >/dev/null 2>&1; true")
KINDS = {"rpm": "jdk_rpm", "deb": "jdk_deb", "tarball": "jdk_tarball"}


@pytest.fixture(scope="module")
def lab():
    with running_lab("tjjdk", "10.231.93.0/24", 4) as lab:
        yield lab


@pytest.fixture(scope="module")
def trusted(lab):
    """The previous runbook step: /etc/hosts and node-to-node SSH trust."""
    status, _, _ = run_steps(lab.inventory_path, [hosts_file.HostsFile(), *ssh_trust.steps()])
    assert status == 0
    return lab


def inventory_for(lab, tmp_path_factory, package, distribute_mode: str = "auto"):
    path = tmp_path_factory.mktemp("inventory") / "cluster.toml"
    path.write_text(lab.inventory_path.read_text()
                    + f'\n[jdk]\npackage = "{package}"\ndistribute = "{distribute_mode}"\n')
    return path


def on_all(lab, script: str) -> dict[str, str]:
    return {node: inside(lab, node, script) for node in NODES}


def step_states(recorder: Recorder, step: str) -> dict[str, State]:
    return {host: state for (host, s), state in recorder.final_states().items() if s == step}


def stage_with(mode: str, tarball):
    return StageFile(tarball, STAGE, NODES, mode)


# -- staging in each mode -------------------------------------------------------------

@pytest.mark.parametrize("mode", ["direct", "relay", "pipeline"])
def test_each_mode_lands_identical_bytes_on_every_node(trusted, artifacts, mode):
    lab, tarball = trusted, artifacts["jdk_tarball"]
    on_all(lab, "rm -rf /opt/apps")
    status, recorder, _ = run_steps(lab.inventory_path, stage_with(mode, tarball))
    assert status == 0
    assert step_states(recorder, "stage") == {n: State.CHANGED for n in NODES}
    assert all(f"via {mode}" in e.detail for e in recorder.events if e.kind == "state" and e.state == State.CHANGED)
    want = local_file(tarball).sha256
    for node, listing in on_all(lab, f"sha256sum {STAGE}/{tarball.name}; ls -A {STAGE}").items():
        lines = listing.split()
        assert lines[0] == want, node
        assert sorted(lines[2:]) == [tarball.name, f"{tarball.name}.sha256"], "no leftover part file"


def test_direct_staging_reports_bytes_for_the_live_grid(trusted, artifacts):
    lab, tarball = trusted, artifacts["jdk_tarball"]
    on_all(lab, "rm -rf /opt/apps")
    _, recorder, _ = run_steps(lab.inventory_path, stage_with("direct", tarball))
    size = tarball.stat().st_size
    for node in NODES:
        progress = [e.bytes_done for e in recorder.events if e.kind == "bytes" and e.host == node]
        assert progress == sorted(progress) and progress[-1] == size, node


# -- each package type: install, check, and a second run -------------------------------

@dataclass
class Installed:
    kind: str
    first: Recorder
    second: Recorder
    second_status: int
    staged_before: dict[str, str]
    staged_after: dict[str, str]
    login_java: dict[str, str]


@pytest.fixture(scope="module", params=list(KINDS))
def installed(request, trusted, artifacts, tmp_path_factory) -> Installed:
    """A fresh install of one package type, then a second run; everything observed kept for the tests."""
    lab, kind = trusted, request.param
    on_all(lab, UNINSTALL)
    inventory = inventory_for(lab, tmp_path_factory, artifacts[KINDS[kind]])
    status, first, _ = run_steps(inventory, jdk.steps())
    assert status == 0, [e for e in first.events if e.state == State.FAILED]
    stat = f"stat -c '%i %Y %y' {STAGE}/{artifacts[KINDS[kind]].name}"
    before = on_all(lab, stat)
    login_java = on_all(lab, "bash -lc 'echo $JAVA_HOME; command -v java; java -version 2>&1'")
    second_status, second, _ = run_steps(inventory, jdk.steps())
    return Installed(kind, first, second, second_status, before, on_all(lab, stat), login_java)


def test_first_install_stages_installs_and_checks_every_node(installed):
    for step in (jdk.STAGE_STEP, jdk.INSTALL_STEP):
        assert step_states(installed.first, step) == {n: State.CHANGED for n in NODES}, step
    assert step_states(installed.first, jdk.VERIFY_STEP) == {n: State.OK for n in NODES}


def test_java_works_in_a_login_shell_on_every_node(installed):
    for node, output in installed.login_java.items():
        java_home, java, version = output.split("\n", 2)
        assert (java_home, java) == ("/usr/java/default", "/usr/java/default/bin/java"), node
        assert 'version "17' in version, node


def test_second_run_transfers_nothing_installs_nothing_and_says_so(installed):
    assert installed.second_status == 0
    for step in (jdk.STAGE_STEP, jdk.INSTALL_STEP):
        assert step_states(installed.second, step) == {n: State.UNCHANGED for n in NODES}, step
    assert not [e for e in installed.second.events if e.kind == "bytes"]


def test_second_run_leaves_the_staged_file_untouched(installed):
    assert installed.staged_after == installed.staged_before


def test_second_run_asks_each_node_once(installed):
    commands = [e.host for e in installed.second.events if e.kind == "command"]
    assert sorted(commands) == NODES, "one gather round trip per node, nothing else"


def test_jdk_verify_command_prints_the_version_table(trusted, artifacts, tmp_path_factory):
    lab = trusted
    inventory = inventory_for(lab, tmp_path_factory, artifacts["jdk_tarball"])
    run_steps(inventory, jdk.steps())
    result = subprocess.run([sys.executable, "-m", "clusterctl", "jdk", "verify", "-i", str(inventory)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("/usr/java/default/bin/java") == len(NODES)


def test_a_node_without_rpm_fails_alone_and_gets_nothing_staged(trusted, artifacts, tmp_path_factory):
    lab = trusted
    on_all(lab, UNINSTALL)
    inside(lab, "node3", "mv /usr/bin/rpm /usr/bin/rpm.hidden")
    try:
        inventory = inventory_for(lab, tmp_path_factory, artifacts["jdk_rpm"])
        status, recorder, _ = run_steps(inventory, jdk.steps())
    finally:
        inside(lab, "node3", "mv /usr/bin/rpm.hidden /usr/bin/rpm")
    assert status == 1
    failed = [e for e in recorder.events if e.kind == "state" and e.state == State.FAILED]
    assert [(e.host, e.step) for e in failed] == [("node3", jdk.INSTALL_STEP)]
    assert failed[0].detail.startswith("rpm is not installed on this host")
    assert step_states(recorder, jdk.VERIFY_STEP) == {n: State.OK for n in NODES if n != "node3"}
    assert inside(lab, "node3", f"ls -A {STAGE} 2>/dev/null || true").strip() == ""


# -- interrupted transfers ------------------------------------------------------------------

class StopWhenBytesFlow:
    """Stops ``node`` from another thread once its part file holds ``threshold`` bytes."""

    def __init__(self, lab, node: str, part: str, threshold: int = 4 << 20):
        self.lab, self.node, self.part, self.threshold = lab, node, part, threshold
        self.seen = 0
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            size = inside(self.lab, self.node, f"stat -c %s {self.part} 2>/dev/null || echo 0", check=False)
            self.seen = int(size.strip() or 0)
            if self.seen >= self.threshold:
                self.lab.stop_node(self.node)
                return
            time.sleep(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join()


@pytest.mark.parametrize("mode, victim, also_failed", [
    ("direct", "node2", []),
    ("relay", "node2", []),  # node4 was to copy from node2: it copies from node1 instead
    ("pipeline", "node3", []),  # node4, cut off behind node3, gets its copy straight from the controller
])
def test_an_interrupted_transfer_leaves_no_file_and_the_next_run_completes(trusted, artifacts, mode, victim,
                                                                           also_failed):
    lab, tarball = trusted, artifacts["jdk_tarball"]
    on_all(lab, "rm -rf /opt/apps")
    part = f"{STAGE}/.{tarball.name}.clusterctl-part"
    throttle(lab, victim, "40mbit")
    try:
        with StopWhenBytesFlow(lab, victim, part) as watcher:
            status, recorder, _ = run_steps(lab.inventory_path, stage_with(mode, tarball))
    finally:
        throttle(lab, victim, None)
        lab.start_node(victim)
    assert watcher.seen >= watcher.threshold, "the node was stopped mid-copy"
    assert status == 1
    failed = sorted([victim] + also_failed)
    states = step_states(recorder, "stage")
    assert sorted(n for n, s in states.items() if s == State.FAILED) == failed
    assert all(states[n] == State.CHANGED for n in NODES if n not in failed)
    reasons = {e.host: e.detail for e in recorder.events if e.kind == "state" and e.state == State.FAILED}
    assert all(reasons[n] for n in failed), "a failed node says why"
    for node in failed:
        assert inside(lab, node, f"ls {STAGE}/{tarball.name} 2>/dev/null || echo none").strip() == "none"

    status, recorder, _ = run_steps(lab.inventory_path, stage_with(mode, tarball))
    assert status == 0
    assert step_states(recorder, "stage") == {n: State.CHANGED if n in failed else State.UNCHANGED for n in NODES}
    want = local_file(tarball).sha256
    assert {n: out.split()[0] for n, out in on_all(lab, f"sha256sum {STAGE}/{tarball.name}").items()} == \
        {n: want for n in NODES}
