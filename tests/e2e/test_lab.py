"""A lab node is a real, bare, isolated Linux host that root reaches over SSH; down leaves nothing behind."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

from clusterctl.lab import Lab, LabError
from tests.lab_helpers import inside, running_lab

pytestmark = pytest.mark.e2e
NAME, SUBNET = "tlab", "10.231.91.0/24"
SPARE_NAME, SPARE_SUBNET = "lx", "10.231.90.0/24"  # for labs the tests build and break themselves
NODES = ["node1", "node2", "node3"]


@pytest.fixture(scope="module")
def lab():
    with running_lab(NAME, SUBNET, len(NODES)) as lab:
        yield lab


def ssh(lab: Lab, node: str, command: str, known_hosts: Path) -> subprocess.CompletedProcess:
    """Run ``command`` on ``node`` with the real OpenSSH client and the lab key, as the controller would."""
    return subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(lab.key_path), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={known_hosts}",
         "-o", "ConnectTimeout=5", f"root@{lab.address(node)}", command],
        capture_output=True, text=True, timeout=30)


def password_client(lab: Lab, node: str, password: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(lab.address(node), username="root", password=password, look_for_keys=False,
                   allow_agent=False, timeout=5)
    return client


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def leftovers(name: str, state_dir: Path) -> dict[str, list[str]]:
    """Everything of lab ``name`` still on this machine, by kind."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return {
        "netns": [n for n in re.findall(r"^(\S+)", netns, re.M) if n.startswith(f"clab-{name}-")],
        "links": [link.name for link in Path("/sys/class/net").iterdir()
                  if link.name == f"clb-{name}" or link.name.startswith(f"clv-{name}-")],
        "mounts": [m for m in mounts if m.startswith(str(state_dir))],
        "state": [str(state_dir)] if state_dir.exists() else [],
    }


def test_up_returns_the_inventory_it_wrote(lab):
    inventory = lab.state_dir / "inventory.toml"
    text = inventory.read_text()
    for node in NODES:
        assert f'[hosts.{node}]\naddress = "{lab.address(node)}"' in text
    assert lab.password not in text


def test_every_node_is_up_with_sshd_answering(lab):
    assert [(s.name, s.address, s.sshd_up, s.pid is not None) for s in lab.status()] == [
        ("node1", "10.231.91.11", True, True), ("node2", "10.231.91.12", True, True),
        ("node3", "10.231.91.13", True, True)]


def test_each_node_has_its_own_hostname_and_address(lab):
    for node in NODES:
        assert inside(lab, node, "hostname; cat /etc/hostname") == f"{node}\n{node}\n"
        assert f"inet {lab.address(node)}/24" in inside(lab, node, "ip -4 -o addr show dev eth0")


def test_nodes_have_no_route_out_of_the_lab(lab):
    routes = inside(lab, "node1", "ip -4 route").splitlines()
    assert len(routes) == 1 and routes[0].startswith("10.231.91.0/24 dev eth0 ")


def test_nodes_reach_each_other_and_the_controller_on_the_bridge(lab):
    assert inside(lab, "node1", "exec 3<>/dev/tcp/10.231.91.12/22 && head -c 4 <&3") == "SSH-"
    with socket.create_server(("10.231.91.1", 0)) as listener:
        port = listener.getsockname()[1]
        inside(lab, "node3", f"exec 3<>/dev/tcp/10.231.91.1/{port}")


def test_a_node_starts_as_a_bare_host(lab):
    assert inside(lab, "node2", "ls -A /opt /home /usr/lib/jvm") == "/home:\n\n/opt:\n\n/usr/lib/jvm:\n"
    assert sorted(inside(lab, "node2", "ls -A /root").split()) == [".bash_logout", ".bashrc", ".profile", ".ssh"]
    assert inside(lab, "node2", "ls -A /root/.ssh") == "authorized_keys\n"
    gone = "/usr/share/zookeeper /etc/zookeeper /var/lib/zookeeper /work"
    assert inside(lab, "node2", f"for p in {gone}; do test -e $p && echo $p; done; true") == ""


def test_no_java_on_a_node(lab):
    result = lab.exec("node1", ["bash", "-c", "command -v java javac keytool"])
    assert result.returncode != 0 and result.stdout == b""


def test_the_nodes_see_none_of_the_controllers_ssh_files_or_lab_secrets(lab):
    assert "id_ed25519" not in inside(lab, "node1", "ls -A /root/.ssh")
    assert inside(lab, "node1", f"test -e {lab.key_path} || echo hidden") == "hidden\n"


def test_root_logs_in_with_the_lab_key(lab, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    for node in NODES:
        result = ssh(lab, node, "hostname; id -un; pwd", known_hosts)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{node}\nroot\n/root\n"
    assert len(known_hosts.read_text().splitlines()) >= len(NODES)


def test_each_node_has_its_own_host_key(lab, tmp_path):
    fingerprints = {inside(lab, node, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").split()[1]
                    for node in NODES}
    machine = subprocess.run(["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"], capture_output=True,
                             text=True).stdout.split()
    assert len(fingerprints) == len(NODES)
    assert not machine or machine[1] not in fingerprints


def test_root_logs_in_with_the_lab_password(lab):
    client = password_client(lab, "node3", lab.password)
    try:
        _, stdout, _ = client.exec_command("hostname")
        assert stdout.read().decode() == "node3\n"
        assert "authorized_keys" in client.open_sftp().listdir("/root/.ssh")
    finally:
        client.close()


def test_a_wrong_password_is_refused(lab):
    with pytest.raises(paramiko.AuthenticationException):
        password_client(lab, "node1", "not-the-lab-password")


def test_a_file_written_in_one_node_is_invisible_to_the_others_and_to_the_host(lab):
    inside(lab, "node1", "echo mine > /etc/only-on-node1; echo mine > /root/only-on-node1")
    assert inside(lab, "node1", "cat /etc/only-on-node1") == "mine\n"
    for node in ("node2", "node3"):
        assert inside(lab, node, "ls /etc/only-on-node1 /root/only-on-node1 2>/dev/null; true") == ""
    assert not Path("/etc/only-on-node1").exists() and not Path("/root/only-on-node1").exists()


def test_processes_of_a_node_are_its_own(lab):
    pids = inside(lab, "node2", "ps -eo pid=,comm=")
    assert re.search(r"^\s*1 bash$", pids, re.M)
    assert "sshd" in pids and "process_api" not in pids and "unshare" not in pids


DAEMON = ("nohup bash -c 'trap \"touch /var/tmp/stopped-cleanly; exit\" TERM; while :; do sleep 0.1; done' "
          ">/dev/null 2>&1 & sleep 0.3")  # the pause lets the daemon set its trap before anything stops it


def test_a_stopped_and_restarted_node_keeps_its_disk_but_not_its_processes(lab):
    inside(lab, "node3", "echo kept > /var/tmp/reboot-marker; echo lost > /tmp/reboot-marker; " + DAEMON)
    lab.stop_node("node3")
    stopped = {s.name: s for s in lab.status()}["node3"]
    assert (stopped.pid, stopped.sshd_up) == (None, False)
    with pytest.raises(LabError, match="not running"):
        lab.exec("node3", ["true"])
    lab.start_node("node3")
    assert inside(lab, "node3", "cat /var/tmp/reboot-marker") == "kept\n"
    assert inside(lab, "node3", "ls /tmp") == ""
    assert "sleep" not in inside(lab, "node3", "ps -eo comm=")
    assert {s.name: s.sshd_up for s in lab.status()}["node3"]


def test_a_stop_lets_daemons_finish_and_a_crash_does_not(lab):
    inside(lab, "node1", DAEMON)
    lab.stop_node("node1")
    lab.start_node("node1")
    assert inside(lab, "node1", "ls /var/tmp/stopped-cleanly") == "/var/tmp/stopped-cleanly\n"
    inside(lab, "node1", "rm /var/tmp/stopped-cleanly; " + DAEMON)
    lab.stop_node("node1", crash=True)
    lab.start_node("node1")
    assert inside(lab, "node1", "ls /var/tmp/stopped-cleanly 2>/dev/null; true") == ""


def test_a_command_that_times_out_is_killed_inside_the_node(lab):
    with pytest.raises(subprocess.TimeoutExpired):
        lab.exec("node2", ["bash", "-c", "sleep 300; true"], timeout=1)
    assert "sleep" not in inside(lab, "node2", "ps -eo comm=")


def test_exec_passes_input_and_can_check(lab):
    assert lab.exec("node2", ["cat"], input=b"to the node").stdout == b"to the node"
    with pytest.raises(subprocess.CalledProcessError):
        lab.exec("node2", ["false"], check=True)


def test_stop_and_start_are_no_ops_when_already_done(lab):
    lab.start_node("node1")
    lab.stop_node("node2")
    lab.stop_node("node2")
    lab.start_node("node2")
    assert all(s.sshd_up for s in lab.status())


def test_load_reopens_the_lab_from_its_state(lab):
    again = Lab.load(NAME)
    assert (again.subnet, again.nodes, again.key_path) == (SUBNET, NODES, lab.key_path)


def test_up_of_a_lab_that_is_up_is_an_error(lab):
    with pytest.raises(LabError, match="already up"):
        Lab(NAME, SUBNET).up(nodes=3)


def test_a_subnet_in_use_is_refused(lab):
    with pytest.raises(LabError, match="overlaps"):
        Lab(SPARE_NAME, "10.231.91.128/25").up(nodes=1)


def test_the_command_line_runs_commands_inside_and_exits_with_their_status(lab):
    command = [sys.executable, "-c", "from clusterctl.lab.cli import lab_group; lab_group()"]
    result = subprocess.run([*command, "exec", "node2", "--name", NAME, "--", "sh", "-c", "hostname; exit 3"],
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (3, "node2\n")
    result = subprocess.run([*command, "status", "--name", NAME], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and all(node in result.stdout for node in NODES)
    result = subprocess.run([*command, "stop", "node9", "--name", NAME], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "node9" in result.stderr


def test_down_leaves_nothing_behind(lab):
    supervisors = [s.pid for s in lab.status()]
    init_pids = [int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0]) for pid in supervisors]
    lab.down()
    assert leftovers(NAME, lab.state_dir) == {"netns": [], "links": [], "mounts": [], "state": []}
    assert [pid for pid in supervisors + init_pids if alive(pid)] == []
    lab.down()  # and again: down is idempotent


def test_a_failed_up_leaves_nothing_behind(monkeypatch):
    spare = Lab(SPARE_NAME, SPARE_SUBNET)
    spare.down()

    def boot_fails(self, names):
        raise LabError("simulated boot failure")

    monkeypatch.setattr(Lab, "_wait_for_sshd", boot_fails)
    with pytest.raises(LabError, match="simulated"):
        spare.up(nodes=2)
    assert leftovers(SPARE_NAME, spare.state_dir) == {"netns": [], "links": [], "mounts": [], "state": []}


def test_without_the_lab_key_root_logs_in_by_password_only(tmp_path):
    with running_lab(SPARE_NAME, SPARE_SUBNET, 1, authorize_lab_key=False) as spare:
        assert "not yet authorized" in (spare.state_dir / "inventory.toml").read_text()
        assert inside(spare, "node1", "ls -A /root/.ssh 2>/dev/null; true") == ""
        assert ssh(spare, "node1", "true", tmp_path / "known_hosts").returncode == 255
        password_client(spare, "node1", spare.password).close()


def test_bad_names_and_subnets_are_refused_before_anything_is_built():
    with pytest.raises(LabError, match="bad lab name"):
        Lab("Bad_Name")
    with pytest.raises(LabError, match="not a private range"):
        Lab(SPARE_NAME, "8.8.8.0/24")
    with pytest.raises(LabError, match="holds 1 to"):
        Lab(SPARE_NAME, SPARE_SUBNET).up(nodes=250)
