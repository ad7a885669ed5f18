"""zk doctor on a three-server lab: nothing to say of a healthy ensemble; each fault made to really happen on a
node (a filled disk, a stopped follower, a mismatched jute.maxbuffer, a stale zoo.cfg, a slow-fsync warning in
the server log) is named, and nothing else; the ensemble is put back after each, checked healthy again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from clusterctl.lab.runbook import render_runbook_sections
from tests.ensembles import Ensemble
from tests.lab_helpers import Writer, inside, running_lab

pytestmark = pytest.mark.e2e
NODES = ["node1", "node2", "node3"]
SERVERS = {"node1": 1, "node2": 2, "node3": 3}
SMALL = "node3"  # its disk is small enough to fill
FILL = "/var/tmp/doctor-fill"
JUTE_DROPIN = "/etc/systemd/system/zookeeper.service.d/zz-doctor-test.conf"
SERVER_LOG = "/var/log/zookeeper/zookeeper.log"


@pytest.fixture(scope="module")
def ensemble(artifacts):
    extra = render_runbook_sections(NODES, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    # srst too: the latency a server reports is its worst since its counters were reset, and a busy test
    # machine gives a healthy server a slow request now and then; each check starts from reset counters.
    extra = extra.replace("heap_mb = 128", 'heap_mb = 128\nfour_letter_words = ["srvr", "mntr", "ruok", "stat", '
                                           '"conf", "isro", "srst"]')
    with running_lab("tdoc", "10.231.127.0/24", len(NODES), disk_sizes={SMALL: "512m"},
                     inventory_extra=extra) as lab:
        base = lab.inventory_path.read_text().split("[zookeeper.servers]\n")[0] + "[zookeeper.servers]\n"
        ensemble = Ensemble(lab, base)
        ensemble.inventory(SERVERS, sync_limit=2)
        boot = ensemble.cli("bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        yield ensemble


RESET_STATS = ("python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', 2181), 2); "
               "s.sendall(b'srst'); s.recv(100)\" || true")


def doctor(ensemble) -> tuple[int, dict]:
    for node in NODES:
        inside(ensemble.lab, node, RESET_STATS, check=False)
    done = ensemble.cli("zk", "doctor", "--json", timeout=120)
    assert done.returncode in (0, 1, 3), done.stdout[-3000:] + done.stderr
    return done.returncode, json.loads(done.stdout)


def found(report: dict) -> list[tuple[str, str, str]]:
    return [(f["where"], f["check"], f["severity"]) for f in report["findings"]]


def healthy_again(ensemble, timeout: float = 90) -> None:
    """Wait until the doctor finds nothing (a restarted server serves, caught up, and the leader counts it)."""
    deadline = time.monotonic() + timeout
    while True:
        code, report = doctor(ensemble)
        if code == 0 or time.monotonic() > deadline:
            assert (code, found(report)) == (0, []), report
            return
        time.sleep(1)


def a_follower(ensemble) -> str:
    return next(n for n in NODES if ensemble.role(n) == "follower" and n != SMALL)


def test_a_healthy_ensemble_has_no_finding(ensemble):
    code, report = doctor(ensemble)
    assert (code, report["findings"], report["verdict"]) == (0, [], "healthy"), report
    text = ensemble.cli("zk", "doctor")
    assert text.returncode == 0 and text.stdout.startswith("healthy: no finding"), text.stdout + text.stderr


def test_a_filled_disk_is_critical_and_the_only_finding(ensemble):
    free = int(inside(ensemble.lab, SMALL, "df -B1 --output=avail / | tail -n 1"))
    total = int(inside(ensemble.lab, SMALL, "df -B1 --output=size / | tail -n 1"))
    inside(ensemble.lab, SMALL, f"fallocate -l {free - total // 20} {FILL}")  # 5% left
    try:
        code, report = doctor(ensemble)
        assert (code, found(report)) == (3, [(SMALL, "disk", "critical")]), report
        assert "% free on /var/lib/zookeeper" in report["findings"][0]["summary"], report
        text = ensemble.cli("zk", "doctor")
        assert text.returncode == 3 and "critical" in text.stdout and SMALL in text.stdout, text.stdout
    finally:
        inside(ensemble.lab, SMALL, f"rm -f {FILL}")
    healthy_again(ensemble)


def test_a_stopped_follower_is_named_with_the_margin_it_takes(ensemble):
    follower = a_follower(ensemble)
    with Writer(ensemble.hosts(NODES)) as writer:
        inside(ensemble.lab, follower, "systemctl stop zookeeper")
        try:
            code, report = doctor(ensemble)
            expected = [(follower, "server", "critical"), ("ensemble", "quorum", "warning")]
            assert (code, found(report)) == (3, expected), report
            assert report["quorum"]["tolerates"] == 0
        finally:
            inside(ensemble.lab, follower, "systemctl start zookeeper")
        healthy_again(ensemble)
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"


def test_a_mismatched_jute_maxbuffer_is_named_and_nothing_else(ensemble):
    follower = a_follower(ensemble)
    restart = "systemctl daemon-reload && systemctl restart zookeeper"
    with Writer(ensemble.hosts(NODES)) as writer:
        # JVMFLAGS, which zkServer.sh adds to the server's: clusterctl's own files stay as they are.
        inside(ensemble.lab, follower, f"printf '[Service]\\nEnvironment=JVMFLAGS=-Djute.maxbuffer=4194304\\n' "
                                       f"> {JUTE_DROPIN} && {restart}")
        try:
            time.sleep(2)
            code, report = doctor(ensemble)
            deadline = time.monotonic() + 60
            while found(report) != [("ensemble", "jute.maxbuffer", "critical")] and time.monotonic() < deadline:
                time.sleep(1)  # the restarted follower syncs first
                code, report = doctor(ensemble)
            assert (code, found(report)) == (3, [("ensemble", "jute.maxbuffer", "critical")]), report
            assert f"{follower} 4194304" in report["findings"][0]["evidence"], report
        finally:
            inside(ensemble.lab, follower, f"rm -f {JUTE_DROPIN} && {restart}")
        healthy_again(ensemble)
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"


def test_a_stale_config_is_named_with_the_setting(ensemble):
    node = "node1"
    original = inside(ensemble.lab, node, "cat /etc/zookeeper/zoo.cfg")
    inside(ensemble.lab, node, "sed -i 's/^syncLimit=.*/syncLimit=9/' /etc/zookeeper/zoo.cfg")
    try:
        code, report = doctor(ensemble)
        assert (code, found(report)) == (1, [(node, "config", "warning")]), report
        assert "syncLimit 9 → 2" in report["findings"][0]["evidence"], report
    finally:
        ensemble.lab.exec(node, ["bash", "-c", "cat > /etc/zookeeper/zoo.cfg"], input=original.encode(), check=True)
    healthy_again(ensemble)


def test_a_slow_fsync_in_the_server_log_is_named(ensemble):
    node = "node2"
    size = int(inside(ensemble.lab, node, f"stat -c %s {SERVER_LOG}"))
    line = ("$(date '+%Y-%m-%d %H:%M:%S'),123 [myid:2] - WARN  [SyncThread:2:o.a.z.s.p.FileTxnLog@382] - fsync-ing "
            "the write ahead log in SyncThread:2 took 1537ms which will adversely effect operation latency.File size "
            "is 67108880 bytes. See the ZooKeeper troubleshooting guide")
    inside(ensemble.lab, node, f'echo "{line}" >> {SERVER_LOG}')
    try:
        code, report = doctor(ensemble)
        assert (code, found(report)) == (1, [(node, "fsync", "warning")]), report
        assert "took 1537ms" in report["findings"][0]["evidence"], report
    finally:
        inside(ensemble.lab, node, f"truncate -s {size} {SERVER_LOG}")
    healthy_again(ensemble)


PLANTED = {"/etc/zookeeper/zoo.cfg": "ssl.keyStore.password=PLANTED-keystore-7f3a\n",
           "/etc/zookeeper/java.env": 'export CLIENT_JVMFLAGS="-Dzookeeper.ssl.trustStore.password=PLANTED-trust-91c2"\n',
           "/etc/zookeeper/jaas.conf": 'Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                                       '  user_admin="PLANTED-sasl-5d1e";\n  password="PLANTED-sasl-2b8c";\n};\n'}


def test_the_support_bundle_holds_each_server_and_no_secret(ensemble, tmp_path):
    """Real secrets planted where operators keep them (a keystore password in zoo.cfg, a truststore password
    in java.env, SASL passwords in a JAAS file), plus the super user's own password and digest: none of them
    is anywhere in the tarball, byte for byte."""
    import gzip
    import tarfile
    from clusterctl.inventory import load_inventory
    from clusterctl.zk import superuser
    node = "node1"
    originals = {path: inside(ensemble.lab, node, f"cat {path} 2>/dev/null || true") for path in PLANTED}
    for path, text in PLANTED.items():
        ensemble.lab.exec(node, ["bash", "-c", f"cat >> {path}"], input=text.encode(), check=True)
    try:
        bundle = tmp_path / "support.tar.gz"
        done = ensemble.cli("collect", "--out", str(bundle), "--lines", "200")
        assert done.returncode == 0 and f"collected: {bundle}" in done.stdout, done.stdout[-3000:] + done.stderr
    finally:
        for path, text in originals.items():
            ensemble.lab.exec(node, ["bash", "-c", f"cat > {path}" if text else f"rm -f {path}"],
                              input=text.encode(), check=True)
    password = superuser.existing_password(load_inventory(ensemble.path))
    secrets = ["PLANTED-keystore-7f3a", "PLANTED-trust-91c2", "PLANTED-sasl-5d1e", "PLANTED-sasl-2b8c", password,
               superuser.digest(password)]
    assert password and inside(ensemble.lab, node, "cat /etc/zookeeper/super.env").count(superuser.digest(password))
    raw = gzip.decompress(bundle.read_bytes())  # the whole tar stream: names, headers, every member
    assert [s for s in secrets if s.encode() in raw] == []
    with tarfile.open(bundle) as tar:
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read().decode() for m in tar if m.isfile()}
    assert "ssl.keyStore.password=<redacted>" in files[f"{node}/etc/zookeeper/zoo.cfg"]
    assert 'password="<redacted>' in files[f"{node}/etc/zookeeper/jaas.conf"]
    assert "superDigest=<redacted>" in files[f"{node}/etc/zookeeper/super.env"]
    for n in NODES:
        assert "Mode: " in files[f"{n}/srvr.txt"] and "zk_server_state" in files[f"{n}/mntr.txt"]
        # The unit's journal (its last lines: under load the server's own lines may have pushed "Started" out).
        assert "tickTime=" in files[f"{n}/conf.txt"] and files[f"{n}/journal"].strip()
        assert "No entries" not in files[f"{n}/journal"]
        assert files[f"{n}/var/log/zookeeper/zookeeper.log"].count("\n") <= 200
        assert json.loads(files[f"{n}/node.json"])["values"]["server"]["jdk"].startswith("17")
    # The one thing wrong that the doctor sees: the planted setting in node1's zoo.cfg.
    assert found(json.loads(files["doctor.json"])) == [(node, "config", "warning")]
    runs = [name for name in files if name.startswith("controller/runs/")]
    assert runs and all(f" with {ensemble.path}" in files[name].splitlines()[0] for name in runs), runs


def reversed_row(screen: str, host: str) -> bool:
    """Whether ``host``'s row of a captured screen (with its escapes) is in reverse video (SGR 7)."""
    import re
    rows = [line for line in screen.splitlines() if re.sub(r"\x1b\[[0-9;]*m", "", line).startswith(host + " ")]
    return any(re.search(r"\x1b\[(?:[0-9;]*;)?7(?:;[0-9;]*)?m", row) for row in rows)


def test_status_watch_highlights_a_role_change_and_leaves_a_clean_screen_on_ctrl_c(ensemble):
    """zk status --watch in a real terminal (tmux): the table, a stopped follower's change highlighted (reverse
    video) with its line below, then Ctrl-C: the terminal as it was, the last table printed once, exit 0."""
    import os
    import shlex
    import subprocess
    import sys
    socket = f"clusterctl-test-{os.getpid()}"

    def tmux(*words: str) -> str:
        return subprocess.run(["tmux", "-L", socket, *words], capture_output=True, text=True, check=True).stdout

    def screen_until(wanted, escapes: bool = False, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = tmux("capture-pane", "-t", "watch", "-p", *(["-e"] if escapes else []))
            if wanted(shown) or time.monotonic() > deadline:
                assert wanted(shown), shown
                return shown
            time.sleep(0.5)

    command = shlex.join([sys.executable, "-m", "clusterctl", "zk", "status", "--watch", "-i", str(ensemble.path)])
    follower = a_follower(ensemble)
    tmux("new-session", "-d", "-s", "watch", "-x", "160", "-y", "40", "-c", str(Path(__file__).parents[2]),
         f"{command}; echo EXIT=$?; sleep 600")
    try:
        screen_until(lambda s: "(Ctrl-C ends)" in s and all(f"{n} " in s for n in NODES) and "tolerates 1" in s)
        with Writer(ensemble.hosts(NODES)) as writer:
            inside(ensemble.lab, follower, "systemctl stop zookeeper")
            try:
                # The changed row in reverse video (ESC [7m), and the change said below the table.
                screen_until(lambda s: f"{follower}: follower → down" in s and reversed_row(s, follower), escapes=True)
            finally:
                inside(ensemble.lab, follower, "systemctl start zookeeper")
            screen_until(lambda s: "tolerates 1" in s)
        assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
        tmux("send-keys", "-t", "watch", "C-c")
        after = screen_until(lambda s: "EXIT=" in s)
        assert "EXIT=0" in after and "(Ctrl-C ends)" not in after, after
        assert after.count("quorum: voters up") == 1 and after.lstrip().startswith("host"), after
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    healthy_again(ensemble)
