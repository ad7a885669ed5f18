"""A dry run reads and never writes: the scripts it may run, host keys it does not keep, its plan's shape."""

from __future__ import annotations

import paramiko
import pytest

from clusterctl.core.hostkeys import KnownHosts
from clusterctl.core.session import reads_only
from clusterctl.steps.day2 import Day2Plan


@pytest.mark.parametrize("script, args", [("facts.sh", ["anything"]), ("zk_node.py", ["ask", "srvr"]),
                                          ("become.sh", ["probe"]), ("jdk.sh", ["exe", "42"])])
def test_scripts_that_only_read_may_run_in_a_dry_run(script, args):
    assert reads_only(script, args)


@pytest.mark.parametrize("script, args", [("write_file.sh", ["/etc/hosts"]), ("zk_server.sh", ["stop"]),
                                          ("zk_install.sh", ["relink"]), ("jdk.sh", ["link"]), ("jdk.sh", []),
                                          ("net.sh", ["apply"]), ("receive.sh", [])])
def test_every_other_script_is_refused_in_a_dry_run(script, args):
    assert not reads_only(script, args)


def test_a_dry_run_pins_a_new_host_key_for_itself_and_writes_no_known_hosts(tmp_path):
    path = tmp_path / "known_hosts"
    key = paramiko.Ed25519Key.generate() if hasattr(paramiko.Ed25519Key, "generate") else paramiko.RSAKey.generate(1024)
    dry = KnownHosts(path, remember=False)
    dry.pin("10.0.0.9", key)
    assert dry.lookup("10.0.0.9") and not path.exists()
    KnownHosts(path).pin("10.0.0.9", key)
    assert path.read_text().startswith("10.0.0.9 ")


def test_a_day2_plan_keeps_the_order_hosts_are_reached_and_tells_changes_from_notes():
    plan = Day2Plan()
    plan.note("zk-upgrade", "node2", "runs apache-zookeeper-3.8.0-b2-bin already")
    plan.change("zk-upgrade", "node4", "1 of 2: switch")
    plan.change("zk-upgrade", "node3", "2 of 2: switch; the leader goes last")
    assert plan.hosts("zk-upgrade") == ["node4", "node3"]
    assert [c.summary for c in plan.steps["zk-upgrade"]["node2"].shown()] == ["runs apache-zookeeper-3.8.0-b2-bin already"]
    assert not any(c.change for c in plan.steps["zk-upgrade"]["node2"].shown())
