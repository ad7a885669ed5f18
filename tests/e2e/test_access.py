"""Reaching hosts as companies do: a login user with sudo (with a password, without, or none), a bastion the
nodes accept SSH only through, and the user's SSH config. Checked from inside the nodes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clusterctl.lab import LabUser
from clusterctl.lab.runbook import render_runbook_sections
from tests.lab_helpers import SERVER_PID, inside, running_lab

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def cli(*words: str, inventory: Path, env: dict | None = None, before: tuple[str, ...] = (),
        timeout: float = 900) -> subprocess.CompletedProcess:
    # The inventory option goes before the command: zk cli takes everything after -- as zkCli's.
    return subprocess.run([sys.executable, "-m", "clusterctl", *before, "-i", str(inventory), *words],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})})


def runbook(artifacts, nodes: list[str]) -> str:
    return render_runbook_sections(nodes, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)


class PsSampler:
    """Reads every process's command line on every machine of the lab, again and again, all along a block."""

    def __init__(self, lab, machines: list[str]):
        self.lab, self.machines = lab, machines
        self.seen: set[str] = set()
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            for machine in self.machines:
                self.seen.update(inside(self.lab, machine, "ps -eo args", check=False).splitlines())
            self.samples += 1
            time.sleep(0.05)

    def __enter__(self) -> "PsSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(60)


def node_state(lab) -> dict[str, str]:
    # Without ssh's shared-connection sockets: a node-to-node copy leaves one for 30 s (ControlPersist).
    script = ("ls -A /opt /home/deploy/.ssh 2>&1 | grep -v '^clusterctl-mux-'; md5sum /etc/hosts; "
              "ls /etc/profile.d /etc/systemd/system; getent passwd zookeeper || echo no-user")
    return {node: inside(lab, node, script, check=False) for node in lab.nodes}


NODES4 = ["node1", "node2", "node3", "node4"]


@pytest.fixture(scope="module")
def behind_bastion(artifacts):
    """deploy, with passworded sudo, reaching the nodes only through the bastion."""
    with running_lab("tac", "10.231.120.0/24", 4, inventory_extra=runbook(artifacts, NODES4),
                     user=LabUser.parse("deploy:sudo"), bastion=True) as lab:
        yield lab


@pytest.fixture(scope="module")
def bootstrapped(behind_bastion, tmp_path_factory):
    lab = behind_bastion
    log = tmp_path_factory.mktemp("access") / "run.log"
    password = lab.user_password
    with PsSampler(lab, [*lab.nodes, "bastion"]) as ps:
        boot = cli("bootstrap", "--log", str(log), inventory=lab.inventory_path,
                   env={"CLUSTERCTL_BECOME_PASSWORD": password})
    return boot, ps, log, password


def test_the_whole_bootstrap_as_deploy_with_sudo_through_the_bastion(behind_bastion, bootstrapped):
    lab = behind_bastion
    boot, _, _, _ = bootstrapped
    assert boot.returncode == 0, boot.stdout[-4000:] + boot.stderr
    assert "quorum: voters up 3 of 3" in boot.stdout
    for node in lab.nodes:
        assert inside(lab, node, "stat -c '%U' /etc/hosts /home/deploy/.ssh/authorized_keys /home/deploy/.ssh") == \
            "root\ndeploy\ndeploy\n"
        for peer in lab.nodes:
            if peer != node:
                login = f"runuser -u deploy -- ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes {peer} hostname"
                assert inside(lab, node, login).strip() == peer
    for node in ("node2", "node3", "node4"):
        assert inside(lab, node, f"ps -o user= -p $({SERVER_PID})").strip() == "zookeeper"
        assert inside(lab, node, "stat -c %U /var/lib/zookeeper/myid").strip() == "zookeeper"
    assert lab.bastion_address in (lab.state_dir / "known_hosts").read_text(), "the bastion's key is pinned"


def test_the_sudo_password_is_never_in_an_argument_a_log_or_the_output(bootstrapped):
    boot, ps, log, password = bootstrapped
    assert ps.samples > 20, "ps was sampled all along the run"
    assert not [line for line in ps.seen if password in line]
    assert password not in log.read_text() and password not in boot.stdout + boot.stderr
    assert "write_file.sh" in log.read_text(), "the log does record the remote commands"


def test_nothing_logs_in_directly_or_as_root(behind_bastion):
    lab = behind_bastion
    direct = subprocess.run(["ssh", "-i", str(lab.key_path), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                             "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
                             f"deploy@{lab.address('node1')}", "true"], capture_output=True, timeout=30)
    assert direct.returncode != 0, "the nodes refuse the controller's own address"


def test_a_second_run_through_the_bastion_changes_nothing(behind_bastion, bootstrapped):
    lab = behind_bastion
    again = cli("bootstrap", inventory=lab.inventory_path, env={"CLUSTERCTL_BECOME_PASSWORD": lab.user_password})
    assert again.returncode == 0 and re.search(r"\b0 changed, 4 unchanged", again.stdout), again.stdout[-2000:]


def test_a_wrong_sudo_password_is_one_line_per_host_and_changes_nothing(behind_bastion, bootstrapped):
    lab = behind_bastion
    inside(lab, "node2", "sed -i '/^# BEGIN clusterctl hosts/,/^# END clusterctl hosts/d' /etc/hosts")
    before = node_state(lab)
    try:
        wrong = cli("bootstrap", inventory=lab.inventory_path, env={"CLUSTERCTL_BECOME_PASSWORD": "not-the-password"})
        assert wrong.returncode == 1
        for node in lab.nodes:
            assert re.search(rf"^{node}\s+preflight\s+failed\s+privilege: sudo rejected the password of deploy",
                             wrong.stdout, re.M), wrong.stdout[-3000:]
        assert "not-the-password" not in wrong.stdout + wrong.stderr
        assert node_state(lab) == before
    finally:  # node2's hosts block back, whatever failed: the tests after this one start converged
        assert cli("hosts", inventory=lab.inventory_path,
                   env={"CLUSTERCTL_BECOME_PASSWORD": lab.user_password}).returncode == 0


def test_the_users_ssh_config_reaches_hosts_the_inventory_only_names(behind_bastion, bootstrapped, tmp_path):
    lab = behind_bastion
    config = tmp_path / "ssh_config"
    config.write_text("".join(f"Host {n}\n    HostName {lab.address(n)}\n" for n in lab.nodes)
                      + f"Host node*\n    User deploy\n    IdentityFile {lab.key_path}\n"
                      f"    ProxyJump deploy@{lab.bastion_address}\n")
    names_only = tmp_path / "names.toml"
    names_only.write_text(f'[cluster]\nname = "{lab.name}"\nknown_hosts = "{lab.state_dir / "known_hosts"}"\n\n'
                          + "".join(f'[hosts.{n}]\naddress = "{n}"\n' for n in lab.nodes)
                          + runbook_sections_of(lab))
    plan = cli("plan", inventory=names_only, before=("-F", str(config)),
               env={"CLUSTERCTL_BECOME_PASSWORD": lab.user_password})
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr
    assert "plan: nothing to change" in plan.stdout, plan.stdout[-3000:]


def runbook_sections_of(lab) -> str:
    """The [jdk], [zookeeper] and [ssh_trust] sections of the lab's inventory, as they are."""
    text = lab.inventory_path.read_text()
    return text[text.index("[ssh_trust]"):]


def test_a_changed_bastion_key_is_refused(behind_bastion, bootstrapped):
    lab = behind_bastion
    inside(lab, "bastion", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh")
    try:
        refused = cli("plan", inventory=lab.inventory_path, env={"CLUSTERCTL_BECOME_PASSWORD": lab.user_password})
        assert refused.returncode == 1
        assert "the jump host" in refused.stdout and "changed" in refused.stdout, refused.stdout[-2000:]
        assert refused.stdout.count("SHA256:") >= 2
    finally:
        subprocess.run(["ssh-keygen", "-R", lab.bastion_address, "-f", str(lab.state_dir / "known_hosts")],
                       capture_output=True)


# -- sudo without a password, and no sudo at all ------------------------------------

def test_the_whole_bootstrap_with_nopasswd_sudo_needs_no_password(artifacts):
    nodes = ["node1", "node2", "node3"]
    with running_lab("tan", "10.231.122.0/24", 3, inventory_extra=runbook(artifacts, nodes),
                     user=LabUser.parse("deploy:nopasswd")) as lab:
        boot = cli("bootstrap", inventory=lab.inventory_path, env={"CLUSTERCTL_BECOME_PASSWORD": ""})
        assert boot.returncode == 0, boot.stdout[-4000:] + boot.stderr
        assert "quorum: voters up 3 of 3" in boot.stdout


def test_a_user_without_sudo_gets_one_line_per_host_and_nothing_changes(artifacts):
    with running_lab("tao", "10.231.124.0/24", 2, inventory_extra=runbook(artifacts, ["node1", "node2"]),
                     user=LabUser.parse("deploy:nosudo"), init="none") as lab:
        before = node_state(lab)
        boot = cli("bootstrap", inventory=lab.inventory_path, env={"CLUSTERCTL_BECOME_PASSWORD": lab.user_password})
        assert boot.returncode == 1
        for node in lab.nodes:
            line = re.search(rf"^{node}\s+preflight\s+failed\s+(.*)$", boot.stdout, re.M)
            assert line and "privilege:" in line.group(1) and "sudo" in line.group(1), boot.stdout[-3000:]
        assert node_state(lab) == before


def test_keys_from_the_ssh_agent_are_used_and_never_forwarded(behind_bastion, bootstrapped, tmp_path):
    lab = behind_bastion
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    env = dict(re.findall(r"(SSH_AUTH_SOCK|SSH_AGENT_PID)=([^;]+);", agent))
    try:
        subprocess.run(["ssh-add", str(lab.key_path)], env={**os.environ, **env}, capture_output=True, check=True)
        no_identity = tmp_path / "agent.toml"
        no_identity.write_text(re.sub(r"^identity = .*\n", "", lab.inventory_path.read_text(), flags=re.M))
        plan = cli("plan", inventory=no_identity, env={**env, "CLUSTERCTL_BECOME_PASSWORD": lab.user_password})
        assert plan.returncode == 0 and "plan: nothing to change" in plan.stdout, plan.stdout[-2000:] + plan.stderr
        # What a remote command sees: no agent socket from the controller.
        seen = cli("zk", "cli", "node2", "--", "ls", "/", inventory=no_identity,
                   env={**env, "CLUSTERCTL_BECOME_PASSWORD": lab.user_password}, before=("-v",))
        assert seen.returncode == 0, seen.stderr[-2000:]
        assert inside(lab, "node2", "grep -l SSH_AUTH_SOCK /proc/*/environ 2>/dev/null || true").strip() == ""
    finally:
        os.kill(int(env["SSH_AGENT_PID"]), 15)


def test_the_interactive_zkcli_session_goes_through_the_bastion_too(behind_bastion, bootstrapped):
    from clusterctl.cli.zk import ssh_argv
    from clusterctl.run import RunOptions, load
    lab = behind_bastion
    argv = ssh_argv(load(RunOptions(inventory=str(lab.inventory_path))), "node2", "hostname")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and done.stdout.strip() == "node2", done.stderr


def test_tls_turned_on_as_deploy_with_sudo_through_the_bastion(behind_bastion, bootstrapped, tmp_path):
    """Keys made on the nodes through sudo, the TLS roll and the reconfig over TLS, status and the smoke test
    over TLS: the whole TLS path for a login user with sudo behind a bastion, a client writing all along."""
    from tests.lab_helpers import Writer
    lab = behind_bastion
    env = {"CLUSTERCTL_BECOME_PASSWORD": lab.user_password, "XDG_STATE_HOME": str(tmp_path)}
    servers = ("node2", "node3", "node4")
    inventory = tmp_path / "tls.toml"
    base = lab.inventory_path.read_text()
    inventory.write_text(base + '\n[tls]\nclient = "optional"\n')
    plaintext = ",".join(f"{lab.address(n)}:2181" for n in servers)
    with PsSampler(lab, [*lab.nodes, "bastion"]) as ps, Writer(plaintext) as writer:
        optional = cli("apply", inventory=inventory, env=env)
    assert optional.returncode == 0, optional.stdout[-3000:] + optional.stderr
    assert writer.lost() == []
    tls = tmp_path / "clusterctl" / "secrets" / f"{lab.name}.tls"
    options = {"use_ssl": True, "verify_certs": True, "ca": str(tls / "trust.pem"), "certfile": str(tls / "client.crt"),
               "keyfile": str(tls / "client.key")}
    inventory.write_text(base + '\n[tls]\nclient = "required"\n')
    with PsSampler(lab, [*lab.nodes, "bastion"]) as more, \
            Writer(",".join(f"{lab.address(n)}:2281" for n in servers), client_options=options) as tls_writer:
        required = cli("apply", inventory=inventory, env=env)
    assert required.returncode == 0, required.stdout[-3000:] + required.stderr
    assert tls_writer.lost() == []
    for node in servers:
        assert inside(lab, node, "stat -c '%a %U' /etc/zookeeper/tls/keystore.pem").strip() == "600 zookeeper"
        assert "127.0.0.1]:2181" in inside(lab, node, "ss -Htln 'sport = :2181'")
    smoke = cli("zk", "smoke", inventory=inventory, env=env)
    assert smoke.returncode == 0, smoke.stdout[-2000:] + smoke.stderr
    leaked = [line for line in ps.seen | more.seen if "PRIVATE KEY" in line or lab.user_password in line]
    assert leaked == []


def test_the_doctor_and_collect_read_every_node_as_root_through_the_bastion(behind_bastion, bootstrapped, tmp_path):
    """zk doctor and collect as deploy, sudo with a password, through the bastion, on the ensemble the TLS test
    left (client = "required"): every server's node read as root (its process's JDK, its unit's journal, its
    keystore's certificate), a healthy ensemble found healthy (certificates fresh, the TLS lines of zoo.cfg no
    stale config), and neither the sudo password nor a private key in any output or in the tarball."""
    import gzip
    import json
    import tarfile
    lab = behind_bastion
    env = {"CLUSTERCTL_BECOME_PASSWORD": lab.user_password, "XDG_STATE_HOME": str(tmp_path)}
    inventory = tmp_path / "tls.toml"
    inventory.write_text(lab.inventory_path.read_text() + '\n[tls]\nclient = "required"\n')
    doctor = cli("zk", "doctor", "--json", inventory=inventory, env=env, timeout=180)
    report = json.loads(doctor.stdout or "{}")
    # Healthy, but for a server's worst latency since it started, which a loaded test machine can push past
    # 1000 ms now and then (it stays until srst, not whitelisted here): a warning of that check alone may stand.
    others = [f for f in report.get("findings", []) if (f["check"], f["severity"]) != ("latency", "warning")]
    assert doctor.returncode in (0, 1) and others == [], doctor.stdout[-3000:] + doctor.stderr
    bundle = tmp_path / "support.tar.gz"
    done = cli("collect", "--out", str(bundle), "--lines", "50", inventory=inventory, env=env, timeout=180)
    assert done.returncode == 0 and f"collected: {bundle}" in done.stdout, done.stdout[-3000:] + done.stderr
    password = lab.user_password
    assert password not in doctor.stdout + doctor.stderr + done.stdout + done.stderr
    raw = gzip.decompress(bundle.read_bytes())
    assert password.encode() not in raw and b"PRIVATE KEY" not in raw
    with tarfile.open(bundle) as tar:
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read().decode() for m in tar if m.isfile()}
    for node in ("node2", "node3", "node4"):  # what only root reads: /proc/PID/exe, the journal, the keystore
        values = json.loads(files[f"{node}/node.json"])["values"]
        assert values["server"]["jdk"].startswith("17"), node
        assert values["tls_cert"].startswith("-----BEGIN CERTIFICATE-----"), node
        assert re.search(rf"^\w+ +\d+ [\d:]+ {node} ", files[f"{node}/journal"], re.M), files[f"{node}/journal"]
        assert "Mode: " in files[f"{node}/srvr.txt"], node
