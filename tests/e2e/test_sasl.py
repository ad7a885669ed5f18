"""SASL DIGEST-MD5 on a live ensemble of three voters and an observer: quorum SASL rolled on in three rolls
under a client writing all along (every acknowledged write read back), argv sampled on every node; a server
with a wrong quorum password or without SASL kept out while the others serve; a listed client user against
ACLs, and clients without credentials or with a wrong password refused; the super user's reconfig under
"required"; no password in ps, the run logs, the output or the support bundle; the quorum's password rotated
by three rolls under a writer (stopped after two and resumed), and a client user's by one."""

from __future__ import annotations

import gzip
import re
import time
from pathlib import Path

import pytest

from tests.ensembles import runbook_for
from tests.lab_helpers import ArgvSampler, Writer, inside, running_lab
from tests.secured import (SaslEnsemble, acl_admits_its_user_alone, applied_under_watch, promoted_and_demoted,
                            sasl_client, settings)

pytestmark = pytest.mark.e2e
NODES = [f"node{i}" for i in range(1, 5)]
SERVERS = {"node1": 1, "node2": 2, "node3": 3, "node4": (4, True)}
VOTERS = ["node1", "node2", "node3"]
SASL_ON = '[sasl]\nquorum = true\nclient = "optional"\nusers = ["app"]\n'
JAAS = "/etc/zookeeper/jaas.conf"


def kept_out(ensemble, node: str, others: list[str]) -> None:
    """``node``, just restarted with a quorum identity its peers refuse, cannot join; the others serve."""
    time.sleep(10)
    assert ensemble.role(node) in ("looking", "down"), f"{node} was let in"
    assert {ensemble.role(n) for n in others} <= {"leader", "follower"}


@pytest.fixture(scope="module")
def ensemble(artifacts, tmp_path_factory):
    with running_lab("tsasl", "10.231.170.0/24", len(NODES), inventory_extra=runbook_for(artifacts, NODES)) as lab:
        base = lab.inventory_path.read_text().split("[zookeeper.servers]\n")[0] + "[zookeeper.servers]\n"
        ensemble = SaslEnsemble(lab, base, tmp_path_factory.mktemp("controller-state"), SERVERS)
        ensemble.inventory(SERVERS)
        boot = ensemble.cli("bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        yield ensemble


def test_quorum_sasl_rolled_on_under_live_traffic_loses_no_write_and_shows_no_password(ensemble):
    ensemble.with_sasl(SASL_ON)
    plan = ensemble.cli("plan")
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr
    assert plan.stdout.count("roll 3 of 3") == len(SERVERS), plan.stdout[-4000:]
    assert ensemble.passwords() == [], "plan made no password"
    done, writer, argv, took = applied_under_watch(ensemble)
    assert not re.search(r"zk-roll\s+changed", done.stdout), "the first SASL roll restarts them, not apply's roll as well"
    print(f"quorum SASL enabled in {took:.0f}s: {len(writer.acked)} writes acknowledged, 0 lost, longest stall "
          f"{writer.longest_stall():.2f}s")
    passwords = ensemble.passwords()
    assert len(passwords) == 3, "the quorum's, clusterctl's and app's"
    for path in ensemble.secrets.glob("*.sasl-*"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    for node in SERVERS:
        cfg = settings(ensemble, node)
        assert {k: cfg.get(k) for k in ("quorum.auth.enableSasl", "quorum.auth.learnerRequireSasl",
                                         "quorum.auth.serverRequireSasl")} == dict.fromkeys(
            ("quorum.auth.enableSasl", "quorum.auth.learnerRequireSasl", "quorum.auth.serverRequireSasl"), "true")
        assert inside(ensemble.lab, node, f"stat -c '%a %U %G' {JAAS}").strip() == "600 zookeeper zookeeper"
        assert inside(ensemble.lab, node, f"su -s /bin/sh nobody -c 'cat {JAAS}' 2>&1 || true").count("user_") == 0
    seen = "\n".join(argv.seen)
    assert argv.seen and [p for p in passwords if p in seen] == [], "a SASL password in a node's ps"
    assert "java.security.auth.login.config=" + JAAS in seen, "the JVM reads the JAAS file"
    told = done.stdout + done.stderr + ensemble.run_logs()
    assert [p for p in passwords if p in told] == [], "a SASL password in the output or a run log"
    status = " ".join(ensemble.cli("zk", "status").stdout.split())
    assert status.count("SASL: quorum authenticated (SASL DIGEST-MD5); clients: SASL accepted") == len(SERVERS), status
    ensemble.plan_is_empty()


def test_a_server_with_a_wrong_quorum_password_or_no_sasl_cannot_join_while_the_others_serve(ensemble):
    ensemble.with_sasl(SASL_ON)
    follower = ensemble.follower()
    others = [n for n in VOTERS if n != follower]
    jaas, cfg = (inside(ensemble.lab, follower, f"cat {path}") for path in (JAAS, "/etc/zookeeper/zoo.cfg"))
    with Writer(ensemble.hosts(others)) as writer:
        inside(ensemble.lab, follower, f"sed -i 's/password=\"[^\"]*\"/password=\"wrong\"/; "
                                       f"s/user_quorum=\"[^\"]*\"/user_quorum=\"wrong\"/' {JAAS} && "
                                       f"systemctl restart zookeeper")
        kept_out(ensemble, follower, others)  # a wrong quorum password is refused
        # SASL off altogether (the right JAAS file, no quorum.auth settings): refused as well.
        ensemble.lab.exec(follower, ["bash", "-c", f"cat > {JAAS}"], input=jaas.encode(), check=True)
        inside(ensemble.lab, follower, "sed -i '/^quorum.auth/d' /etc/zookeeper/zoo.cfg && systemctl restart zookeeper")
        kept_out(ensemble, follower, others)  # a server without SASL is refused
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    # Put back as it was; then a wrong password again, which apply finds (by the file's hash) and mends.
    ensemble.lab.exec(follower, ["bash", "-c", "cat > /etc/zookeeper/zoo.cfg"], input=cfg.encode(), check=True)
    inside(ensemble.lab, follower, f"sed -i 's/password=\"[^\"]*\"/password=\"wrong\"/' {JAAS} && "
                                   f"systemctl restart zookeeper")
    plan = ensemble.cli("plan")
    assert f"write {JAAS} (SASL passwords" in " ".join(plan.stdout.split()), plan.stdout[-3000:]
    assert [p for p in ensemble.passwords() if p in plan.stdout] == []
    with Writer(ensemble.hosts(others)) as writer:
        fixed = ensemble.cli("apply")
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr
    assert writer.lost() == []
    assert ensemble.role(follower) == "follower"


def test_a_listed_user_reads_and_writes_its_acl_and_others_are_refused(ensemble):
    ensemble.with_sasl(SASL_ON)
    where = ensemble.cli("zk", "credentials", "app")
    assert where.returncode == 0 and where.stdout.strip().endswith(".sasl-user-app"), where.stdout + where.stderr
    assert Path(where.stdout.strip()).stat().st_mode & 0o777 == 0o600
    shown = ensemble.cli("zk", "credentials", "app", "--show")
    password = shown.stdout.strip()
    assert shown.returncode == 0 and password == Path(where.stdout.strip()).read_text().strip()
    unknown = ensemble.cli("zk", "credentials", "nobody")
    assert unknown.returncode == 2 and "not a SASL client user" in unknown.stderr, unknown.stderr

    acl_admits_its_user_alone(lambda user, secret: sasl_client(ensemble, VOTERS, user, secret), password)


def test_required_refuses_sessions_without_sasl_and_the_super_user_still_reconfigures(ensemble, tmp_path):
    from kazoo.exceptions import KazooException
    ensemble.with_sasl(SASL_ON.replace('"optional"', '"required"'))
    with Writer(ensemble.hosts(SERVERS), client_options={"sasl_options": {
            "mechanism": "DIGEST-MD5", "username": "app",
            "password": ensemble.cli("zk", "credentials", "app", "--show").stdout.strip()}}) as writer:
        done = ensemble.cli("apply")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    for node in SERVERS:
        assert settings(ensemble, node).get("enforce.auth.schemes") == "sasl"
    anonymous = sasl_client(ensemble, VOTERS)
    with pytest.raises((KazooException, Exception)):
        anonymous.start(timeout=15)
        anonymous.get("/")
    anonymous.stop()
    anonymous.close()
    smoke = ensemble.cli("zk", "smoke")  # clusterctl's own client logs in as its SASL user
    assert smoke.returncode == 0, smoke.stdout[-2000:] + smoke.stderr
    # The super user's reconfigs: the observer promoted to a voter and demoted back.
    promoted, demoted = promoted_and_demoted(ensemble, SASL_ON.replace('"optional"', '"required"'), "node4")

    bundle = tmp_path / "support.tar.gz"
    collected = ensemble.cli("collect", "--out", str(bundle), "--lines", "50")
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr
    raw = gzip.decompress(bundle.read_bytes())
    passwords = ensemble.passwords()
    assert b"jaas.conf" in raw and [p for p in passwords if p.encode() in raw] == []
    told = "".join(r.stdout + r.stderr for r in (done, smoke, promoted, demoted, collected)) + ensemble.run_logs()
    assert [p for p in passwords if p in told] == []


REQUIRED = SASL_ON.replace('"optional"', '"required"')


def own_login(ensemble) -> dict:
    """kazoo's options for a client logging in as clusterctl's own SASL user (never rotated here)."""
    password = ensemble.cli("zk", "credentials", "clusterctl", "--show").stdout.strip()
    return {"sasl_options": {"mechanism": "DIGEST-MD5", "username": "clusterctl", "password": password}}


def test_the_quorum_password_rotated_under_a_writer_stopped_after_two_rolls_and_resumed_loses_no_write(ensemble):
    ensemble.with_sasl(REQUIRED)
    kept = next(ensemble.secrets.glob("*.sasl-quorum"))
    old = kept.read_text().strip().rpartition(":")[2]
    old_jaas = {n: inside(ensemble.lab, n, f"cat {JAAS}") for n in SERVERS}
    dry = ensemble.cli("sasl", "rotate", "quorum", "--dry-run")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
    assert " ".join(dry.stdout.split()).count("roll 3 of 3") == len(SERVERS), dry.stdout[-4000:]
    assert list(ensemble.secrets.glob("*.next")) == [], "a dry run makes no password"
    before = {n: ensemble.pid(n) for n in SERVERS}
    started = time.monotonic()
    answers = "y\n" * (2 * len(SERVERS)) + "n\n" * len(SERVERS)
    with ArgvSampler(ensemble.lab, list(SERVERS)) as argv, \
            Writer(ensemble.hosts(SERVERS), client_options=own_login(ensemble)) as writer:
        halted = ensemble.cli("sasl", "rotate", "quorum", "--confirm", answers=answers)
        assert halted.returncode == 0, halted.stdout[-3000:] + halted.stderr
        new = next(ensemble.secrets.glob("*.sasl-quorum.next")).read_text().strip().rpartition(":")[2]
        for node in SERVERS:  # stopped in stage 2: both identities accepted, the new one logged in with
            jaas = inside(ensemble.lab, node, f"cat {JAAS}")
            assert jaas.count(old) == 1 and jaas.count(new) == 2, node
        refused = ensemble.cli("plan")
        said = " ".join((refused.stdout + refused.stderr).split())
        assert "sasl rotate quorum to finish it first" in said, said[-2000:]
        status = ensemble.cli("zk", "status")
        assert status.returncode == 0 and "leader" in status.stdout, status.stdout[-2000:] + status.stderr
        rest = ensemble.cli("sasl", "rotate", "quorum", "--dry-run")
        assert " ".join(rest.stdout.split()).count("roll 1 of 1") == len(SERVERS), rest.stdout[-3000:] + rest.stderr
        resumed = ensemble.cli("sasl", "rotate", "quorum")
    took = time.monotonic() - started
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    print(f"quorum password rotated (stopped after roll 2, resumed) in {took:.0f}s: {len(writer.acked)} writes "
          f"acknowledged, 0 lost, longest stall {writer.longest_stall():.2f}s")
    assert kept.read_text().strip().rpartition(":")[2] == new and kept.stat().st_mode & 0o777 == 0o600
    assert list(ensemble.secrets.glob("*.next")) == []
    for node in SERVERS:
        assert old not in inside(ensemble.lab, node, f"cat {JAAS}"), node
        assert ensemble.pid(node) != before[node]
    seen = "\n".join(argv.seen)
    told = "".join(r.stdout + r.stderr for r in (dry, halted, refused, status, rest, resumed)) + ensemble.run_logs()
    assert argv.seen and [p for p in (old, new) if p in seen or p in told] == []
    ensemble.plan_is_empty()
    # A server given the old password alone is not let in; given back its file, it follows again.
    follower = ensemble.follower()
    others = [n for n in VOTERS if n != follower]
    jaas = inside(ensemble.lab, follower, f"cat {JAAS}")
    ensemble.lab.exec(follower, ["bash", "-c", f"cat > {JAAS} && systemctl restart zookeeper"],
                      input=old_jaas[follower].encode(), check=True)
    kept_out(ensemble, follower, others)
    ensemble.lab.exec(follower, ["bash", "-c", f"cat > {JAAS} && systemctl restart zookeeper"], input=jaas.encode(),
                      check=True)
    deadline = time.monotonic() + 60
    while ensemble.role(follower) != "follower" and time.monotonic() < deadline:
        time.sleep(1)
    assert ensemble.role(follower) == "follower"


# The client given the old password is refused in kazoo's own thread, which pytest reports as a warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_client_users_password_rotated_in_one_roll_logs_in_and_the_old_is_refused(ensemble):
    ensemble.with_sasl(REQUIRED)
    old = ensemble.cli("zk", "credentials", "app", "--show").stdout.strip()
    unknown = ensemble.cli("sasl", "rotate", "nobody")
    assert unknown.returncode == 2 and "not a SASL client user" in unknown.stderr and "Traceback" not in unknown.stderr
    started = time.monotonic()
    with Writer(ensemble.hosts(SERVERS), client_options=own_login(ensemble)) as writer:
        done = ensemble.cli("sasl", "rotate", "app")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    print(f"app's password rotated in {time.monotonic() - started:.0f}s: {len(writer.acked)} writes acknowledged, "
          f"0 lost, longest stall {writer.longest_stall():.2f}s")
    new = ensemble.cli("zk", "credentials", "app", "--show").stdout.strip()
    assert new != old and [p for p in (old, new) if p in done.stdout + done.stderr + ensemble.run_logs()] == []
    app = sasl_client(ensemble, VOTERS, "app", new)
    app.start(timeout=30)
    try:
        assert app.get("/app-only")[0] == b"written by app"
    finally:
        app.stop()
        app.close()
    stale = sasl_client(ensemble, VOTERS, "app", old)
    with pytest.raises(Exception):
        stale.start(timeout=15)
        stale.get("/app-only")  # (reached only if the session started at all)
    stale.stop()
    stale.close()
    ensemble.plan_is_empty()
