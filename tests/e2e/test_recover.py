"""zk recover on a three-server lab: refused while a quorum is up; two of the three machines crash for good
under a writer, and the survivor's data comes back as an ensemble that serves, with every acknowledged write
the survivor had, the output naming the zxid it recovered to; once the crashed machines are back, zk recover
sets their old data aside and grows the ensemble back to the inventory's three servers."""

from __future__ import annotations

import re
import time

import pytest

from tests.ensembles import bootstrapped_three, whole
from tests.lab_helpers import SERVER_PID, Writer, inside

pytestmark = pytest.mark.e2e
NODES = ["node1", "node2", "node3"]
SERVERS = {"node1": 1, "node2": 2, "node3": 3}
SURVIVOR, LOST = "node1", ["node2", "node3"]
# What a refused or dry run must leave as it is on a node: the data and config directories, the server.
NODE_STATE = ("find /var/lib /etc/zookeeper /tmp \\( -path '/var/lib/zookeeper*' -o -path '/etc/zookeeper*' \\) "
              "-printf '%p %s %T@\n' -o -path '/tmp/clusterctl*' -printf '%p\n' 2>/dev/null | sort; " + SERVER_PID)


# The same story on nodes without a service manager and on nodes booted by systemd, where a crashed machine
# comes back with its unit enabled and starts its old server (old data, old membership) by itself.
LABS = {"none": ("trc", "10.231.128.0/24"), "systemd": ("trs", "10.231.129.0/24")}


@pytest.fixture(scope="module", params=list(LABS))
def ensemble(artifacts, request):
    name, subnet = LABS[request.param]
    with bootstrapped_three(artifacts, name, subnet, init=request.param) as ensemble:
        ensemble.init = request.param
        yield ensemble


def nodes_state(ensemble, nodes=NODES) -> dict[str, str]:
    return {n: inside(ensemble.lab, n, NODE_STATE) for n in nodes}


def test_recover_is_refused_while_a_quorum_is_up(ensemble):
    before = nodes_state(ensemble)
    refused = ensemble.cli("zk", "recover", "--yes")
    assert refused.returncode == 4, refused.stdout[-3000:] + refused.stderr
    said = refused.stdout + refused.stderr
    assert "a quorum is up" in said and "zk replace" in said and "Traceback" not in said, said
    assert nodes_state(ensemble) == before


def test_a_lost_quorum_comes_back_from_the_survivor_with_every_write_it_had(ensemble):
    with Writer(ensemble.hosts(NODES)) as writer:
        ensemble.lab.stop_nodes(LOST, crash=True)  # two machines gone, power cut
        crashed_after = len(writer.acked)
        before = nodes_state(ensemble, [SURVIVOR])
        dry = ensemble.cli("zk", "recover", "--dry-run")
        assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
        assert "dry run: nothing was changed" in dry.stdout and "before-recover" in dry.stdout, dry.stdout
        assert nodes_state(ensemble, [SURVIVOR]) == before
        done = ensemble.cli("zk", "recover", "--yes")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        acked_before_recovery = len(writer.acked)
        # The writer goes on through the recovered ensemble before it stops.
        deadline_writes = acked_before_recovery + 20
        end = time.monotonic() + 60
        while len(writer.acked) < deadline_writes and time.monotonic() < end:
            time.sleep(0.1)
    said = re.search(r"recovered to zxid (0x[0-9a-f]+) from node1", done.stdout)
    assert said, done.stdout[-3000:]
    assert f"recovers to zxid {said.group(1)}" in done.stdout and "cannot be known" in done.stdout, done.stdout
    assert ensemble.role(SURVIVOR) == "leader"
    assert len(writer.acked) >= acked_before_recovery + 20, f"no writes after the recovery: {writer.errors[-3:]}"
    lost = writer.lost()
    # What the survivor had is there; writes it may not have had are the last ones acknowledged before the
    # crash (committed by node2 and node3 alone), never one acknowledged after it.
    assert all(path in {p for p, _ in writer.acked[crashed_after - len(lost):crashed_after]} for path in lost), \
        (len(lost), crashed_after)
    kept = inside(ensemble.lab, SURVIVOR, "ls /var/lib/zookeeper.before-recover-*/conf").split()
    assert "zoo.cfg" in kept, kept


def held_off(ensemble) -> None:
    """On systemd nodes the returning machines' units try to start their old servers: the unit's guard refuses
    (the survivor runs a newer membership without them), so they neither join the recovered ensemble nor form
    one of their own with the old membership, and their data waits as it was to be set aside."""
    said = "was left out of the ensemble while it was away"
    journal = {}
    end = time.monotonic() + 90
    while time.monotonic() < end:
        journal = {n: inside(ensemble.lab, n, "journalctl -u zookeeper --no-pager -o cat", check=False) for n in LOST}
        if all(said in text for text in journal.values()):
            break
        time.sleep(1)
    assert all(said in text for text in journal.values()), journal
    time.sleep(3)  # a unit that tries again (Restart=on-failure) is refused again
    assert {n: ensemble.role(n) for n in LOST} == {n: "down" for n in LOST}
    assert ensemble.role(SURVIVOR) == "leader"
    assert {sid: host for sid, (host, _) in ensemble.config([SURVIVOR]).items()} == {1: "node1"}


def test_the_crashed_machines_come_back_and_the_ensemble_grows_back(ensemble):
    ensemble.lab.start_nodes(LOST)  # their disks as they were: the old membership and stale data
    with Writer(ensemble.hosts([SURVIVOR])) as writer:
        if ensemble.init == "systemd":
            held_off(ensemble)
        grown = ensemble.cli("zk", "recover", "--yes")
    assert grown.returncode == 0, grown.stdout[-3000:] + grown.stderr
    assert "grown back: the ensemble is node1, node2, node3" in grown.stdout, grown.stdout[-3000:]
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert whole(ensemble, NODES)
    assert {sid: host for sid, (host, _) in ensemble.config(NODES).items()} == {1: "node1", 2: "node2", 3: "node3"}
    for node in LOST:  # their old data is kept, not deleted
        kept = inside(ensemble.lab, node, "ls -d /var/lib/zookeeper.before-recover-*/data/version-2").split()
        assert len(kept) == 1, kept
    again = ensemble.cli("zk", "recover", "--yes")
    assert again.returncode == 4 and "a quorum is up" in again.stdout + again.stderr, again.stdout + again.stderr
