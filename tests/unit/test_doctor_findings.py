"""zk doctor's judgement as data: what three real server nodes answered (doctor_cases/healthy_three_servers.json,
captured from a lab), changed as each case says, in; the findings (where, check, severity) out."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from clusterctl.errors import InventoryError
from clusterctl.inventory import load_inventory
from clusterctl.zk.doctor import NodeFacts, diagnose, parse_node_output
from test_package_files import write_package

CASES = Path(__file__).parent / "doctor_cases"
HEALTHY = json.loads((CASES / "healthy_three_servers.json").read_text())
INVENTORY = """
[cluster]
name = "ddev"
[hosts.node1]
address = "10.233.50.11"
[hosts.node2]
address = "10.233.50.12"
[hosts.node3]
address = "10.233.50.13"
[zookeeper]
package = "apache-zookeeper-3.8.0-bin.tar.gz"
heap_mb = 128
[zookeeper.servers]
node1 = 1
node2 = 2
node3 = 3
[doctor]
{doctor}
"""


def inventory(tmp_path: Path, doctor: str = ""):
    write_package(tmp_path / "apache-zookeeper-3.8.0-bin.tar.gz")
    (tmp_path / "cluster.toml").write_text(INVENTORY.format(doctor=doctor))
    return load_inventory(tmp_path / "cluster.toml")


def set_key_value(text: str, key: str, value: str, sep: str) -> str:
    """``text`` with KEY<sep>value (mntr's tab, conf's and zoo.cfg's =) set to ``value``."""
    line = re.compile(rf"^{re.escape(key)}{sep}.*$", re.M)
    return line.sub(f"{key}{sep}{value}", text) if line.search(text) else text + f"{key}{sep}{value}\n"


def changed(host: str, node: dict, changes: dict) -> NodeFacts:
    """The node's answer with ``changes`` made: "NAME" replaces a line's value ({"error": ...} makes it an
    error), "NAME.FIELD" one field of it, "fourlw.WORD" a word's answer, "mntr.KEY", "conf.KEY" and
    "zoo_cfg.KEY" one line of those answers, "fourlw.srvr.version" the version srvr states; "clock" moves the
    node's clock by that many seconds, "unreachable" makes the node one SSH could not reach."""
    lines = {item["name"]: copy.deepcopy(item) for item in node["lines"]}
    words = lines["fourlw"]["value"]
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if key == "unreachable":
            continue
        if key == "clock":
            lines["clock"]["value"] += value
        elif key == "fourlw.srvr.version":
            words["srvr"] = re.sub(r"Zookeeper version: [^-,]+", f"Zookeeper version: {value}", words["srvr"])
        elif head == "fourlw":
            words[rest] = value
        elif head in ("mntr", "conf"):
            words[head] = set_key_value(words[head], rest, value, "\t" if head == "mntr" else "=")
        elif head == "zoo_cfg":
            lines["zoo_cfg"]["value"] = set_key_value(lines["zoo_cfg"]["value"], rest, value, "=")
        elif head == "disk":
            path, _, field = rest.rpartition(".")
            lines["disk"]["value"][path][field] = value
        elif rest:
            lines[head]["value"][rest] = value
        elif isinstance(value, dict) and "error" in value:
            lines[head] = {"name": head, "error": value["error"]}
        else:
            lines[head]["value"] = value
    output = "\n".join(json.dumps(item) for item in lines.values())
    facts = parse_node_output(host, output, node["received_at"])
    if "unreachable" in changes:  # what the controller has of a node SSH could not reach: its words alone
        facts = NodeFacts(host, facts.answers, unreachable=changes["unreachable"])
    return facts


@pytest.mark.parametrize("case", json.loads((CASES / "cases.json").read_text()), ids=lambda c: c["case"])
def test_findings(case, tmp_path):
    inv = inventory(tmp_path, case.get("doctor", ""))
    facts = {host: changed(host, HEALTHY[host], case["changes"].get(host, {})) for host in ("node1", "node2", "node3")}
    report = diagnose(inv, facts)
    assert [[f.where, f.check, f.severity] for f in report.findings] == case["findings"], report.to_json()
    assert report.verdict == ("healthy" if not case["findings"] else
                              "critical" if any(s == "critical" for *_, s in case["findings"]) else "warnings")
    for f in report.findings:  # every finding says what it saw and what to do
        assert f.summary and f.evidence and f.fix


def test_a_backup_older_than_the_threshold_is_a_finding_and_none_at_all_is_not(tmp_path):
    inv = inventory(tmp_path, "backup_age_warning_hours = 24")
    facts = {host: changed(host, HEALTHY[host], {}) for host in HEALTHY}
    assert [f.check for f in diagnose(inv, facts, backup_age_hours=30).findings] == ["backup"]
    assert diagnose(inv, facts, backup_age_hours=2).findings == []
    assert diagnose(inv, facts, backup_age_hours=None).findings == []


def test_the_newest_backup_is_read_from_the_backups_directory(tmp_path, monkeypatch):
    from clusterctl.steps.doctor import newest_backup_age
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert newest_backup_age("ddev") is None
    backup = tmp_path / "clusterctl" / "backups" / "ddev" / "20261201-000000"
    backup.mkdir(parents=True)
    assert newest_backup_age("ddev") is None  # no manifest: not a complete backup
    (backup / "manifest.json").write_text("{}")
    assert 0 <= newest_backup_age("ddev", now=(backup / "manifest.json").stat().st_mtime + 7200) - 2 < 0.01


@pytest.mark.parametrize("doctor, message", [
    ("outstandng_warning = 3", "doctor.outstandng_warning: unknown key (fix: did you mean 'outstanding_warning'?)"),
    ("disk_free_critical_pct = 30", "doctor.disk_free_critical_pct: is 30, above disk_free_warning_pct (20)"),
    ("outstanding_critical = 10", "doctor.outstanding_critical: is 10, below outstanding_warning (20)"),
    ("fds_warning_pct = 101", "doctor.fds_warning_pct: must be a whole number from 0 to 100"),
    ('latency_avg_warning_ms = "fast"', "doctor.latency_avg_warning_ms: must be a whole number"),
])
def test_a_bad_doctor_section_is_one_line_naming_the_key(doctor, message, tmp_path):
    with pytest.raises(InventoryError) as raised:
        inventory(tmp_path, doctor)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_thresholds_come_from_the_inventory(tmp_path):
    assert inventory(tmp_path, "outstanding_warning = 30\noutstanding_critical = 90").doctor.outstanding_critical == 90


def test_the_node_program_reads_a_node_without_a_server_and_answers_every_line(tmp_path):
    """zk_node.py doctor run here: no server, yet a line for each fact (the server's as an error), the disks and
    the last hour's slow fsyncs read, and the words refused."""
    import socket
    import time as clock
    from tests.fakes import run_locally
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before it is asked: refused
    data = tmp_path / "data"
    (data / "version-2").mkdir(parents=True)
    (data / "version-2" / "snapshot.100").write_bytes(b"x" * 10)
    log = tmp_path / "zookeeper.log"
    now = clock.strftime("%Y-%m-%d %H:%M:%S")
    log.write_text(f"2020-01-01 00:00:00,001 - WARN - fsync-ing the write ahead log in SyncThread:1 took 1500ms\n"
                   f"{now},002 - WARN - fsync-ing the write ahead log in SyncThread:1 took 2500ms\n")
    (tmp_path / "zoo.cfg").write_text("tickTime=2000\n")
    done = run_locally("zk_node.py", "doctor", port, "1", "srvr,mntr", data, data, log, "no-such.service",
                       tmp_path / "no.pid", tmp_path / "zoo.cfg", tmp_path / "zoo.cfg")
    assert done.returncode == 0, done.stderr
    facts = parse_node_output("here", done.stdout.decode(), clock.time())
    assert facts.answers["srvr"].refused and facts.errors == {"server": "no ZooKeeper server runs on this node"}
    assert facts.get("snapshots")[0][:2] == ["snapshot.100", 10] and facts.get("zoo_cfg") == "tickTime=2000\n"
    assert facts.get("slow_fsyncs")["count"] == 1 and "2500ms" in facts.get("slow_fsyncs")["last"]
    assert facts.get("disk")[str(data)]["total"] > 0 and abs(facts.clock_offset) < 5


@pytest.mark.parametrize("text, kept", [
    ("ssl.keyStore.password=s3cret\nssl.keyStore.location=/etc/zk/ks.jks\n",
     "ssl.keyStore.password=<redacted>\nssl.keyStore.location=/etc/zk/ks.jks\n"),
    ('SERVER_JVMFLAGS="-Xmx1g -Dzookeeper.ssl.quorum.trustStore.password=s3cret -Dfoo=bar"',
     'SERVER_JVMFLAGS="-Xmx1g -Dzookeeper.ssl.quorum.trustStore.password=<redacted> -Dfoo=bar"'),
    ('  password="s3cret";\n  user_admin="s3cret";', '  password="<redacted>";\n  user_admin="<redacted>";'),
    ("JDK_JAVA_OPTIONS=-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc/def=\n",
     "JDK_JAVA_OPTIONS=-Dzookeeper.DigestAuthenticationProvider.superDigest=<redacted>\n"),
    ("the password is hunter2 and so on", "the password is <redacted> and so on"),
    (r'{"text": "  user_admin=\"s3cret\";\n  password=\"s3cret\";"}',
     r'{"text": "  user_admin=\"<redacted>\";\n  password=\"<redacted>\";"}'),
    ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "<redacted>\n"),
])
def test_redaction_by_shape(text, kept):
    from clusterctl.zk.bundle import redact
    assert redact(text, ("hunter2",)) == kept
