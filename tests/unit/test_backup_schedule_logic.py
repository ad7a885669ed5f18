"""The pure parts of zk backup --schedule (which node, the units, what each node changes), and the node's own
choice of files, which must be zk backup's."""

from __future__ import annotations

import subprocess
from importlib import resources

import pytest

from clusterctl.errors import Refused, UsageError
from clusterctl.zk import backup as zkb
from clusterctl.zk import schedule as zs
from clusterctl.zk.status import EnsembleStatus, ServerStatus

CASES = [
    ("snapshot.100", "snapshot.300", "log.1", "log.200", "log.2f0", "log.400", "log.500"),
    ("snapshot.300", "log.200", "log.300", "log.400"),
    ("snapshot.9", "snapshot.10", "log.8", "log.f", "log.11"),
    ("snapshot.100", "snapshot.300!", "log.50", "log.200", "log.400"),
    ("snapshot.300", "log.400", "log.500"),
    ("snapshot.100000000", "snapshot.200000005", "log.100000001", "log.200000001", "log.300000001"),
]


@pytest.mark.parametrize("names", CASES)
def test_the_node_picks_the_files_zk_backup_picks(tmp_path, names):
    data, logs = tmp_path / "data" / "version-2", tmp_path / "logs" / "version-2"
    data.mkdir(parents=True)
    logs.mkdir(parents=True)
    for name in names:
        complete = not name.endswith("!")
        name = name.rstrip("!")
        where = data if name.startswith("snapshot") else logs
        # ZooKeeper's end mark on a complete snapshot: int 1, then '/'.
        (where / name).write_bytes(b"x" * 20 + (b"\0\0\0\1/" if complete else b"\0\0\0\0\0"))
    script = resources.files("clusterctl.remote").joinpath("zk_backup.sh").read_text()
    out = subprocess.run(["bash", "-s", "--", "needed", str(tmp_path / "data"), str(tmp_path / "logs")],
                         input=script, capture_output=True, text=True, check=True).stdout
    listed = zkb.parse_listing(subprocess.run(
        ["bash", "-s", "--", "list", str(tmp_path / "data"), str(tmp_path / "logs")],
        input=script, capture_output=True, text=True, check=True).stdout)
    assert [line.split()[1] for line in out.splitlines()] == [f.name for f in zkb.needed_files(listed).files]


def server(host, role, observer=False):
    return ServerStatus(host=host, id=int(host[-1]), observer=observer, role=role, zxid=0x100000010)


def test_an_observer_takes_the_backups_else_the_first_follower_never_the_leader_while_another_serves():
    assert zs.choose_node(EnsembleStatus([server("n1", "follower"), server("n2", "leader"),
                                          server("n3", "observer", True)])).host == "n3"
    assert zs.choose_node(EnsembleStatus([server("n1", "leader"), server("n2", "down"),
                                          server("n3", "follower")])).host == "n3"
    assert zs.choose_node(EnsembleStatus([server("n1", "leader"), server("n2", "down")])).host == "n1"
    with pytest.raises(Refused):
        zs.choose_node(EnsembleStatus([server("n1", "down")]))


def args(**changes):
    base = dict(data_dir="/var/lib/zookeeper", log_dir="/var/lib/zookeeper", java_home="/opt/jdk",
                zk_home="/opt/zookeeper", client_port=2181, cluster="prod", server="n2",
                servers={"n1": 1, "n2": 2, "n3": 3}, keep=7)
    return zs.TakeArgs(**{**base, **changes})


def test_the_service_runs_the_installed_script_with_every_argument_quoted_for_systemd():
    unit = zs.render_service(args(data_dir="/data/100%"))
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert start.startswith('ExecStart="/bin/bash" "/usr/local/lib/clusterctl/zk_backup.sh" "take" "/data/100%%" ')
    assert '"/var/backups/zookeeper/prod" "7" "prod" "n2" "n1=1,n2=2,n3=3" ' in start
    assert "Type=oneshot" in unit


def test_the_timer_fires_daily_or_hourly_and_catches_up_after_a_boot():
    timer = zs.render_timer("prod", "hourly")
    assert "OnCalendar=hourly" in timer and "Persistent=true" in timer and "WantedBy=timers.target" in timer


def wanted(host="n2"):
    return zs.Wanted(host, "daily", 7, "service", "timer", "script", "loader")


def node(systemd=True, **have):
    fields = dict(service=None, timer=None, timer_enabled=False, script=None, loader=None)
    return zs.NodeSchedule(systemd=systemd, **{**fields, **have})


def test_a_new_schedule_writes_four_files_and_enables_the_timer_on_its_node_only():
    changes = zs.decide("prod", {"n1": node(), "n2": node()}, wanted())
    assert not changes["n1"].changes
    assert sorted(changes["n2"].files) == ["/etc/systemd/system/clusterctl-backup-prod.service",
                                           "/etc/systemd/system/clusterctl-backup-prod.timer",
                                           "/usr/local/lib/clusterctl/backup_load.java",
                                           "/usr/local/lib/clusterctl/zk_backup.sh"]
    assert changes["n2"].enable


def test_an_installed_schedule_changes_nothing():
    have = node(service="service", timer="timer", timer_enabled=True, script="script", loader="loader")
    assert not zs.decide("prod", {"n2": have}, wanted())["n2"].changes


def test_a_new_script_alone_is_written_without_touching_the_timer():
    have = node(service="service", timer="timer", timer_enabled=True, script="old", loader="loader")
    change = zs.decide("prod", {"n2": have}, wanted())["n2"]
    assert list(change.files) == ["/usr/local/lib/clusterctl/zk_backup.sh"] and not change.enable


def test_moving_the_schedule_removes_it_from_the_node_that_had_it():
    had = node(service="service", timer="timer", timer_enabled=True, script="script", loader="loader")
    changes = zs.decide("prod", {"n1": had, "n2": node()}, wanted("n2"))
    assert changes["n1"].remove and changes["n2"].enable


def test_off_removes_it_wherever_it_is():
    changes = zs.decide("prod", {"n1": node(timer="timer"), "n2": node()}, None)
    assert changes["n1"].remove and not changes["n2"].changes


def test_a_node_without_systemd_is_refused_with_the_way_out():
    with pytest.raises(UsageError, match="no systemd.*--on HOST"):
        zs.decide("prod", {"n2": node(systemd=False)}, wanted())


def test_backups_are_listed_oldest_first_and_ages_read_as_words():
    assert zs.parse_backups("20260101-000000 200\n20251231-000000 100\ngarbage\n") == \
        (("20251231-000000", 100.0), ("20260101-000000", 200.0))
    assert [zs.describe_age(h) for h in (None, 0.25, 5, 72)] == ["none", "15 min ago", "5 h ago", "3 d ago"]


def test_the_record_of_the_scheduled_node_reads_back_and_a_damaged_one_is_none():
    record = zs.Record.now("n2", "daily", 7)
    assert zs.Record.from_json(record.to_json()) == record
    assert zs.Record.from_json("{") is None
