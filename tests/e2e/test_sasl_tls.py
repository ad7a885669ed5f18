"""Digest over TLS on nodes without systemd (`lab up --init none`, zkServer.sh starting each server, the JAAS
flag in java.env): three voters and an observer get TLS between servers and for clients, and SASL DIGEST-MD5
between servers and for a client user, in one apply under a client writing all along (every acknowledged
write read back), argv sampled on every node. Then the listed user over the TLS port against ACLs, clients
without credentials or with a wrong password refused, a server with a wrong quorum password kept out while
the others serve; and with both TLS and SASL "required", zkCli on a node (`zk cli`, logged in as clusterctl's
user), the smoke test and the super user's reconfigs. No password in ps, the run logs or the output.

One lab, one enabling apply, one apply to "required": CI time is short."""

from __future__ import annotations

import re
import time

import pytest

from tests.ensembles import runbook_for
from tests.lab_helpers import ArgvSampler, Writer, inside, running_lab
from tests.secured import (SaslEnsemble, acl_admits_its_user_alone, applied_under_watch, promoted_and_demoted,
                            sasl_client, settings)

pytestmark = pytest.mark.e2e
NODES = [f"node{i}" for i in range(1, 5)]
SERVERS = {"node1": 1, "node2": 2, "node3": 3, "node4": (4, True)}
VOTERS = ["node1", "node2", "node3"]
ON = ('[tls]\nquorum = true\nclient = "optional"\n\n'
      '[sasl]\nquorum = true\nclient = "optional"\nusers = ["app"]\n')
REQUIRED = ON.replace('"optional"', '"required"')
JAAS = "/etc/zookeeper/jaas.conf"
SECURE_PORT = 2281
# zkServer.sh's restart as the service account, as clusterctl starts a server where there is no systemd
# (java.env, which ZOOCFGDIR leads zkEnv.sh to, gives it the rest).
RESTART = ("cd / && runuser -u zookeeper -- env ZOOCFGDIR=/etc/zookeeper "
           "ZOOPIDFILE=/var/lib/zookeeper/zookeeper_server.pid /opt/zookeeper/bin/zkServer.sh restart")


class DigestOverTls(SaslEnsemble):
    """The SASL ensemble with TLS clients: the controller's CA and client certificate, the TLS ports."""

    def tls_options(self, user: str | None = None) -> dict:
        tls = self.secrets / f"{self.lab.name}.tls"
        options = {"use_ssl": True, "verify_certs": True, "ca": str(tls / "trust.pem"),
                   "certfile": str(tls / "client.crt"), "keyfile": str(tls / "client.key")}
        if user:
            options["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": user, "password": self.password(user)}
        return options

    def tls_hosts(self, nodes) -> str:
        return ",".join(f"{self.lab.address(n)}:{SECURE_PORT}" for n in nodes)

    def password(self, user: str) -> str:
        return self.cli("zk", "credentials", user, "--show").stdout.strip()

    def client_of(self, nodes):
        """A maker of kazoo clients of ``nodes`` over the TLS port (the controller's certificate), each logging in
        as the user it is given (none for None)."""
        return lambda user, password: sasl_client(self, nodes, user, password, hosts=self.tls_hosts(nodes),
                                                  **self.tls_options())


@pytest.fixture(scope="module")
def ensemble(artifacts, tmp_path_factory):
    with running_lab("tsasltls", "10.231.175.0/24", len(NODES), init="none",
                     inventory_extra=runbook_for(artifacts, NODES)) as lab:
        base = lab.inventory_path.read_text().split("[zookeeper.servers]\n")[0] + "[zookeeper.servers]\n"
        ensemble = DigestOverTls(lab, base, tmp_path_factory.mktemp("controller-state"), SERVERS)
        ensemble.inventory(SERVERS)
        assert inside(lab, "node1", "test -d /run/systemd/system || echo none").strip() == "none"
        boot = ensemble.cli("bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        yield ensemble


def no_password_in(ensemble, *texts: str) -> list[str]:
    """The SASL passwords this controller keeps that appear in ``texts`` or its run logs (none, we hope)."""
    told = "\n".join(texts) + ensemble.run_logs()
    return [p for p in ensemble.passwords() if p in told]


def test_tls_and_sasl_turned_on_together_under_live_traffic_lose_no_write_and_show_no_password(ensemble):
    ensemble.with_sasl(ON)
    done, writer, argv, took = applied_under_watch(ensemble)
    print(f"TLS and SASL enabled on nodes without systemd in {took:.0f}s: {len(writer.acked)} writes acknowledged, "
          f"0 lost, longest stall {writer.longest_stall():.2f}s")
    passwords = ensemble.passwords()
    assert len(passwords) == 3, "the quorum's, clusterctl's and app's"
    for node in SERVERS:
        cfg = settings(ensemble, node)
        assert cfg.get("sslQuorum") == "true" and cfg.get("secureClientPort") == str(SECURE_PORT), cfg
        assert cfg.get("quorum.auth.serverRequireSasl") == cfg.get("quorum.auth.learnerRequireSasl") == "true", cfg
        assert inside(ensemble.lab, node, f"stat -c '%a %U %G' {JAAS}").strip() == "600 zookeeper zookeeper"
        # No systemd: zkServer.sh starts the server, and java.env points its JVM at the JAAS file.
        args = inside(ensemble.lab, node, f"tr '\\0' '\\n' < /proc/{ensemble.pid(node)}/cmdline").splitlines()
        assert f"-Djava.security.auth.login.config={JAAS}" in args, args
        assert inside(ensemble.lab, node, f"stat -c %U /proc/{ensemble.pid(node)}").strip() == "zookeeper"
    seen = "\n".join(argv.seen)
    assert argv.seen and [p for p in passwords if p in seen] == [], "a SASL password in a node's ps"
    assert no_password_in(ensemble, done.stdout, done.stderr) == [], "a SASL password in the output or a run log"
    status = " ".join(ensemble.cli("zk", "status").stdout.split())
    assert status.count("SASL: quorum authenticated (SASL DIGEST-MD5); clients: SASL accepted") == len(SERVERS), status


def test_over_tls_a_listed_user_uses_its_acl_and_others_are_refused(ensemble):
    ensemble.with_sasl(ON)
    acl_admits_its_user_alone(ensemble.client_of(VOTERS), ensemble.password("app"))


def test_a_server_with_a_wrong_quorum_password_cannot_join_and_apply_mends_it(ensemble):
    ensemble.with_sasl(ON)
    follower = ensemble.follower()
    others = [n for n in VOTERS if n != follower]
    with Writer(ensemble.hosts(others)) as writer:
        inside(ensemble.lab, follower, f"sed -i 's/password=\"[^\"]*\"/password=\"wrong\"/; "
                                       f"s/user_quorum=\"[^\"]*\"/user_quorum=\"wrong\"/' {JAAS} && {RESTART}")
        time.sleep(10)
        assert ensemble.role(follower) in ("looking", "down"), "a wrong quorum password is refused"
        assert {ensemble.role(n) for n in others} <= {"leader", "follower"}
        fixed = ensemble.cli("apply")  # finds the file changed (by its hash), writes it and restarts the server
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    assert ensemble.role(follower) == "follower"


def test_required_zkcli_logs_in_and_the_super_user_still_reconfigures(ensemble):
    from kazoo.exceptions import KazooException
    ensemble.with_sasl(REQUIRED)
    with ArgvSampler(ensemble.lab, list(SERVERS)) as argv, \
            Writer(ensemble.tls_hosts(SERVERS), client_options=ensemble.tls_options("app")) as writer:
        done = ensemble.cli("apply")
        cli = ensemble.cli("zk", "cli", "node2", "ls", "/")  # no "--": the -i that cli() adds last stays clusterctl's
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    print(f"to required: {len(writer.acked)} writes acknowledged over TLS and SASL, 0 lost, longest stall "
          f"{writer.longest_stall():.2f}s")
    for node in SERVERS:
        assert settings(ensemble, node).get("enforce.auth.schemes") == "sasl"
        assert "127.0.0.1]:2181" in inside(ensemble.lab, node, "ss -Htln 'sport = :2181'")
    # zkCli on the node: the loopback's plaintext port, logged in as clusterctl's user.
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr
    assert re.search(r"\[.*app-only.*\]", cli.stdout) and "clusterctl-test-writes" in cli.stdout, cli.stdout
    assert any("zookeeper.sasl.clientconfig=Client" in line for line in argv.seen), "zkCli ran while sampled"
    anonymous = ensemble.client_of(VOTERS)(None, None)
    with pytest.raises((KazooException, Exception)):
        anonymous.start(timeout=15)
        anonymous.get("/")
    anonymous.stop()
    anonymous.close()
    smoke = ensemble.cli("zk", "smoke")
    assert smoke.returncode == 0, smoke.stdout[-2000:] + smoke.stderr
    # The super user's reconfigs: the observer promoted to a voter and demoted back.
    promoted, demoted = promoted_and_demoted(ensemble, REQUIRED, "node4")
    passwords = ensemble.passwords()
    assert [p for p in passwords if p in "\n".join(argv.seen)] == [], "a SASL password in a node's ps"
    told = [r.stdout + r.stderr for r in (done, cli, smoke, promoted, demoted)]
    assert no_password_in(ensemble, *told) == [], "a SASL password in the output or a run log"
