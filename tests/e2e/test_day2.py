"""Day-2 commands on a running five-node cluster do exactly what they say, checked from inside the nodes.

Every test starts from a converged cluster (a no-op bootstrap makes sure of
it) and leaves one behind, so each stands alone. `--hosts` limits where
changes are applied: the named hosts change, the others stay byte for byte
and pid for pid as they were, while the facts that define the cluster (every
peer's keys, the ensemble) are still read from all of them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clusterctl.errors import ExitStatus
from clusterctl.lab.runbook import render_runbook_sections
from tests.lab_helpers import SERVER_PID, inside, running_lab, wait_for_status

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
NODES = ["node1", "node2", "node3", "node4", "node5"]
SERVERS = NODES  # five voters: one may be down and a roll still has its margin
FILES = ["/etc/hosts", "/root/.ssh/authorized_keys", "/root/.ssh/known_hosts", "/etc/profile.d/java.sh",
         "/etc/profile.d/zookeeper.sh", "/etc/zookeeper/zoo.cfg", "/etc/zookeeper/java.env",
         "/var/lib/zookeeper/myid"]
SNAPSHOT = (f"for f in {' '.join(FILES)}; do stat -c '%n %i %Y %s' \"$f\"; md5sum \"$f\"; done; "
            "readlink /opt/zookeeper /usr/java/default; " + SERVER_PID)


@pytest.fixture(scope="module")
def cluster(artifacts, tmp_path_factory):
    extra = render_runbook_sections(NODES, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    # Every node a server (the runbook's layout puts none on node1), short ticks for quick elections.
    extra = extra.replace("[zookeeper.servers]\n", "[zookeeper.servers]\nnode1 = 5\n")
    extra = extra.replace("heap_mb = 128", "heap_mb = 128\ntick_time = 500\ninit_limit = 10\nsync_limit = 5")
    with running_lab("td2", "10.231.100.0/24", len(NODES), inventory_extra=extra) as lab:
        env = Cluster(lab, lab.inventory_path, tmp_path_factory.mktemp("day2"))
        boot = env.cli("bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        yield env


class Cluster:
    def __init__(self, lab, inventory: Path, tmp: Path):
        self.lab, self.inventory, self.tmp = lab, inventory, tmp

    def cli(self, *words: str, inventory: Path | None = None, before: tuple[str, ...] = (),
            timeout: float = 600) -> subprocess.CompletedProcess:
        """``clusterctl [BEFORE] WORDS... -i INVENTORY``, as an operator types it."""
        argv = [sys.executable, "-m", "clusterctl", *before, *words]
        if not before:
            argv += ["-i", str(inventory or self.inventory)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO)

    def snapshot(self, nodes=NODES) -> dict[str, str]:
        return {n: inside(self.lab, n, SNAPSHOT, check=False) for n in nodes}

    def pids(self) -> dict[str, str]:
        return {n: inside(self.lab, n, SERVER_PID, check=False).strip()
                for n in SERVERS}

    def inventory_with(self, old: str, new: str) -> Path:
        text = self.inventory.read_text()
        assert old in text
        path = self.tmp / f"inventory-{abs(hash(new))}.toml"
        path.write_text(text.replace(old, new))
        return path

    def converged(self) -> None:
        """Bring the cluster back to the inventory, whatever a test did; every server serving."""
        boot = self.cli("bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        stale = self.cli("zk", "install")
        if "restart needed" in stale.stdout:
            roll = self.cli("zk", "restart", "--rolling")
            assert roll.returncode == 0, roll.stdout[-2000:] + roll.stderr

    def roles(self) -> dict[str, str]:
        code, status = self.status()
        return {s["host"]: s["role"] for s in status["servers"]}

    def status(self) -> tuple[int, dict]:
        result = self.cli("zk", "status", "--json")
        return result.returncode, json.loads(result.stdout)


def others(node: str) -> list[str]:
    return [n for n in NODES if n != node]


def test_bootstrap_hosts_repairs_one_node_and_leaves_the_others_as_they_were(cluster):
    cluster.converged()
    # node5 lost its peers' host keys and its server; every server's zoo.cfg is now out of date.
    inside(cluster.lab, "node5", "rm /root/.ssh/known_hosts")
    assert cluster.cli("zk", "stop", "node5").returncode == 0
    changed = cluster.inventory_with("sync_limit = 5", "sync_limit = 6")
    before = cluster.snapshot(others("node5"))
    repair = cluster.cli("bootstrap", "--hosts", "node5", inventory=changed)
    assert repair.returncode == 0, repair.stdout[-3000:] + repair.stderr
    assert cluster.snapshot(others("node5")) == before, "no other node changed, no other server restarted"
    for peer in others("node5"):
        login = inside(cluster.lab, "node5", f"ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes {peer} hostname")
        assert login.strip() == peer, "node5 knows every peer again, from the peers' own keys"
    assert "syncLimit=6" in inside(cluster.lab, "node5", "cat /etc/zookeeper/zoo.cfg")
    assert "syncLimit=5" in inside(cluster.lab, "node1", "cat /etc/zookeeper/zoo.cfg")
    assert cluster.roles()["node5"] in ("follower", "leader")
    cluster.converged()


def test_plan_hosts_on_a_healthy_cluster_plans_nothing(cluster):
    cluster.converged()
    for node in ("node2", "node5"):
        plan = cluster.cli("plan", "--hosts", node)
        assert plan.returncode == 0, plan.stderr
        assert "plan: nothing to change" in plan.stdout, plan.stdout


def test_each_command_with_hosts_changes_that_host_alone(cluster):
    cluster.converged()
    # Make every node need each change, then let each command fix node3 only.
    address = cluster.lab.address("node2")  # the lab's: a run beside another has its subnet moved
    wrong = address.rsplit(".", 1)[0] + ".99"
    for node in NODES:
        inside(cluster.lab, node, f"sed -i 's/^{address} node2$/{wrong} node2/' /etc/hosts; "
                                  "rm -f /etc/profile.d/java.sh")
    before = cluster.snapshot(others("node3"))
    for words in (("hosts",), ("ssh-trust",), ("jdk", "install"), ("zk", "install")):
        result = cluster.cli(*words, "--hosts", "node3")
        assert result.returncode == 0, (words, result.stdout[-2000:], result.stderr)
        assert re.search(r"^node3\s", result.stdout, re.M), words
        assert not re.search(r"^node[1245]\s+(changed|failed)", result.stdout, re.M), (words, result.stdout)
    assert cluster.snapshot(others("node3")) == before
    assert f"{address} node2" in inside(cluster.lab, "node3", "cat /etc/hosts")
    assert inside(cluster.lab, "node3", "test -f /etc/profile.d/java.sh && echo yes").strip() == "yes"
    cluster.converged()


def test_rolling_restart_hosts_restarts_that_server_alone(cluster):
    cluster.converged()
    pids = cluster.pids()
    roll = cluster.cli("zk", "restart", "--rolling", "--hosts", "node3")
    assert roll.returncode == 0, roll.stdout[-2000:] + roll.stderr
    after = cluster.pids()
    assert after["node3"] != pids["node3"]
    assert {n: p for n, p in after.items() if n != "node3"} == {n: p for n, p in pids.items() if n != "node3"}


def test_rolling_restart_starts_a_server_that_was_down(cluster):
    cluster.converged()
    assert cluster.cli("zk", "stop", "node4").returncode == 0
    pids = cluster.pids()
    roll = cluster.cli("zk", "restart", "--rolling", timeout=900)
    assert roll.returncode == 0, roll.stdout[-3000:] + roll.stderr
    roles = cluster.roles()
    assert all(role in ("leader", "follower") for role in roles.values()), roles
    after = cluster.pids()
    assert all(after[n] and after[n] != pids[n] for n in SERVERS), (pids, after)


def test_rolling_restart_without_margin_is_refused_restarting_nothing(cluster):
    cluster.converged()
    for node in ("node4", "node5"):
        assert cluster.cli("zk", "stop", node).returncode == 0
    # If one of them led, the three left elect a leader first; until then there is no quorum at all,
    # which is refused too but for another reason (exit 3). This test is about the margin.
    wait_for_status(cluster.status, 0, voters_up=3)
    pids = cluster.pids()
    refused = cluster.cli("zk", "restart", "--rolling")
    assert refused.returncode == ExitStatus.REFUSED, refused.stdout + refused.stderr
    assert "refusing a rolling restart" in refused.stderr and refused.stderr.count("\n") == 1
    assert cluster.pids() == pids
    cluster.converged()


def test_global_options_go_before_the_subcommand_too(cluster):
    cluster.converged()
    status = cluster.cli("zk", "status", before=("-i", str(cluster.inventory)))
    assert status.returncode == 0, status.stderr
    plan = cluster.cli("plan", before=("-i", str(cluster.inventory), "--hosts", "node1", "--forks", "2"))
    assert plan.returncode == 0 and "plan: nothing to change" in plan.stdout, plan.stdout + plan.stderr
    verbose = cluster.cli("hosts", before=("-v", "-i", str(cluster.inventory)))
    assert verbose.returncode == 0 and "facts.sh" in verbose.stdout, "-v before the command shows remote commands"


def test_zk_status_shows_what_servers_say_and_no_change_summary(cluster):
    cluster.converged()
    result = cluster.cli("zk", "status")
    assert result.returncode == 0
    assert "changed" not in result.stdout + result.stderr and "unchanged" not in result.stderr
    assert re.search(r"\s\d+/\d+\.\d/\d+\s", result.stdout), result.stdout


def test_plan_is_compact_with_diff_and_json_on_request(cluster):
    cluster.converged()
    changed = cluster.inventory_with("sync_limit = 5", "sync_limit = 7")
    compact = cluster.cli("plan", inventory=changed)
    rows = [line for line in compact.stdout.splitlines() if re.match(r"node\d\s+zookeeper\s", line)]
    assert len(rows) == len(SERVERS) and all("restart needed" in r for r in rows), compact.stdout
    assert "-syncLimit=5" not in compact.stdout
    diff = cluster.cli("plan", "--diff", inventory=changed)
    assert diff.stdout.count("-syncLimit=5") == len(SERVERS) and diff.stdout.count("+syncLimit=7") == len(SERVERS)
    as_json = cluster.cli("plan", "--json", inventory=changed)
    data = json.loads(as_json.stdout)
    # Each server: its zoo.cfg written, then its restart (the roll's), the reason named.
    assert data["changes"] == 2 * len(SERVERS) and data["hosts_changed"] == len(SERVERS)
    roll_rows = [row for row in data["plan"] if row["step"] == "zk-roll"]
    assert {row["host"] for row in roll_rows} == set(SERVERS)
    assert all("zoo.cfg" in row["changes"][0]["summary"] for row in roll_rows), roll_rows
    # Each restart's place in the roll, as the ensemble stands: the leader's is the last.
    leader = next(h for h, role in cluster.roles().items() if role == "leader")
    places = {row["host"]: re.search(r"\((\d) of 5 in the roll: ([^;)]*)", row["changes"][0]["summary"])
              for row in roll_rows}
    assert all(places.values()), roll_rows
    assert sorted(int(m.group(1)) for m in places.values()) == [1, 2, 3, 4, 5]
    assert places[leader].group(1) == "5" and places[leader].group(2).endswith(leader)
    assert "the leader now, so last" in next(r for r in roll_rows if r["host"] == leader)["changes"][0]["summary"]
    zk_rows = [row for row in data["plan"] if row["step"] == "zookeeper"]
    assert {row["host"] for row in zk_rows} == set(SERVERS)
    assert all("+syncLimit=7" in row["changes"][0]["diff"] and row["changes"][0]["change"] for row in zk_rows)
    assert all(not c["change"] for row in data["plan"] if row["step"] == "preflight" for c in row["changes"])
