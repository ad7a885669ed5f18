"""A real ZooKeeper ensemble on lab hosts, driven through the command line and checked from inside the nodes.

Two labs, each brought up once for its class: the runbook's (node1..node4,
voters on node2..node4) and a larger one (five voters and an observer) for
quorum arithmetic under failures. Servers run with a 128 MB heap and a short
tickTime so elections are quick on a two-core machine.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from clusterctl.errors import ExitStatus
from clusterctl.events import State
from clusterctl.lab import Lab
from tests.lab_helpers import SERVER_PID, inside, run_steps, running_lab, wait_for_status
from clusterctl.steps import hosts_file, jdk, zookeeper

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]

# zoo.cfg, then the membership file it names (ZooKeeper's, once it has taken it up).
CONFIG = "cat /etc/zookeeper/zoo.cfg; cat \"$(sed -n 's/^dynamicConfigFile=//p' /etc/zookeeper/zoo.cfg)\""
# Short ticks: elections and failure detection in seconds (sessions may last 2..20 ticks).
ZK_TUNING = "tick_time = 500\ninit_limit = 10\nsync_limit = 5\nheap_mb = 128\n"


@pytest.fixture(scope="session")
def packages() -> dict[str, Path]:
    from clusterctl.lab.artifacts import ensure_artifacts
    cache = Path(os.environ.get("CLUSTERCTL_ARTIFACTS_CACHE", REPO / "artifacts"))
    return ensure_artifacts(cache, only=["jdk_tarball", "zookeeper"])


def inventory_sections(packages: dict[str, Path], servers: str) -> str:
    return (f'[jdk]\npackage = "{packages["jdk_tarball"]}"\n\n'
            f'[zookeeper]\npackage = "{packages["zookeeper"]}"\n{ZK_TUNING}\n'
            f"[zookeeper.servers]\n{servers}\n")


@dataclass
class Ensemble:
    lab: Lab
    inventory: Path
    servers: list[str]

    def cli(self, *words: str, args: tuple[str, ...] = (), timeout: float = 300) -> subprocess.CompletedProcess:
        """``clusterctl WORDS -i INVENTORY ARGS`` as a user runs it."""
        argv = [sys.executable, "-m", "clusterctl", *words, "-i", str(self.inventory), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO)

    def status_json(self) -> tuple[int, dict]:
        result = self.cli("zk", "status", args=("--json",))
        return result.returncode, json.loads(result.stdout)

    def srvr_inside(self, node: str) -> str:
        """What the server says of itself, asked on its node."""
        return inside(self.lab, node, "python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', 2181), 3); "
                                      "s.sendall(b'srvr'); print(s.makefile('rb').read().decode())\"", check=False)

    def client_hosts(self, nodes: list[str] | None = None) -> str:
        return ",".join(f"{self.lab.address(n)}:2181" for n in nodes or self.servers)


@contextmanager
def kazoo(hosts: str, **kwargs):
    """A started kazoo client, stopped and closed afterwards."""
    zk = KazooClient(hosts=hosts, **kwargs)
    zk.start(timeout=15)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


def role_said(srvr: str) -> str:
    mode = re.search(r"^Mode: (\w+)", srvr, re.M)
    return mode.group(1) if mode else ("looking" if "not currently serving" in srvr else "down")


@contextmanager
def ensemble_lab(name: str, subnet: str, nodes: int, servers: dict[str, str], packages):
    with running_lab(name, subnet, nodes, inventory_extra=inventory_sections(
            packages, "\n".join(f"{h} = {v}" for h, v in servers.items()))) as lab:
        inventory = lab.inventory_path
        status, _, _ = run_steps(inventory, [hosts_file.HostsFile(), *jdk.steps()])
        assert status == ExitStatus.OK, "hosts file and JDK on every node"
        yield Ensemble(lab, inventory, list(servers))


# -- the runbook's ensemble ----------------------------------------------------

@pytest.fixture(scope="class")
def runbook(packages):
    with ensemble_lab("tz3", "10.231.96.0/24", 4, {"node2": "1", "node3": "2", "node4": "3"}, packages) as env:
        yield env


@pytest.fixture(scope="class")
def installed(runbook):
    return runbook.cli("zk", "install")


@pytest.fixture(scope="class")
def started(runbook, installed):
    return runbook.cli("zk", "start")


class TestRunbookEnsemble:
    def test_install_lays_out_the_runbook_on_every_server(self, runbook, installed):
        assert installed.returncode == 0, installed.stdout + installed.stderr
        for node, myid in zip(runbook.servers, ("1", "2", "3")):
            assert inside(runbook.lab, node, "readlink /opt/zookeeper").strip() == "/opt/apache-zookeeper-3.8.0-bin"
            assert inside(runbook.lab, node, "cat /var/lib/zookeeper/myid").strip() == myid
            cfg = inside(runbook.lab, node, CONFIG).splitlines()
            assert {"server.1=node2:2888:3888:participant;0.0.0.0:2181", "server.2=node3:2888:3888:participant;0.0.0.0:2181",
                    "server.3=node4:2888:3888:participant;0.0.0.0:2181", "reconfigEnabled=true",
                    "dataDir=/var/lib/zookeeper", "dataLogDir=/var/lib/zookeeper/datalog", "tickTime=500",
                    "admin.enableServer=false"} <= set(cfg)
            assert inside(runbook.lab, node, "test -d /var/lib/zookeeper/datalog && echo ok").strip() == "ok"
            login = inside(runbook.lab, node, "bash -lc 'echo $ZOOKEEPER_HOME; command -v zkServer.sh'").split()
            assert login == ["/opt/zookeeper", "/opt/zookeeper/bin/zkServer.sh"]
        assert inside(runbook.lab, "node1", "test -e /opt/zookeeper && echo yes || echo no").strip() == "no"

    def test_second_install_changes_nothing_and_asks_each_server_once(self, runbook, installed):
        status, recorder, _ = run_steps(runbook.inventory, [zookeeper.ZkStage(), zookeeper.ZkInstall()])
        assert status == ExitStatus.OK
        assert {s for (h, step), s in recorder.final_states().items() if step == "zookeeper"} == {State.UNCHANGED}
        commands = [e for e in recorder.events if e.kind == "command"]
        assert sorted(e.host for e in commands) == runbook.servers, "one gather command per server, nothing else"

    def test_start_elects_a_leader_and_says_who(self, runbook, started):
        assert started.returncode == 0, started.stdout + started.stderr
        leader = re.search(r"leader: (node\d) \(myid (\d)\), ([\d.]+)s after start", started.stdout)
        assert leader, started.stdout
        assert role_said(runbook.srvr_inside(leader.group(1))) == "leader"

    def test_starting_running_servers_changes_nothing(self, runbook, started):
        result = runbook.cli("zk", "start")
        assert result.returncode == 0
        assert "0 changed, 3 unchanged" in result.stdout
        assert result.stdout.count("running (pid") == 3

    def test_servers_run_with_the_inventory_heap_and_java_home(self, runbook, started):
        for node in runbook.servers:
            cmdline = inside(runbook.lab, node, f"tr '\\0' ' ' < /proc/$({SERVER_PID})/cmdline")
            assert "-Xmx128m" in cmdline and cmdline.startswith("/usr/java/default/bin/java ")

    def test_status_is_what_each_server_says_of_itself(self, runbook, started):
        code, status = runbook.status_json()
        assert code == 0
        for server in status["servers"]:
            srvr = runbook.srvr_inside(server["host"])
            assert server["role"] == role_said(srvr)
            assert server["via"] == "client port"
            said_zxid = re.search(r"^Zxid: (0x[0-9a-f]+)", srvr, re.M).group(1)
            assert int(server["zxid"], 16) <= int(said_zxid, 16)
        assert [s["role"] for s in status["servers"]].count("leader") == 1
        assert status["quorum"] == {"voters": 3, "up": 3, "needed": 2, "has_quorum": True, "tolerates": 1}

    def test_status_table_ends_with_the_quorum_line(self, runbook, started):
        result = runbook.cli("zk", "status")
        assert result.returncode == 0
        assert "voters up 3 of 3, quorum needs 2, tolerates 1 more failure" in result.stdout
        assert re.search(r"node\d\s+\d\s+leader\s+0x", result.stdout)

    def test_status_asks_on_the_node_when_the_client_port_is_out_of_reach(self, runbook, started):
        # Replies from the client port to anywhere but the node itself go nowhere: the controller's
        # connection times out, while SSH and the node's own loopback still work.
        cut = "ip route add blackhole default table 100 && ip rule add ipproto tcp sport 2181 priority 100 table 100"
        inside(runbook.lab, "node3", cut)
        try:
            code, status = runbook.status_json()
        finally:
            inside(runbook.lab, "node3", "ip rule del priority 100 && ip route flush table 100")
        node3 = next(s for s in status["servers"] if s["host"] == "node3")
        assert code == 0 and node3["via"] == "ssh"
        assert node3["role"] == role_said(runbook.srvr_inside("node3")) and node3["zxid"].startswith("0x")

    def test_smoke_reads_the_write_back_through_every_server(self, runbook, started):
        result = runbook.cli("zk", "smoke")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("read it back") == 2 and "wrote /clusterctl-smoke-" in result.stdout
        with kazoo(runbook.client_hosts()) as zk:
            assert not [c for c in zk.get_children("/") if c.startswith("clusterctl-smoke-")], "znode removed"

    def test_cli_runs_one_command_and_prints_its_output(self, runbook, started):
        result = runbook.cli("zk", "cli", args=("node3", "--", "ls", "/"))
        assert result.returncode == 0, result.stderr
        assert "[zookeeper]" in result.stdout
        missing = runbook.cli("zk", "cli", args=("node3", "--", "get", "/no-such-znode"))
        assert missing.returncode == 1 and "Node does not exist" in missing.stdout + missing.stderr

    def test_cli_without_a_command_is_an_interactive_session(self, runbook, started):
        pid, fd = pty.fork()
        if pid == 0:  # the child: clusterctl on a terminal, as a user would run it
            os.execvp(sys.executable, [sys.executable, "-m", "clusterctl", "zk", "cli", "-i",
                                       str(runbook.inventory), "node2"])
        seen = b""

        def read_until(token: bytes, timeout: float = 60) -> bool:
            nonlocal seen
            deadline = time.monotonic() + timeout
            while token not in seen and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.2)[0]:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    seen += chunk
            return token in seen

        try:
            assert read_until(b"SyncConnected"), seen.decode(errors="replace")
            os.write(fd, b"ls /\n")
            assert read_until(b"[zookeeper"), seen.decode(errors="replace")
            os.write(fd, b"quit\n")
            read_until(b"closed")
        finally:
            _, wait_status = os.waitpid(pid, 0)
            os.close(fd)
        assert os.waitstatus_to_exitcode(wait_status) == 0

    def test_a_config_change_needs_a_restart_and_a_roll_under_writes_does_it_losing_nothing(self, runbook, started):
        # One scenario: install marks the servers stale and restarts none; the roll restarts them; then none is.
        pids = {n: inside(runbook.lab, n, SERVER_PID) for n in runbook.servers}
        original = runbook.inventory.read_text()
        runbook.inventory.write_text(original.replace("sync_limit = 5", "sync_limit = 6"))
        try:
            plan = runbook.cli("plan", args=("--only", "zookeeper", "--diff"))
            assert "+syncLimit=6" in plan.stdout and "-syncLimit=5" in plan.stdout
            result = runbook.cli("zk", "install")
            assert result.returncode == 0
            assert result.stdout.count("zoo.cfg; restart needed (running pid") == 3
        finally:
            runbook.inventory.write_text(original)
        assert pids == {n: inside(runbook.lab, n, SERVER_PID) for n in pids}
        back = runbook.cli("zk", "install")
        assert back.stdout.count("restart needed") == 3, "still true until the servers restart"
        acked: list[tuple[str, bytes]] = []
        failures: list[str] = []
        done = threading.Event()

        def write_continuously() -> None:
            with kazoo(runbook.client_hosts(), timeout=10,
                       connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1}) as zk:
                zk.ensure_path("/rolling")
                deadline = time.monotonic() + 300  # bounded even if the test body fails to stop it
                n = 0
                while not done.is_set() and time.monotonic() < deadline:
                    data = str(n).encode()
                    try:
                        acked.append((zk.create("/rolling/w-", data, sequence=True), data))
                    except Exception as exc:  # not acknowledged: it may or may not have happened
                        failures.append(type(exc).__name__)
                        time.sleep(0.05)
                    n += 1
                    time.sleep(0.005)

        _, status = runbook.status_json()
        leader_before = next(s["host"] for s in status["servers"] if s["role"] == "leader")
        writer = threading.Thread(target=write_continuously, daemon=True)
        writer.start()
        try:
            while len(acked) < 20 and writer.is_alive():
                time.sleep(0.1)
            before = len(acked)
            roll = runbook.cli("zk", "restart", args=("--rolling",))
            during = len(acked) - before
            time.sleep(1)
        finally:
            done.set()
            writer.join(30)
        assert roll.returncode == 0, roll.stdout + roll.stderr
        order = re.findall(r"^(node\d)\s+zk-restart\s+changed\s+back as (\w+)", roll.stdout, re.M)
        assert len(order) == 3 and during > 20, (roll.stdout, during)
        assert order[-1][0] == leader_before, "the leader goes last"
        with kazoo(runbook.client_hosts()) as zk:
            zk.sync("/rolling")
            lost = [(path, data) for path, data in acked if not zk.exists(path) or zk.get(path)[0] != data]
        assert not lost, f"{len(lost)} of {len(acked)} acknowledged writes lost (write errors: {failures[:5]})"
        result = runbook.cli("zk", "install")
        assert result.returncode == 0 and "restart needed" not in result.stdout
        assert "0 changed, 3 unchanged" in result.stdout

    def test_a_node_holding_another_myid_is_refused_and_left_alone(self, runbook, started):
        inside(runbook.lab, "node3", "echo 7 > /var/lib/zookeeper/myid")
        try:
            result = runbook.cli("zk", "install")
            assert result.returncode == ExitStatus.HOST_FAILURE
            assert re.search(r"node3\s+failed\s+zookeeper: /var/lib/zookeeper/myid holds '7'", result.stdout)
            assert "refusing to overwrite" in result.stdout
            assert inside(runbook.lab, "node3", "cat /var/lib/zookeeper/myid").strip() == "7"
            assert "0 changed, 2 unchanged, 1 failed" in result.stdout
        finally:
            inside(runbook.lab, "node3", "echo 2 > /var/lib/zookeeper/myid")

    def test_stop_one_then_start_it_again(self, runbook, started):
        stop = runbook.cli("zk", "stop", args=("node2",))
        assert stop.returncode == 0 and re.search(r"node2\s+zk-stop\s+changed\s+stopped", stop.stdout)
        assert role_said(runbook.srvr_inside("node2")) == "down"
        again = runbook.cli("zk", "stop", args=("node2",))
        assert re.search(r"node2\s+zk-stop\s+unchanged\s+not running", again.stdout)
        code, status = runbook.status_json()
        assert code == 0 and status["quorum"]["up"] == 2 and status["quorum"]["tolerates"] == 0
        start = runbook.cli("zk", "start", args=("node2",))
        assert start.returncode == 0 and re.search(r"node2\s+zk-start\s+changed\s+started", start.stdout)
        assert role_said(runbook.srvr_inside("node2")) == "follower"


# -- five voters and an observer -----------------------------------------------

FIVE = {"node1": "1", "node2": "2", "node3": "3", "node4": "4", "node5": "5",
        "node6": "{ id = 6, observer = true }"}


@pytest.fixture(scope="class")
def five(packages):
    with ensemble_lab("tz5", "10.231.97.0/24", 6, FIVE, packages) as env:
        status, _, _ = run_steps(env.inventory, zookeeper.steps())
        assert status == ExitStatus.OK
        yield env


class TestFiveVotersAndAnObserver:
    def test_the_observer_serves_without_voting(self, five):
        code, status = five.status_json()
        assert code == 0
        roles = {s["host"]: s["role"] for s in status["servers"]}
        assert roles["node6"] == "observer" == role_said(five.srvr_inside("node6"))
        assert sorted(roles[h] for h in FIVE if h != "node6").count("leader") == 1
        assert status["quorum"] == {"voters": 5, "up": 5, "needed": 3, "has_quorum": True, "tolerates": 2}
        for node in FIVE:  # every server's membership says node6 observes
            assert "server.6=node6:2888:3888:observer;0.0.0.0:2181" in inside(five.lab, node, CONFIG)

    def test_smoke_reads_back_through_the_observer_too(self, five):
        result = five.cli("zk", "smoke")
        assert result.returncode == 0, result.stdout
        assert result.stdout.count("read it back") == 5

    def test_quorum_holds_with_two_voters_down_is_lost_with_three_and_comes_back(self, five):
        # One scenario, in order: each stage needs the nodes the stage before it stopped.
        _, status = five.status_json()
        leader = next(s["host"] for s in status["servers"] if s["role"] == "leader")
        follower = next(s["host"] for s in status["servers"] if s["role"] == "follower")
        five.lab.stop_node(leader)
        five.lab.stop_node(follower)
        status = wait_for_status(five.status_json, 0, voters_up=3)
        assert status["quorum"] == {"voters": 5, "up": 3, "needed": 3, "has_quorum": True, "tolerates": 0}
        assert {s["host"] for s in status["servers"] if s["role"] == "down"} == {leader, follower}
        refused = five.cli("zk", "restart", args=("--rolling",))
        assert refused.returncode != 0 and "refusing a rolling restart" in refused.stderr
        smoke = five.cli("zk", "smoke")
        assert smoke.returncode == ExitStatus.HOST_FAILURE and smoke.stdout.count("read it back") == 3
        for node in (leader, follower):
            assert re.search(rf"{node}\s+failed\s+zk-smoke: cannot read back: the server is down", smoke.stdout)

        third = next(s["host"] for s in status["servers"] if s["role"] in ("follower", "leader"))
        five.lab.stop_node(third)
        status = wait_for_status(five.status_json, ExitStatus.NO_QUORUM, voters_up=0)
        assert status["quorum"]["has_quorum"] is False and status["quorum"]["up"] == 0
        table = five.cli("zk", "status")
        assert table.returncode == ExitStatus.NO_QUORUM and "NO QUORUM" in table.stdout
        assert "voters up 0 of 5, quorum needs 3" in table.stdout
        smoke = five.cli("zk", "smoke")
        assert smoke.returncode != 0

        # The observer and two voters kept running (looking); the three stopped nodes boot again.
        for node in five.lab.nodes:
            five.lab.start_node(node)
        result = five.cli("zk", "start")
        assert result.returncode == 0, result.stdout + result.stderr
        smoke = five.cli("zk", "smoke")  # at once: zk start returned only when every server serves
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert smoke.stdout.count("read it back") == 5
        code, status = five.status_json()
        assert code == 0 and status["quorum"]["up"] == 5


# -- several observers -----------------------------------------------------------

OBSERVED = {"node1": "1", "node2": "2", "node3": "3", "node4": "{ id = 4, observer = true }",
            "node5": "{ id = 5, observer = true }", "node6": "{ id = 6, observer = true }"}


@pytest.fixture(scope="class")
def observed(packages):
    with ensemble_lab("tzo", "10.231.98.0/24", 6, OBSERVED, packages) as env:
        install = env.cli("zk", "install")
        assert install.returncode == 0, install.stdout + install.stderr
        yield env


class TestSeveralObservers:
    def test_every_server_serves_as_soon_as_zk_start_returns(self, observed):
        """Regression: zk start returned while an observer was still looking, and the smoke after it failed."""
        cycles = [("cold start", []), ("voters restarted, observers left looking", ["node1", "node2"]),
                  ("every node crashed", list(OBSERVED))]
        for what, crash in cycles:
            for node in crash:
                observed.lab.stop_node(node, crash=True)
            for node in crash:
                observed.lab.start_node(node)
            start = observed.cli("zk", "start")
            assert start.returncode == 0, (what, start.stdout + start.stderr)
            roles = {n: role_said(observed.srvr_inside(n)) for n in OBSERVED}
            assert all(roles[n] == "observer" for n in ("node4", "node5", "node6")), (what, roles)
            smoke = observed.cli("zk", "smoke")
            assert smoke.returncode == 0, (what, smoke.stdout + smoke.stderr)
            assert smoke.stdout.count("read it back") == 5, what

    def test_a_server_that_never_serves_fails_zk_start_by_name(self, observed):
        # An observer whose quorum port is blackholed can never sync: zk start names it and exits 1.
        observed.cli("zk", "stop", args=("node6",))
        inside(observed.lab, "node6", f"ip route add blackhole {observed.lab.subnet} table 101 && "
                                      "ip rule add ipproto tcp dport 2888 priority 101 table 101")
        try:
            start = observed.cli("zk", "start", args=("node6", "--timeout", "8"))
        finally:
            inside(observed.lab, "node6", "ip rule del priority 101 && ip route flush table 101")
        assert start.returncode == ExitStatus.HOST_FAILURE, start.stdout + start.stderr
        assert re.search(r"node6\s+failed\s+zk-start: not serving \d+s after start: up but not serving yet",
                         start.stdout), start.stdout
        again = observed.cli("zk", "start", args=("node6",))
        assert again.returncode == 0, again.stdout + again.stderr
