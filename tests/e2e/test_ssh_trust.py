"""SSH trust on real lab hosts, checked from inside the nodes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clusterctl.errors import ExitStatus
from clusterctl.events import State
from clusterctl.steps import hosts_file, ssh_trust

from tests.lab_helpers import inside, run_steps, running_lab

pytestmark = pytest.mark.e2e
NODES = ["node1", "node2", "node3", "node4"]


def trust(mode: str = "ring") -> list:
    """What `clusterctl ssh-trust` runs: the hosts file, key pairs, trust files and their proof."""
    return [hosts_file.HostsFile(), *ssh_trust.steps(mode)]


def proof(results) -> ssh_trust.VerifyMatrix:
    return results[-1].outputs[ssh_trust.SshVerify.name]


@pytest.fixture(scope="module")
def lab():
    with running_lab("te2e", "10.231.81.0/24", 4) as lab:
        yield lab


@pytest.fixture(scope="module")
def trusted(lab):
    """The first ssh-trust run, through the real command line."""
    inventory = lab.state_dir / "inventory.toml"
    result = subprocess.run([sys.executable, "-m", "clusterctl", "ssh-trust", "-i", str(inventory)],
                            capture_output=True, text=True, timeout=300)
    return inventory, result


def test_first_run_succeeds_and_prints_the_matrix(trusted):
    _, result = trusted
    assert result.returncode == 0, result.stdout + result.stderr
    assert "node → node SSH" in result.stdout
    assert "✗" not in result.stdout


def test_every_node_reaches_every_other_by_name_without_prompting(lab, trusted):
    for source in NODES:
        for target in NODES:
            if source != target:
                out = inside(lab, source, f"ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes {target} hostname")
                assert out.strip() == target


def test_keys_files_and_modes_from_inside(lab, trusted):
    pubkeys = {n: inside(lab, n, "cat /root/.ssh/id_ed25519.pub").split()[1] for n in NODES}
    assert len(set(pubkeys.values())) == 4, "each node has its own key pair"
    for node in NODES:
        auth = inside(lab, node, "cat /root/.ssh/authorized_keys")
        blobs = [line.split()[1] for line in auth.splitlines() if line.strip() and not line.startswith("#")]
        assert len(blobs) == len(set(blobs)), "no duplicate keys"
        assert set(pubkeys.values()) <= set(blobs)
        assert inside(lab, node, "stat -c '%a %U' /root/.ssh /root/.ssh/authorized_keys /root/.ssh/id_ed25519"
                      ).split("\n")[:3] == ["700 root", "600 root", "600 root"]
        hosts = inside(lab, node, "cat /etc/hosts")
        for other in NODES:
            assert f"{lab.address(other)} {other}" in hosts


def test_private_keys_never_leave_their_node(lab, trusted):
    privates = {n: inside(lab, n, "cat /root/.ssh/id_ed25519") for n in NODES}
    for node in NODES:
        for other, key in privates.items():
            if other != node:
                body = key.strip().splitlines()[-2]  # the first lines are a header common to all keys
                assert inside(lab, node, f"grep -rlF '{body}' /root /etc /tmp /opt || true").strip() == ""


def test_second_run_changes_nothing(lab, trusted):
    inventory, _ = trusted
    before = inside(lab, "node2", "stat -c '%i %Y' /root/.ssh/authorized_keys /root/.ssh/known_hosts /etc/hosts")
    status, recorder, results = run_steps(inventory, trust())
    assert status == ExitStatus.OK
    states = recorder.final_states()
    assert {s for (h, step), s in states.items() if step in ("hosts", "ssh-trust")} == {State.UNCHANGED}
    assert proof(results).ok
    assert inside(lab, "node2", "stat -c '%i %Y' /root/.ssh/authorized_keys /root/.ssh/known_hosts /etc/hosts") \
        == before


def test_existing_authorized_keys_lines_are_kept(lab, trusted):
    inventory, _ = trusted
    foreign = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIForeignKeyForTestingOnly000000000000000000 ops@elsewhere"
    inside(lab, "node3", f"echo '{foreign}' >> /root/.ssh/authorized_keys")
    inside(lab, "node3", "rm /root/.ssh/id_ed25519 /root/.ssh/id_ed25519.pub")
    status, recorder, results = run_steps(inventory, trust())
    assert status == ExitStatus.OK and proof(results).ok
    assert recorder.final_states()["node3", "ssh-trust"] == State.CHANGED
    assert foreign in inside(lab, "node3", "cat /root/.ssh/authorized_keys")
    new_key = inside(lab, "node3", "cat /root/.ssh/id_ed25519.pub").split()[1]
    for node in NODES:
        assert new_key in inside(lab, node, "cat /root/.ssh/authorized_keys")


def test_changed_host_key_is_refused_and_nothing_is_done_there(lab, trusted):
    inventory, _ = trusted
    marker = "# touched-after-rekey"
    inside(lab, "node4", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null")
    inside(lab, "node4", f"sed -i '/{marker}/d' /etc/hosts")
    before = inside(lab, "node4", "md5sum /etc/hosts /root/.ssh/authorized_keys")
    result = subprocess.run([sys.executable, "-m", "clusterctl", "ssh-trust", "-i", str(inventory)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == ExitStatus.HOST_FAILURE
    assert "host key for node4" in result.stdout and "changed" in result.stdout
    assert result.stdout.count("SHA256:") >= 2, "both fingerprints are named"
    assert inside(lab, "node4", "md5sum /etc/hosts /root/.ssh/authorized_keys") == before
    # the operator accepts the rebuilt host, as ssh-keygen -R would; the next run repairs every node
    kh = lab.state_dir / "known_hosts"
    subprocess.run(["ssh-keygen", "-R", lab.address("node4"), "-f", str(kh)], capture_output=True, check=True)
    status, _, results = run_steps(inventory, trust())
    assert status == ExitStatus.OK and proof(results).ok


def test_first_contact_with_only_a_password():
    with running_lab("te2p", "10.231.82.0/24", 2, authorize_lab_key=False) as lab:
        inventory = lab.state_dir / "inventory.toml"
        status, _, _ = run_steps(inventory, hosts_file.HostsFile())
        assert status == ExitStatus.HOST_FAILURE, "no key authorised yet, no password: refused"
        status, _, results = run_steps(inventory, trust(), password=lab.password)
        assert status == ExitStatus.OK and proof(results).ok
        lab_key = (lab.key_path.with_suffix(".pub")).read_text().split()[1]
        assert lab_key in inside(lab, "node1", "cat /root/.ssh/authorized_keys")
        status, _, _ = run_steps(inventory, trust())
        assert status == ExitStatus.OK, "the controller's key was installed: no password needed any more"


def test_invoke_runs_the_same_step(lab, trusted):
    inventory, _ = trusted
    result = subprocess.run([sys.executable, "-m", "invoke", "-r", str(Path(__file__).parents[2]), "ssh-trust",
                             "--inventory", str(inventory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 changed, 4 unchanged, 0 failed" in result.stdout
