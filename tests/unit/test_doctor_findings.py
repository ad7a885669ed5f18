"""zk doctor's judgement as data: what three real server nodes answered (doctor_cases/healthy_three_servers.json,
captured from a lab), changed as each case says, in; the findings (where, check, severity) out."""

from __future__ import annotations

import copy
import datetime
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


def inventory(tmp_path: Path, doctor: str = "", tls: str | None = None):
    write_package(tmp_path / "apache-zookeeper-3.8.0-bin.tar.gz")
    text = INVENTORY.format(doctor=doctor) + (f"[tls]\n{tls}\n" if tls is not None else "")
    (tmp_path / "cluster.toml").write_text(text)
    return load_inventory(tmp_path / "cluster.toml")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """days → a real server certificate (PEM) that lives that many days, signed by a CA made with
    clusterctl.tls.ca (as `tls` makes them), and the PEM of that CA."""
    import os
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from clusterctl.tls.ca import authority
    base = tmp_path_factory.mktemp("ca")
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(base)
    try:
        ca = authority(inventory(base, tls="quorum = true"))
    finally:
        os.environ.pop("XDG_STATE_HOME") if before is None else os.environ.__setitem__("XDG_STATE_HOME", before)
    made = {}

    def certificate(days: int) -> str:
        if days not in made:
            key = ec.generate_private_key(ec.SECP256R1())
            csr = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node")])).sign(key, hashes.SHA256()))
            made[days] = ca.sign(csr.public_bytes(serialization.Encoding.PEM).decode(), ("node", "10.233.50.11"), days)
        return made[days]
    return certificate


def with_certificates(changes: dict, certificate) -> dict:
    """``changes`` with "<certificate>" (397 days, [tls]'s default) or "<certificate days=N>" made real."""
    def real(value):
        found = re.fullmatch(r"<certificate(?: days=(\d+))?>", value) if isinstance(value, str) else None
        return certificate(int(found.group(1) or 397)) if found else value
    return {host: {k: real(v) for k, v in node.items()} for host, node in changes.items()}


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
        elif head not in lines:  # a line the captured nodes did not have (tls_cert: they ran no TLS)
            lines[head] = {"name": head, "error": value["error"]} if isinstance(value, dict) and "error" in value \
                else {"name": head, "value": value}
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
def test_findings(case, tmp_path, certificates):
    inv = inventory(tmp_path, case.get("doctor", ""), case.get("tls"))
    changes = with_certificates(case["changes"], certificates)
    facts = {host: changed(host, HEALTHY[host], changes.get(host, {})) for host in ("node1", "node2", "node3")}
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=case.get("days_later", 0))
    report = diagnose(inv, facts, now=now)
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
                       tmp_path / "no.pid", tmp_path / "zoo.cfg", tmp_path / "no-keystore.pem", tmp_path / "zoo.cfg")
    assert done.returncode == 0, done.stderr
    facts = parse_node_output("here", done.stdout.decode(), clock.time())
    assert facts.answers["srvr"].refused and facts.errors == {"server": "no ZooKeeper server runs on this node"}
    assert facts.get("snapshots")[0][:2] == ["snapshot.100", 10] and facts.get("zoo_cfg") == "tickTime=2000\n"
    assert facts.get("slow_fsyncs")["count"] == 1 and "2500ms" in facts.get("slow_fsyncs")["last"]
    assert facts.get("disk")[str(data)]["total"] > 0 and abs(facts.clock_offset) < 5
    assert "tls_cert" in facts.values and facts.get("tls_cert") is None  # no keystore: no certificate


def test_the_node_program_reads_the_keystores_certificates_and_never_its_key(tmp_path, certificates):
    """A PEM keystore as `tls` writes it (the key, then the chain): only the certificate blocks come back."""
    import time as clock
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from tests.fakes import run_locally
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    server, ca = certificates(397), certificates(30)
    keystore = tmp_path / "keystore.pem"
    keystore.write_text(key + server + ca)
    done = run_locally("zk_node.py", "doctor", 1, "1", "", tmp_path, tmp_path, tmp_path / "log", "no-such.service",
                       tmp_path / "no.pid", tmp_path / "zoo.cfg", keystore)
    assert done.returncode == 0, done.stderr
    assert b"PRIVATE KEY" not in done.stdout and key.splitlines()[1].encode() not in done.stdout
    facts = parse_node_output("here", done.stdout.decode(), clock.time())
    assert facts.get("tls_cert") == server + ca


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


def test_a_zoo_cfg_in_a_tls_phase_is_not_a_stale_config(tmp_path, certificates):
    """The TLS lines a roll wrote are the TLS phase's (zk status and the certificate check judge TLS), not a
    difference from the inventory: only a real change beside them is."""
    from clusterctl.render.zoo_cfg import tls_lines
    from clusterctl.tls.phases import TlsState
    inv = inventory(tmp_path, tls="quorum = true")
    nodes = {host: copy.deepcopy(node) for host, node in HEALTHY.items()}
    for node in nodes.values():
        line = next(item for item in node["lines"] if item["name"] == "zoo_cfg")
        line["value"] += "\n".join(tls_lines(inv.zookeeper, TlsState(2, False))) + "\n"
    facts = {host: changed(host, node, {"tls_cert": certificates(397)}) for host, node in nodes.items()}
    assert diagnose(inv, facts).findings == []
    facts["node2"] = changed("node2", nodes["node2"], {"tls_cert": certificates(397), "zoo_cfg.syncLimit": "9"})
    assert [(f.where, f.check) for f in diagnose(inv, facts).findings] == [("node2", "config")]
