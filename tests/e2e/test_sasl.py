"""SASL DIGEST-MD5 on a live ensemble of three voters and an observer: quorum SASL rolled on in three rolls
under a client writing all along (every acknowledged write read back), argv sampled on every node; a server
with a wrong quorum password or without SASL kept out while the others serve; a listed client user against
ACLs, and clients without credentials or with a wrong password refused; the super user's reconfig under
"required"; no password in ps, the run logs, the output or the support bundle."""

from __future__ import annotations

import gzip
import re
import time
from pathlib import Path

import pytest

from tests.ensembles import runbook_for
from tests.lab_helpers import Writer, inside, running_lab
from tests.secured import (SaslEnsemble, acl_admits_its_user_alone, applied_under_watch, promoted_and_demoted,
                            sasl_client, settings)

pytestmark = pytest.mark.e2e
NODES = [f"node{i}" for i in range(1, 5)]
SERVERS = {"node1": 1, "node2": 2, "node3": 3, "node4": (4, True)}
VOTERS = ["node1", "node2", "node3"]
SASL_ON = '[sasl]\nquorum = true\nclient = "optional"\nusers = ["app"]\n'
JAAS = "/etc/zookeeper/jaas.conf"


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
        time.sleep(10)
        assert ensemble.role(follower) in ("looking", "down"), "a wrong quorum password is refused"
        assert {ensemble.role(n) for n in others} <= {"leader", "follower"}
        # SASL off altogether (the right JAAS file, no quorum.auth settings): refused as well.
        ensemble.lab.exec(follower, ["bash", "-c", f"cat > {JAAS}"], input=jaas.encode(), check=True)
        inside(ensemble.lab, follower, "sed -i '/^quorum.auth/d' /etc/zookeeper/zoo.cfg && systemctl restart zookeeper")
        time.sleep(10)
        assert ensemble.role(follower) in ("looking", "down"), "a server without SASL is refused"
        assert {ensemble.role(n) for n in others} <= {"leader", "follower"}
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
