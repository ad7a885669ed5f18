"""ZooKeeper as a service on systemd lab nodes: its own user, restarted after a crash, started at boot,
purged, migrated from a root zkServer.sh cluster; and preflight. Checked from inside the nodes, with a
client writing throughout every operation on the live ensemble and every acknowledged write read back."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clusterctl.lab.runbook import render_runbook_sections
from tests.lab_helpers import SERVER_PID, Writer, inside, running_lab

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
NODES = ["node1", "node2", "node3", "node4"]
SERVERS = ["node2", "node3", "node4"]
TUNING = "heap_mb = 128\ntick_time = 500\ninit_limit = 10\nsync_limit = 5"
SRVR = ("python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', 2181), 2); s.sendall(b'srvr'); "
        "print(s.makefile('rb').read().decode())\"")


def cli(lab, *words: str, inventory: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clusterctl", *words, "-i", str(inventory or lab.inventory_path)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def role(lab, node: str) -> str:
    out = inside(lab, node, SRVR, check=False)
    mode = re.search(r"^Mode: (\w+)", out, re.M)
    return mode.group(1) if mode else ("looking" if "not currently serving" in out else "down")


def main_pid(lab, node: str) -> str:
    return inside(lab, node, "systemctl show -p MainPID --value zookeeper").strip()


def client_hosts(lab) -> str:
    return ",".join(f"{lab.address(n)}:2181" for n in SERVERS)


def wait_until(condition, timeout: float, what: str) -> float:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, f"{what} did not happen within {timeout:.0f}s"
        time.sleep(0.2)
    return time.monotonic() - began


def serving(lab) -> dict[str, str]:
    return {n: role(lab, n) for n in SERVERS}


def whole(lab) -> bool:
    roles = serving(lab)
    return list(roles.values()).count("leader") == 1 and all(r in ("leader", "follower") for r in roles.values())


class Watch:
    """Samples, all along a block, how many servers answer at all (a server being restarted answers nothing)."""

    def __init__(self, lab):
        self.lab, self.fewest = lab, len(SERVERS)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            up = sum(role(self.lab, n) != "down" for n in SERVERS)
            self.fewest = min(self.fewest, up)
            time.sleep(0.1)

    def __enter__(self) -> "Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(30)


@pytest.fixture(scope="module")
def lab(artifacts):
    extra = render_runbook_sections(NODES, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    extra = extra.replace("heap_mb = 128", TUNING)
    with running_lab("tsv", "10.231.111.0/24", len(NODES), inventory_extra=extra) as lab:
        boot = cli(lab, "bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        yield lab


def test_the_server_runs_as_its_own_user_under_an_enabled_unit(lab):
    for node in SERVERS:
        assert inside(lab, node, "systemctl is-enabled zookeeper").strip() == "enabled"
        assert inside(lab, node, "systemctl is-active zookeeper").strip() == "active"
        pid = main_pid(lab, node)
        assert inside(lab, node, f"ps -o user= -p {pid}").strip() == "zookeeper"
        assert inside(lab, node, "find /var/lib/zookeeper /var/log/zookeeper ! -user zookeeper").strip() == ""
        assert inside(lab, node, "stat -c %U /opt/apache-zookeeper-3.8.0-bin /opt/zookeeper/bin/zkServer.sh") == "root\nroot\n"
        writable = inside(lab, node, "runuser -u zookeeper -- test -w /opt/zookeeper/bin && echo yes || echo no")
        assert writable.strip() == "no", "the release is read-only to the server"
        assert inside(lab, node, "stat -c '%a %U' /etc/zookeeper/super.env").strip() == "600 root"
        mode = inside(lab, node, "stat -c %a $(sed -n 's/^dynamicConfigFile=//p' /etc/zookeeper/zoo.cfg)").strip()
        assert mode[-1] == "0", "the membership file is not world-writable"
        assert "superDigest" not in inside(lab, node, f"tr '\\0' ' ' < /proc/$({SERVER_PID})/cmdline")
        assert inside(lab, node, "getent passwd zookeeper | cut -d: -f7").strip() in ("/usr/sbin/nologin", "/bin/false")
        assert inside(lab, node, "ls /var/log/zookeeper").split() == ["gc.log", "zookeeper.log"]
    assert inside(lab, "node1", "systemctl cat zookeeper >/dev/null 2>&1 && echo yes || echo no").strip() == "no"


def test_a_killed_server_is_restarted_by_systemd_and_rejoins_losing_no_write(lab):
    follower = next(n for n, r in serving(lab).items() if r == "follower")
    before = main_pid(lab, follower)
    with Writer(client_hosts(lab)) as writer:
        inside(lab, follower, f"kill -9 {before}")
        wait_until(lambda: main_pid(lab, follower) not in ("0", before), 60, "systemd restarting the server")
        wait_until(lambda: whole(lab), 60, "the server rejoining")
    assert role(lab, follower) == "follower"
    assert inside(lab, follower, "systemctl show -p NRestarts --value zookeeper").strip() != "0"
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"


def test_a_rebooted_node_starts_its_server_at_boot_and_the_quorum_holds(lab):
    follower = next(n for n, r in serving(lab).items() if r == "follower")
    with Writer(client_hosts(lab)) as writer, Watch(lab) as watch:
        lab.reboot([follower])
        wait_until(lambda: whole(lab), 90, f"{follower} rejoining after its reboot")
    assert watch.fewest >= len(SERVERS) - 1, "never more than the rebooted server down"
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"


def test_after_every_node_loses_power_the_ensemble_elects_a_leader_by_itself(lab):
    with Writer(client_hosts(lab)) as writer:
        time.sleep(1)
    acked = len(writer.acked)
    lab.reboot(NODES, crash=True)
    took = wait_until(lambda: whole(lab), 120, "an ensemble after the power cut")
    assert writer.lost() == [], f"{acked} acknowledged before the power cut"
    print(f"whole again {took:.1f}s after the nodes booted")


def test_autopurge_keeps_the_newest_three_snapshots(lab, tmp_path):
    inventory = tmp_path / "purge.toml"
    inventory.write_text(lab.inventory_path.read_text().replace(TUNING, TUNING + "\nsnap_count = 50"))
    apply = cli(lab, "zk", "install", inventory=inventory)
    assert apply.returncode == 0 and apply.stdout.count("restart needed") >= len(SERVERS), apply.stdout
    with Writer(client_hosts(lab), pace=0) as writer:
        roll = cli(lab, "zk", "restart", "--rolling", inventory=inventory)
        wait_until(lambda: len(writer.acked) > 800, 120, "800 writes")
    assert roll.returncode == 0, roll.stdout[-2000:] + roll.stderr
    count = "ls /var/lib/zookeeper/version-2 | grep -c '^snapshot\\.' || true"
    assert int(inside(lab, "node2", count)) > 3, "enough snapshots for a purge to matter"
    # Purging runs when a server starts, then every purge_interval hours. It keeps the newest three;
    # the server then takes one more as it syncs with the leader, newer than its own start.
    roll = cli(lab, "zk", "restart", "--rolling", inventory=inventory)
    assert roll.returncode == 0, roll.stdout[-2000:] + roll.stderr
    kept_from_before = ("since=$(date -d \"$(systemctl show -p ActiveEnterTimestamp --value zookeeper)\" +%s); "
                        "for f in /var/lib/zookeeper/version-2/snapshot.*; do "
                        "[ \"$(stat -c %Y \"$f\")\" -lt \"$since\" ] && echo \"$f\"; done; true")
    for node in SERVERS:
        wait_until(lambda: "Purge task completed" in inside(lab, node, "cat /var/log/zookeeper/zookeeper.log"), 30,
                   f"the purge on {node}")
        assert len(inside(lab, node, kept_from_before).split()) <= 3, node
        assert int(inside(lab, node, count)) <= 4, node
    assert writer.lost() == []
    assert cli(lab, "bootstrap").returncode == 0  # back to the module's inventory
    roll = cli(lab, "zk", "restart", "--rolling")
    assert roll.returncode == 0


# The previous layout: zoo.cfg with static server lines in the release's conf/, no reconfig, no unit, root.
LEGACY = """set -e
systemctl disable --now zookeeper
rm -rf /etc/systemd/system/zookeeper.service /etc/systemd/system/zookeeper.service.d /etc/zookeeper
systemctl daemon-reload
chown -R root:root /var/lib/zookeeper; rm -f /var/lib/zookeeper/zookeeper_server.pid
cat > /opt/zookeeper/conf/zoo.cfg <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
dataLogDir=/var/lib/zookeeper/datalog
clientPort=2181
4lw.commands.whitelist=srvr, mntr, ruok, stat, conf, isro
admin.enableServer=false
server.1=node2:2888:3888
server.2=node3:2888:3888
server.3=node4:2888:3888
CFG
printf 'ZK_SERVER_HEAP=128\\n' > /opt/zookeeper/conf/java.env
cd / && JAVA_HOME=/usr/java/default /opt/zookeeper/bin/zkServer.sh start
"""


def test_a_cluster_of_root_zkserver_servers_is_converted_by_one_rolling_pass_losing_no_write(lab):
    # As the previous clusterctl (and the runbook) left it: root, zkServer.sh, no unit.
    for node in SERVERS:
        inside(lab, node, LEGACY)
    wait_until(lambda: whole(lab), 60, "the hand-made ensemble")
    assert all(inside(lab, n, "ps -o user= -p $(cat /var/lib/zookeeper/zookeeper_server.pid)").strip() == "root"
               for n in SERVERS)
    plan = cli(lab, "plan")
    rolls = re.findall(r"^(node\d)\s+zk-roll\s+restart needed: the server \(pid \d+\) runs outside zookeeper.service",
                       plan.stdout, re.M)
    assert sorted(rolls) == SERVERS, plan.stdout
    with Writer(client_hosts(lab)) as writer, Watch(lab) as watch:
        boot = cli(lab, "bootstrap")
    assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
    assert watch.fewest >= len(SERVERS) - 1, "one server at a time: never a full stop"
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    for node in SERVERS:
        pid = main_pid(lab, node)
        assert pid != "0" and inside(lab, node, f"ps -o user= -p {pid}").strip() == "zookeeper"
        assert inside(lab, node, "systemctl is-enabled zookeeper").strip() == "enabled"
    again = cli(lab, "bootstrap")
    assert again.returncode == 0 and "0 changed" in again.stdout and "restart" not in again.stdout


# -- preflight ------------------------------------------------------------------

def node_state(lab) -> dict[str, str]:
    script = ("ls -A /opt /root/.ssh 2>&1; md5sum /etc/hosts; ls /etc/profile.d /etc/systemd/system; "
              "getent passwd zookeeper || echo no-user")
    return {node: inside(lab, node, script, check=False) for node in lab.nodes}


def test_preflight_names_each_problem_and_bootstrap_changes_nothing(artifacts, tmp_path):
    extra = render_runbook_sections(NODES, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    with running_lab("tsp", "10.231.112.0/24", len(NODES), inventory_extra=extra,
                     disk_sizes={"node2": "96m"}) as lab:
        inventory = tmp_path / "huge-heap.toml"
        inventory.write_text(lab.inventory_path.read_text().replace("heap_mb = 128", "heap_mb = 1000000"))
        taker = inside(lab, "node3", "setsid python3 -m http.server --bind 0.0.0.0 2181 >/dev/null 2>&1 & echo $!")
        try:
            wait_until(lambda: "2181" in inside(lab, "node3", "ss -Htln"), 30, "the port being taken")
            before = node_state(lab)
            check = cli(lab, "preflight", inventory=inventory)
            boot = cli(lab, "bootstrap", inventory=inventory)
            after = node_state(lab)
        finally:
            inside(lab, "node3", f"kill {taker.strip()}", check=False)
    assert check.returncode == 1 and boot.returncode == 1, check.stdout + boot.stdout
    assert re.search(r"node2\s+disk\s+FAIL", check.stdout), check.stdout
    assert all(re.search(rf"{n}\s+memory\s+FAIL", check.stdout) for n in SERVERS), check.stdout
    assert re.search(r"node3\s+ports\s+FAIL\s+port 2181 is taken by \d+ python3", check.stdout), check.stdout
    for node in SERVERS:
        assert re.search(rf"^{node}\s+preflight\s+failed\s+.*memory: heap_mb 1000000", boot.stdout, re.M), boot.stdout
    assert "fix:" in boot.stdout and "NO QUORUM" not in boot.stdout, "no status of an ensemble never touched"
    assert after == before, "nothing changed on any node"
