"""A lab node is a real, bare, isolated Linux host that boots through systemd and that root reaches over SSH;
it survives reboots and crashes with its disk; down leaves nothing behind. A lab with a login user lets that
user in and root nowhere, with the sudo rights asked for; a lab with a bastion takes SSH from the controller
only through it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

from clusterctl.inventory import Jump, load_inventory
from clusterctl.lab import Lab, LabError, LabUser, SudoRights
from tests.lab_helpers import inside, running_lab

pytestmark = pytest.mark.e2e
NAME, SUBNET = "tlsd", "10.231.140.0/24"
SPARE_NAME, SPARE_SUBNET = "tlspare", "10.231.141.0/24"  # for labs the tests build and break themselves
NODES = ["node1", "node2", "node3"]
SMALL_DISK = {"node3": "64m"}  # to fill up
LAB_CLI = [sys.executable, "-m", "clusterctl", "lab"]  # as users run it: through clusterctl's entry point
# A lab with a login user and a bastion; its bastion network is the /29 right after it, 10.231.147.0/29.
USER_LAB_NAME, USER_LAB_SUBNET = "tub", "10.231.146.0/24"
USER_LAB_NODES = ["node1", "node2"]
DEPLOY = LabUser("deploy", SudoRights.SUDO)
TINY_LAB_NAME, TINY_LAB_SUBNET = "tutiny", "10.231.147.64/27"  # one node, for the other sudo rights


@pytest.fixture(scope="module")
def lab():
    with running_lab(NAME, SUBNET, len(NODES), fixed=True, disk_sizes=SMALL_DISK) as lab:
        yield lab


def ssh(lab: Lab, node: str, command: str, known_hosts: Path) -> subprocess.CompletedProcess:
    """Run ``command`` on ``node`` as root with the real OpenSSH client and the lab key, as the controller would."""
    return openssh(lab, f"root@{lab.address(node)}", command, known_hosts)


def openssh(lab: Lab, destination: str, command: str, known_hosts: Path, jump: str | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` at ``destination`` (USER@ADDRESS) with OpenSSH and the lab key, through ``jump`` if given.

    The options are in a config file because OpenSSH hands only -F, not -i or -o, to the ssh it starts for a jump.
    """
    config = known_hosts.with_name("ssh_config")
    config.write_text(f"Host *\n  IdentityFile {lab.key_path}\n  IdentitiesOnly yes\n  BatchMode yes\n"
                      f"  StrictHostKeyChecking accept-new\n  UserKnownHostsFile {known_hosts}\n"
                      "  ConnectTimeout 5\n")
    through = ["-J", jump] if jump else []
    return subprocess.run(["ssh", "-F", str(config), *through, destination, command], input=input,
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


def mounts() -> list[tuple[str, str, str]]:
    """(mount point, filesystem type, source) of every mount in this mount namespace."""
    fields = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [(f[4], f[f.index("-", 6) + 1], f[f.index("-", 6) + 2]) for f in fields]


def lab_cgroups(name: str) -> list[Path]:
    """The cgroup directories of lab ``name`` (clusterctl-lab/NAME and below) in this machine's cgroup2 tree."""
    tops = [Path(point, "clusterctl-lab", name) for point, kind, _ in mounts() if kind == "cgroup2"]
    return [Path(d) for top in tops if top.is_dir() for d, _, _ in os.walk(top)]


def leftovers(lab: Lab) -> dict[str, list[str]]:
    """Everything of ``lab`` still on this machine, by kind."""
    name, state_dir = lab.name, lab.state_dir
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {
        "netns": [n for n in re.findall(r"^(\S+)", netns, re.M) if n.startswith(f"clab-{name}-")],
        "links": [link.name for link in Path("/sys/class/net").iterdir()
                  if link.name in (f"clb-{name}", f"clj-{name}") or link.name.startswith(f"clv-{name}-")],
        # By mount point, and by the label each node's disk is mounted with, wherever it went.
        "mounts": [point for point, _, source in mounts()
                   if point.startswith(str(state_dir)) or source.startswith(f"clusterctl-lab-{name}-")],
        "cgroups": [str(path) for path in lab_cgroups(name)],
        "state": [str(state_dir)] if state_dir.exists() else [],
    }


NOTHING_LEFT = {"netns": [], "links": [], "mounts": [], "cgroups": [], "state": []}


def boot_id(lab: Lab, node: str) -> str:
    return inside(lab, node, "cat /proc/sys/kernel/random/boot_id").strip()


def system_state(lab: Lab, node: str) -> str:
    return lab.exec(node, ["systemctl", "is-system-running"]).stdout.decode().strip()


def lab_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([*LAB_CLI, *arguments], capture_output=True, text=True, timeout=120)


def test_up_returns_the_inventory_it_wrote(lab):
    inventory = lab.state_dir / "inventory.toml"
    text = inventory.read_text()
    for node in NODES:
        assert f'[hosts.{node}]\naddress = "{lab.address(node)}"' in text
    assert lab.password not in text


def test_every_node_is_up_with_sshd_answering(lab):
    assert [(s.name, s.address, s.sshd_up, s.pid is not None) for s in lab.status()] == [
        ("node1", "10.231.140.11", True, True), ("node2", "10.231.140.12", True, True),
        ("node3", "10.231.140.13", True, True)]


def test_each_node_has_its_own_hostname_and_address(lab):
    for node in NODES:
        assert inside(lab, node, "hostname; cat /etc/hostname") == f"{node}\n{node}\n"
        assert f"inet {lab.address(node)}/24" in inside(lab, node, "ip -4 -o addr show dev eth0")


def test_nodes_have_no_route_out_of_the_lab(lab):
    routes = inside(lab, "node1", "ip -4 route").splitlines()
    assert len(routes) == 1 and routes[0].startswith("10.231.140.0/24 dev eth0 ")


def test_nodes_reach_each_other_and_the_controller_on_the_bridge(lab):
    assert inside(lab, "node1", "exec 3<>/dev/tcp/10.231.140.12/22 && head -c 4 <&3") == "SSH-"
    with socket.create_server(("10.231.140.1", 0)) as listener:
        port = listener.getsockname()[1]
        inside(lab, "node3", f"exec 3<>/dev/tcp/10.231.140.1/{port}")


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
    assert re.search(r"^\s*1 systemd$", pids, re.M)
    assert "sshd" in pids and "process_api" not in pids and "unshare" not in pids


def test_systemd_boots_every_node_to_running_with_sshd_as_ssh_service(lab):
    for node in NODES:
        assert inside(lab, node, "ps -p 1 -o comm=") == "systemd\n"
        assert system_state(lab, node) == "running"
        assert inside(lab, node, "systemctl --failed --plain --no-legend") == ""
        assert inside(lab, node, "systemctl is-active ssh.service") == "active\n"
        assert inside(lab, node, "systemctl show -P MainPID ssh.service") == inside(lab, node, "cat /run/sshd.pid")


def test_a_node_runs_no_database_server_nor_this_machines_timers(lab):
    assert inside(lab, "node1", "systemctl is-active postgresql.service; true") == "inactive\n"
    assert inside(lab, "node1", "pgrep -l postgres; true") == ""
    timers = inside(lab, "node1", "systemctl list-timers --all --plain --no-legend")
    assert "apt-daily" not in timers and "e2scrub" not in timers


def test_systemd_restarts_a_service_that_dies(lab):
    inside(lab, "node1", "cat > /etc/systemd/system/tl-restarted.service <<'UNIT'\n"
                         "[Service]\nExecStart=/bin/sleep infinity\nRestart=on-failure\nRestartSec=100ms\n"
                         "UNIT\nsystemctl daemon-reload && systemctl start tl-restarted.service")
    first = inside(lab, "node1", "systemctl show -P MainPID tl-restarted.service").strip()
    inside(lab, "node1", f"kill -KILL {first}")
    restarted = inside(lab, "node1", f"""for _ in $(seq 50); do
        pid=$(systemctl show -P MainPID tl-restarted.service)
        [ "$pid" != 0 ] && [ "$pid" != {first} ] && break; sleep 0.1
    done; echo "$pid"; systemctl show -P NRestarts tl-restarted.service""").split()
    assert restarted[0] not in ("0", first) and restarted[1] == "1"
    inside(lab, "node1", "systemctl stop tl-restarted.service")


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
    assert inside(lab, "node3", "ls /tmp/reboot-marker 2>/dev/null; true") == ""
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


AT_BOOT_UNIT = """cat > /etc/systemd/system/tl-at-boot.service <<'UNIT'
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'cat /proc/sys/kernel/random/boot_id > /run/tl-at-boot'
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload && systemctl enable --quiet tl-at-boot.service"""


def test_a_reboot_keeps_the_disk_and_boots_anew(lab):
    inside(lab, "node2", "echo kept > /var/tmp/reboot-marker; echo lost > /tmp/reboot-marker; "
                         "echo lost > /run/reboot-marker; " + AT_BOOT_UNIT)
    before = boot_id(lab, "node2")
    supervisor = {s.name: s.pid for s in lab.status()}["node2"]
    lab.reboot(["node2"])
    assert system_state(lab, "node2") == "running"
    assert inside(lab, "node2", "cat /var/tmp/reboot-marker") == "kept\n"
    assert inside(lab, "node2", "ls /tmp/reboot-marker /run/reboot-marker 2>/dev/null; true") == ""
    after = boot_id(lab, "node2")
    assert after != before and inside(lab, "node2", "cat /run/tl-at-boot").strip() == after
    boots = inside(lab, "node2", "journalctl --list-boots")
    assert before.replace("-", "") in boots and after.replace("-", "") in boots  # the journal kept the one before
    assert not alive(supervisor)  # and with it every process of the boot before


def test_a_crash_of_every_node_brings_every_node_back(lab):
    before = {node: boot_id(lab, node) for node in NODES}
    inside(lab, "node1", DAEMON)
    lab.reboot(NODES, crash=True)
    for node in NODES:
        assert system_state(lab, node) == "running" and boot_id(lab, node) != before[node]
    assert all(s.sshd_up for s in lab.status())
    assert inside(lab, "node1", "ls /var/tmp/stopped-cleanly 2>/dev/null; true") == ""


def test_a_node_with_a_small_disk_fills_up_alone(lab):
    size = int(inside(lab, "node3", "df -B1 --output=size / | tail -1"))
    assert size == 64 * 1024 * 1024 and lab.disk_size("node3") == "64m"
    full = lab.exec("node3", ["dd", "if=/dev/zero", "of=/var/tmp/fill", "bs=1M", "count=100"])
    try:
        assert full.returncode != 0 and b"No space left on device" in full.stderr
        assert lab.exec("node3", ["sh", "-c", "echo more > /var/tmp/more"]).returncode != 0
        assert inside(lab, "node2", "df -h --output=size / | tail -1").strip() == "6.0G"
        assert lab.exec("node2", ["dd", "if=/dev/zero", "of=/var/tmp/fill", "bs=1M", "count=100"]).returncode == 0
        inside(lab, "node2", "rm /var/tmp/fill")
    finally:
        inside(lab, "node3", "rm -f /var/tmp/fill")


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
    assert (again.subnet, again.nodes, again.key_path, again.init) == (SUBNET, NODES, lab.key_path, "systemd")


def test_up_of_a_lab_that_is_up_with_the_same_shape_uses_it(lab, tmp_path):
    assert Lab(NAME, SUBNET).up(nodes=3, disk_sizes=SMALL_DISK) == lab.inventory_path
    lab.stop_node("node1")
    copy = tmp_path / "inventory.toml"
    result = lab_cli("up", "--name", NAME, "--subnet", SUBNET, "-n", "3", "--node-disk", "node3=64m",
                     "-o", str(copy))
    assert result.returncode == 0, result.stderr
    assert f"lab '{NAME}' is up: 3 nodes on {SUBNET}, init systemd" in result.stdout
    assert copy.read_text() == lab.inventory_path.read_text()
    assert all(s.sshd_up for s in lab.status()) and system_state(lab, "node1") == "running"


def test_up_of_a_lab_that_is_up_with_another_shape_is_refused(lab, tmp_path):
    with pytest.raises(LabError, match=r"another shape \(3 nodes, not 4\)"):
        Lab(NAME, SUBNET).up(nodes=4)
    with pytest.raises(LabError, match="node3 disk 64m, not 6g"):
        Lab(NAME, SUBNET).up(nodes=3)
    copy = tmp_path / "inventory.toml"
    result = lab_cli("up", "--name", NAME, "--subnet", SUBNET, "-n", "3", "--node-disk", "node3=64m",
                     "--init", "none", "-o", str(copy))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "init systemd, not none" in result.stderr
    assert not copy.exists()


def test_a_subnet_in_use_is_refused(lab):
    with pytest.raises(LabError, match="overlaps"):
        Lab(SPARE_NAME, "10.231.140.128/25").up(nodes=1)


def test_the_command_line_runs_commands_inside_and_exits_with_their_status(lab):
    result = lab_cli("exec", "node2", "--name", NAME, "--", "sh", "-c", "hostname; exit 3")
    assert (result.returncode, result.stdout) == (3, "node2\n")
    result = lab_cli("status", "--name", NAME)
    assert result.returncode == 0 and all(node in result.stdout for node in NODES)
    result = lab_cli("stop", "node9", "--name", NAME)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "node9" in result.stderr


def test_the_command_line_reboots_and_crashes_nodes(lab):
    before = {node: boot_id(lab, node) for node in NODES}
    result = lab_cli("reboot", "node1", "--name", NAME)
    assert result.returncode == 0 and result.stdout == "node1 rebooted and up again\n"
    result = lab_cli("crash", "--all", "--name", NAME)
    assert result.returncode == 0 and result.stdout == "node1, node2, node3 crashed and up again\n"
    assert all(boot_id(lab, node) != before[node] for node in NODES)
    result = lab_cli("reboot", "--name", NAME)
    assert result.returncode == 2 and "--all" in result.stderr


def test_down_leaves_nothing_behind(lab):
    supervisors = [s.pid for s in lab.status()]
    init_pids = [int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0]) for pid in supervisors]
    node_pids = [int(pid) for cgroup in lab_cgroups(NAME)
                 for pid in (cgroup / "cgroup.procs").read_text().split()]  # as this machine numbers them
    assert len(node_pids) > 3 * len(NODES)  # systemd, journald, sshd, ... on each
    lab.down()
    assert leftovers(lab) == NOTHING_LEFT
    assert [pid for pid in supervisors + init_pids + node_pids if alive(pid)] == []
    lab.down()  # and again: down is idempotent


def test_a_failed_up_leaves_nothing_behind(monkeypatch):
    spare = Lab(SPARE_NAME, SPARE_SUBNET)
    spare.down()

    def boot_fails(nodes):
        raise LabError("simulated boot failure")

    monkeypatch.setattr("clusterctl.lab.lab.wait_until_up", boot_fails)
    with pytest.raises(LabError, match="simulated"):
        spare.up(nodes=2)
    assert leftovers(spare) == NOTHING_LEFT


def test_without_the_lab_key_root_logs_in_by_password_only(tmp_path):
    with running_lab(SPARE_NAME, SPARE_SUBNET, 1, fixed=True, authorize_lab_key=False) as spare:
        assert "not yet authorized" in (spare.state_dir / "inventory.toml").read_text()
        assert inside(spare, "node1", "ls -A /root/.ssh 2>/dev/null; true") == ""
        assert ssh(spare, "node1", "true", tmp_path / "known_hosts").returncode == 255
        password_client(spare, "node1", spare.password).close()


def test_a_node_without_a_service_manager_runs_sshd_itself_and_reboots_the_same_way(tmp_path):
    with running_lab(SPARE_NAME, SPARE_SUBNET, 1, fixed=True, init="none") as spare:
        assert inside(spare, "node1", "ps -p 1 -o comm=; ps --ppid 1 -o comm=") == "bash\nsshd\n"
        assert ssh(spare, "node1", "hostname", tmp_path / "known_hosts").stdout == "node1\n"
        inside(spare, "node1", "echo kept > /var/tmp/reboot-marker")
        spare.reboot(["node1"])
        assert Lab.load(SPARE_NAME).init == "none"
        assert inside(spare, "node1", "ps -p 1 -o comm=; cat /var/tmp/reboot-marker") == "bash\nkept\n"
    assert leftovers(spare) == NOTHING_LEFT


# A lab with a login user and a bastion.


@pytest.fixture(scope="module")
def user_lab():
    with running_lab(USER_LAB_NAME, USER_LAB_SUBNET, len(USER_LAB_NODES), fixed=True, user=DEPLOY,
                     bastion=True) as lab:
        yield lab


def through_bastion(lab: Lab, user: str, node: str, command: str, known_hosts: Path,
                    input: str | None = None) -> subprocess.CompletedProcess:
    """``command`` as ``user`` on ``node``, jumping through the bastion as the lab's login user."""
    return openssh(lab, f"{user}@{lab.address(node)}", command, known_hosts,
                   jump=f"{DEPLOY.name}@{lab.bastion_address}", input=input)


def test_the_login_user_has_its_home_shell_password_and_the_lab_key_on_every_machine(user_lab):
    key = user_lab.key_path.with_suffix(".pub").read_text()
    accounts = set()
    for machine in [*USER_LAB_NODES, "bastion"]:
        accounts.add(inside(user_lab, machine, "getent passwd deploy | cut -d: -f3,6,7"))
        assert inside(user_lab, machine, "stat -c '%U %a' /home/deploy/.ssh /home/deploy/.ssh/authorized_keys; "
                                         "ls -A /home/deploy") == (
            "deploy 700\ndeploy 600\n.bash_logout\n.bashrc\n.profile\n.ssh\n")
        assert inside(user_lab, machine, "cat /home/deploy/.ssh/authorized_keys") == key
        assert inside(user_lab, machine, "passwd -S deploy | cut -d' ' -f2") == "P\n"  # a usable password
    assert len(accounts) == 1 and accounts.pop().endswith(":/home/deploy:/bin/bash\n")
    assert user_lab.user == DEPLOY and user_lab.user_password != user_lab.password


def test_the_login_user_logs_in_to_the_nodes_through_the_bastion(user_lab, tmp_path):
    for node in USER_LAB_NODES:
        result = through_bastion(user_lab, "deploy", node, "hostname; id -un; pwd", tmp_path / "known_hosts")
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{node}\ndeploy\n/home/deploy\n"


def test_root_logs_in_to_no_node_even_through_the_bastion(user_lab, tmp_path):
    for node in USER_LAB_NODES:
        result = through_bastion(user_lab, "root", node, "true", tmp_path / "known_hosts")
        assert result.returncode == 255 and "Permission denied" in result.stderr
        assert inside(user_lab, node, "sshd -T | grep -i '^permitrootlogin'") == "permitrootlogin no\n"


def test_sudo_asks_the_login_user_for_its_own_password(user_lab, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    without = through_bastion(user_lab, "deploy", "node1", "sudo -n true", known_hosts)
    assert without.returncode == 1 and "a password is required" in without.stderr
    given = through_bastion(user_lab, "deploy", "node1", "sudo -S -p '' id -un", known_hosts,
                            input=user_lab.user_password + "\n")
    assert (given.returncode, given.stdout) == (0, "root\n"), given.stderr


def test_the_controller_logs_in_to_the_bastion_but_to_no_node_directly(user_lab, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    for user in ("root", "deploy"):
        result = openssh(user_lab, f"{user}@{user_lab.bastion_address}", "hostname", known_hosts)
        assert (result.returncode, result.stdout) == (0, "bastion\n"), result.stderr
        for node in USER_LAB_NODES:
            refused = openssh(user_lab, f"{user}@{user_lab.address(node)}", "true", known_hosts)
            assert refused.returncode == 255 and "Permission denied" in refused.stderr
    assert all(status.sshd_up for status in user_lab.status())  # refused at login, not unreachable


def test_the_nodes_still_log_in_to_each_other_directly(user_lab):
    user_lab.exec("node1", ["install", "-o", "deploy", "-g", "deploy", "-m", "0600", "/dev/stdin",
                            "/home/deploy/.ssh/id_ed25519"], input=user_lab.key_path.read_bytes(), check=True)
    try:
        hop = inside(user_lab, "node1", "su - deploy -c 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no "
                                        f"-o UserKnownHostsFile=/dev/null {user_lab.address('node2')} hostname'")
        assert hop == "node2\n"
    finally:
        inside(user_lab, "node1", "rm /home/deploy/.ssh/id_ed25519")


def test_the_bastion_has_host_keys_of_its_own(user_lab):
    fingerprints = {inside(user_lab, machine, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").split()[1]
                    for machine in [*USER_LAB_NODES, "bastion"]}
    assert len(fingerprints) == 3


def test_the_bastion_relays_ssh_but_forwards_no_packets(user_lab):
    assert inside(user_lab, "bastion", "cat /proc/sys/net/ipv4/ip_forward") == "0\n"
    assert inside(user_lab, "bastion", "ip -4 -o addr show | awk '{print $2, $4}'") == (
        "lo 127.0.0.1/8\neth0 10.231.146.10/24\neth1 10.231.147.2/29\n")
    assert inside(user_lab, "node1", "ip route get 10.231.147.1 2>&1; true").startswith("RTNETLINK answers")


def test_the_inventory_logs_in_as_the_user_through_the_bastion(user_lab):
    inventory = load_inventory(user_lab.inventory_path)
    assert list(inventory.hosts) == USER_LAB_NODES
    assert {(host.user, host.become, host.jump) for host in inventory.hosts.values()} == {
        ("deploy", "sudo", (Jump("10.231.147.2", "deploy"),))}
    text = user_lab.inventory_path.read_text()
    assert f'export CLUSTERCTL_BECOME_PASSWORD="$(cat {user_lab.user_password_path})"' in text
    assert user_lab.user_password not in text and user_lab.password not in text


def test_the_bastion_reboots_and_crashes_like_a_node(user_lab, tmp_path):
    before = boot_id(user_lab, "bastion")
    result = lab_cli("reboot", "bastion", "--name", USER_LAB_NAME)
    assert result.returncode == 0 and result.stdout == "bastion rebooted and up again\n"
    rebooted = boot_id(user_lab, "bastion")
    user_lab.reboot(["bastion"], crash=True)
    assert len({before, rebooted, boot_id(user_lab, "bastion")}) == 3
    assert system_state(user_lab, "bastion") == "running"
    assert through_bastion(user_lab, "deploy", "node2", "hostname", tmp_path / "known_hosts").stdout == "node2\n"


def test_up_again_with_the_same_user_and_bastion_uses_the_lab_and_another_is_refused(user_lab):
    user_lab.stop_node("bastion")
    again = Lab(USER_LAB_NAME, USER_LAB_SUBNET)
    assert again.up(nodes=2, user=DEPLOY, bastion=True) == user_lab.inventory_path
    assert {s.name: s.sshd_up for s in user_lab.status()} == {"node1": True, "node2": True, "bastion": True}
    with pytest.raises(LabError, match="user deploy:sudo, not deploy:nopasswd"):
        again.up(nodes=2, user=LabUser("deploy", SudoRights.NOPASSWD), bastion=True)
    with pytest.raises(LabError, match=r"another shape \(user deploy:sudo, not none; a bastion\)"):
        again.up(nodes=2)


def test_a_subnet_over_the_bastion_network_is_refused(user_lab):
    with pytest.raises(LabError, match="overlaps lab 'tub' \\(10.231.147.0/29\\)"):
        Lab(TINY_LAB_NAME, "10.231.147.0/27").up(nodes=1)


def test_down_of_a_lab_with_a_user_and_a_bastion_leaves_nothing_behind(user_lab):
    supervisors = [s.pid for s in user_lab.status()]
    assert len(supervisors) == 3
    node_pids = [int(pid) for cgroup in lab_cgroups(USER_LAB_NAME)
                 for pid in (cgroup / "cgroup.procs").read_text().split()]
    assert Path("/sys/class/net/clj-tub").exists()
    user_lab.down()
    assert leftovers(user_lab) == NOTHING_LEFT
    assert [pid for pid in supervisors + node_pids if alive(pid)] == []


def test_nopasswd_lets_the_login_user_sudo_without_a_password_and_a_lab_without_bastion_lets_it_in_directly(
        tmp_path):
    with running_lab(TINY_LAB_NAME, TINY_LAB_SUBNET, 1, fixed=True, init="none",
                     user=LabUser("deploy", SudoRights.NOPASSWD)) as tiny:
        known_hosts = tmp_path / "known_hosts"
        result = openssh(tiny, f"deploy@{tiny.address('node1')}", "sudo -n id -un", known_hosts)
        assert (result.returncode, result.stdout) == (0, "root\n"), result.stderr
        assert ssh(tiny, "node1", "true", known_hosts).returncode == 255
    assert leftovers(tiny) == NOTHING_LEFT


def test_nosudo_leaves_the_login_user_out_of_the_sudoers():
    with running_lab(TINY_LAB_NAME, TINY_LAB_SUBNET, 1, fixed=True, init="none",
                     user=LabUser("deploy", SudoRights.NOSUDO)) as tiny:
        assert inside(tiny, "node1", "ls /etc/sudoers.d") == "README\n"
        without = tiny.exec("node1", ["su", "-", "deploy", "-c", "sudo -n true"])
        assert without.returncode == 1 and b"a password is required" in without.stderr
        given = tiny.exec("node1", ["su", "-", "deploy", "-c", "sudo -S -p '' true"],
                          input=(tiny.user_password + "\n").encode())
        assert given.returncode == 1 and b"deploy is not in the sudoers file" in given.stderr


def test_a_failed_up_with_a_user_and_a_bastion_leaves_nothing_behind(monkeypatch):
    tiny = Lab(TINY_LAB_NAME, TINY_LAB_SUBNET)  # its bastion network: 10.231.147.96/29
    tiny.down()

    def boot_fails(machines):
        assert "bastion" in [machine.name for machine in machines]
        raise LabError("simulated boot failure")

    monkeypatch.setattr("clusterctl.lab.lab.wait_until_up", boot_fails)
    with pytest.raises(LabError, match="simulated"):
        tiny.up(nodes=1, user=DEPLOY, bastion=True)
    assert leftovers(tiny) == NOTHING_LEFT
