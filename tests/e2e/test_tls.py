"""TLS on a live ensemble of three voters and an observer: turned on, renewed, its CA rotated, refused to
strangers, turned off, each stopped after its second roll and resumed where it has rolls, each under a client
writing all along with every acknowledged write read back; keys checked on the nodes (made there, with openssl
or keytool, the service account's alone), argv sampled on every node."""

from __future__ import annotations

import datetime
import re
import ssl
import socket
import time
from pathlib import Path

import pytest

from clusterctl.lab.runbook import render_runbook_sections
from tests.ensembles import Ensemble
from tests.lab_helpers import ArgvSampler, Writer, inside, running_lab

pytestmark = pytest.mark.e2e
NODES = [f"node{i}" for i in range(1, 6)]  # node1 holds no server; node2..4 vote, node5 observes
SERVERS = {"node2": 1, "node3": 2, "node4": 3, "node5": (4, True)}
TUNING = "heap_mb = 128\ntick_time = 500\ninit_limit = 10\nsync_limit = 5"
TLS_ON = '[tls]\nquorum = true\nclient = "optional"\nclient_auth = "need"\n'
SECURE_PORT = 2281


class TlsEnsemble(Ensemble):
    """The ensemble, its controller state (the CA, the super user's secret) in a directory of the test's own."""

    def __init__(self, lab, base: str, state: Path):
        super().__init__(lab, base)
        self.state = state

    def cli(self, *words, state_home=None, **kwargs):
        return super().cli(*words, state_home=state_home or self.state, **kwargs)

    def with_tls(self, tls: str) -> Path:
        path = self.inventory(SERVERS)
        path.write_text(path.read_text() + "\n" + tls)
        return path

    @property
    def tls_dir(self) -> Path:
        return self.state / "clusterctl" / "secrets" / f"{self.lab.name}.tls"

    def client_options(self, cert: Path | None = None, key: Path | None = None) -> dict:
        return {"use_ssl": True, "verify_certs": True, "ca": str(self.tls_dir / "trust.pem"),
                "certfile": str(cert or self.tls_dir / "client.crt"), "keyfile": str(key or self.tls_dir / "client.key")}

    def tls_hosts(self, nodes) -> str:
        return ",".join(f"{self.lab.address(n)}:{SECURE_PORT}" for n in nodes)

    def pids(self) -> dict[str, str]:
        return {n: self.pid(n) for n in SERVERS}


@pytest.fixture(scope="module")
def ensemble(artifacts, tmp_path_factory):
    extra = render_runbook_sections(NODES, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    extra = extra.replace("heap_mb = 128", TUNING)
    with running_lab("ttls", "10.231.160.0/24", len(NODES), inventory_extra=extra) as lab:
        base = lab.inventory_path.read_text().split("[zookeeper.servers]\n")[0] + "[zookeeper.servers]\n"
        ensemble = TlsEnsemble(lab, base, tmp_path_factory.mktemp("controller-state"))
        ensemble.inventory(SERVERS)
        boot = ensemble.cli("bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        yield ensemble


def tls_connect(ensemble, node: str, cert: Path | None = None, key: Path | None = None) -> str:
    """The server's answer to srvr over its TLS client port, presenting ``cert`` (none when None)."""
    context = ssl.create_default_context(cafile=str(ensemble.tls_dir / "trust.pem"))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    address = ensemble.lab.address(node)
    with socket.create_connection((address, SECURE_PORT), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=address) as conn:
            conn.sendall(b"srvr")
            return conn.makefile("rb").read().decode()


def certificate(directory: Path, name: str, address: str, *, issuer=None, valid=(-1 / 24, 30),
                label: str = "stranger") -> tuple[Path, Path]:
    """A key and a certificate for ``name``/``address`` (cert and key paths, PEM), signed by ``issuer`` (the CA's
    key and certificate) or by a CA made here that the cluster does not know; valid from and to the days
    ``valid`` gives, counted from now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    if issuer is None:
        ca_key, ca_public = ec.generate_private_key(ec.SECP256R1()), None
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a stranger's CA")])
    else:
        ca_key, ca_cert = issuer
        ca_name, ca_public = ca_cert.subject, ca_cert.public_key()
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=valid[0]))
               .not_valid_after(now + datetime.timedelta(days=valid[1]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(name),
                                                           x509.IPAddress(ipaddress.ip_address(address))]), False))
    if ca_public is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), False)
    cert = builder.sign(ca_key, hashes.SHA256())
    key_path, cert_path = directory / f"{name}-{label}.key", directory / f"{name}-{label}.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def other_ca(directory: Path, name: str, address: str) -> tuple[Path, Path]:
    """A certificate for ``name``/``address`` from a CA the cluster does not know (key and cert, PEM)."""
    return certificate(directory, name, address)


def quorum_settings(ensemble, node: str) -> dict[str, str]:
    text = inside(ensemble.lab, node, "cat /etc/zookeeper/zoo.cfg")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_tls_turned_on_under_a_writer_stopped_after_two_rolls_and_resumed_loses_no_write_keys_on_nodes(ensemble):
    ensemble.with_tls(TLS_ON)
    plan = ensemble.cli("plan")
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr
    assert plan.stdout.count("roll 3 of 3") == len(SERVERS), plan.stdout[-4000:]
    assert not ensemble.tls_dir.exists(), "plan made no CA"
    # Stopped after the second roll (no to every server of the third), then resumed, one writer all along.
    answers = "y\n" * (2 * len(SERVERS)) + "n\n" * len(SERVERS)
    with ArgvSampler(ensemble.lab, list(SERVERS)) as argv, Writer(ensemble.hosts(SERVERS)) as writer:
        halted = ensemble.cli("apply", "--confirm", answers=answers)
        assert halted.returncode == 0, halted.stdout[-4000:] + halted.stderr
        for node in SERVERS:
            settings = quorum_settings(ensemble, node)
            assert settings.get("sslQuorum") == "true" and settings.get("portUnification") == "true", node
        again = ensemble.cli("plan")
        assert again.stdout.count("roll 1 of 1") == len(SERVERS), again.stdout[-3000:]
        done = ensemble.cli("apply")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    print(f"TLS enabled: {len(writer.acked)} writes acknowledged, longest stall {writer.longest_stall():.2f}s")
    for node in SERVERS:
        settings = quorum_settings(ensemble, node)
        assert settings.get("sslQuorum") == "true" and "portUnification" not in settings, settings
        assert settings.get("secureClientPort") == str(SECURE_PORT)
        # The key: made on the node, the service account's alone, never on the controller.
        listing = inside(ensemble.lab, node, "stat -c '%a %U %n' /etc/zookeeper/tls/keystore.pem /etc/zookeeper/tls")
        assert listing.split("\n")[0] == "600 zookeeper /etc/zookeeper/tls/keystore.pem", listing
        assert listing.split("\n")[1].startswith("700 zookeeper"), listing
        key = inside(ensemble.lab, node, "sed -n '/BEGIN PRIVATE KEY/,/END PRIVATE KEY/p' /etc/zookeeper/tls/keystore.pem")
        assert "BEGIN PRIVATE KEY" in key
        body = "".join(key.splitlines()[1:-1])
        held = [p for p in ensemble.state.rglob("*") if p.is_file() and body in p.read_text(errors="replace")]
        assert held == [], f"{node}'s private key is on the controller: {held}"
        assert "Mode: " in tls_connect(ensemble, node, ensemble.tls_dir / "client.crt", ensemble.tls_dir / "client.key")
    secrets = [line for line in argv.seen if re.search(r"PRIVATE KEY|[Pp]assword=|keyStore\.password", line)]
    assert argv.seen and secrets == [], secrets
    assert "TLS: quorum encrypted (mutual TLS)" in ensemble.cli("zk", "status").stdout

    # A TLS client writes through the TLS port; a second apply restarts nothing.
    before = ensemble.pids()
    with Writer(ensemble.tls_hosts(SERVERS), client_options=ensemble.client_options()) as tls_writer:
        again = ensemble.cli("apply")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert tls_writer.lost() == [] and len(tls_writer.acked) > 10
    assert ensemble.pids() == before, "a no-op apply restarts nothing"


def test_clients_without_a_certificate_or_with_a_strangers_are_refused(ensemble, tmp_path):
    node = "node3"
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_connect(ensemble, node)  # client_auth = "need": no certificate, no connection
    cert, key = other_ca(tmp_path, "intruder", "10.0.0.1")
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_connect(ensemble, node, cert, key)
    assert "Mode: " in tls_connect(ensemble, node, ensemble.tls_dir / "client.crt", ensemble.tls_dir / "client.key")


def test_a_server_with_a_strangers_certificate_cannot_join_and_apply_brings_it_back(ensemble, tmp_path):
    ensemble.with_tls(TLS_ON)
    follower = next(n for n in ("node2", "node3", "node4") if ensemble.role(n) == "follower")
    cert, key = other_ca(tmp_path, follower, ensemble.lab.address(follower))
    chain = key.read_text() + cert.read_text()
    inside(ensemble.lab, follower, f"cat > /etc/zookeeper/tls/keystore.pem <<'EOF'\n{chain}EOF\n"
                                   f"systemctl restart zookeeper")
    time.sleep(8)
    assert ensemble.role(follower) in ("looking", "down"), "the others do not follow a stranger"
    others = [n for n in ("node2", "node3", "node4") if n != follower]
    assert {ensemble.role(n) for n in others} <= {"leader", "follower"}
    plan = ensemble.cli("plan")
    assert "issued by another CA" in " ".join(plan.stdout.split()), plan.stdout[-3000:]  # (the table wraps)
    with Writer(ensemble.hosts(others)) as writer:
        fixed = ensemble.cli("apply")
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr
    assert writer.lost() == []
    assert ensemble.role(follower) == "follower"


def expired_certificate(ensemble, node: str, tmp_path: Path) -> tuple[Path, Path]:
    """A certificate of the cluster's own CA for ``node`` that expired yesterday (key and cert, PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    issuer = (serialization.load_pem_private_key((ensemble.tls_dir / "ca.key").read_bytes(), None),
              x509.load_pem_x509_certificate((ensemble.tls_dir / "ca.crt").read_bytes()))
    return certificate(tmp_path, node, ensemble.lab.address(node), issuer=issuer, valid=(-30, -1), label="expired")


def test_an_expired_certificate_is_named_by_status_refused_by_the_quorum_and_renewed_by_apply(ensemble, tmp_path):
    ensemble.with_tls(TLS_ON)
    follower = next(n for n in ("node2", "node3", "node4") if ensemble.role(n) == "follower")
    cert, key = expired_certificate(ensemble, follower, tmp_path)
    chain = key.read_text() + cert.read_text() + (ensemble.tls_dir / "ca.crt").read_text()
    inside(ensemble.lab, follower, f"cat > /etc/zookeeper/tls/keystore.pem <<'EOF'\n{chain}EOF\n"
                                   f"systemctl restart zookeeper")
    time.sleep(8)
    assert ensemble.role(follower) in ("looking", "down"), "the quorum refuses an expired certificate"
    status = " ".join(ensemble.cli("zk", "status").stdout.split())
    assert "certificate EXPIRED" in status, status[-2000:]
    others = [n for n in ("node2", "node3", "node4") if n != follower]
    with Writer(ensemble.hosts(others)) as writer:
        fixed = ensemble.cli("apply")
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr
    assert writer.lost() == []
    assert ensemble.role(follower) == "follower"


def test_renewal_under_a_writer_restarts_each_server_once(ensemble):
    ensemble.with_tls(TLS_ON)
    prints = {n: inside(ensemble.lab, n, "sha256sum /etc/zookeeper/tls/server.crt") for n in SERVERS}
    before = ensemble.pids()
    with Writer(ensemble.tls_hosts(SERVERS), client_options=ensemble.client_options()) as writer:
        done = ensemble.cli("tls", "renew")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    after = ensemble.pids()
    for node in SERVERS:
        assert inside(ensemble.lab, node, "sha256sum /etc/zookeeper/tls/server.crt") != prints[node]
        assert after[node] != before[node], f"{node} restarted for its client port"
    assert done.stdout.count("zk-roll        changed") == len(SERVERS), done.stdout[-3000:]


def test_a_node_without_openssl_makes_its_key_with_the_jdks_keytool(ensemble):
    ensemble.with_tls(TLS_ON)
    node = "node5"  # the observer: its openssl moved aside inside its own lab filesystem only
    inside(ensemble.lab, node, "mv /usr/bin/openssl /usr/bin/openssl.aside")
    try:
        before = ensemble.pid(node)
        with ArgvSampler(ensemble.lab, [node]) as argv:
            done = ensemble.cli("tls", "renew", node)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    finally:
        inside(ensemble.lab, node, "mv /usr/bin/openssl.aside /usr/bin/openssl")
    assert any("keytool" in line and "-genkeypair" in line for line in argv.seen), "keytool made the key"
    secrets = [line for line in argv.seen if re.search(r"PRIVATE KEY|storepass(?!:file)|[Pp]assword=", line)]
    assert secrets == [], secrets
    listing = inside(ensemble.lab, node, "stat -c '%a %U' /etc/zookeeper/tls/keystore.pem; ls -A /etc/zookeeper/tls")
    assert listing.splitlines()[0] == "600 zookeeper", listing
    assert "pending" not in listing, "the pending store and its password file are gone"
    assert "BEGIN PRIVATE KEY" in inside(ensemble.lab, node, "cat /etc/zookeeper/tls/keystore.pem")
    assert ensemble.pid(node) != before and ensemble.role(node) == "observer"
    assert "Mode: " in tls_connect(ensemble, node, ensemble.tls_dir / "client.crt", ensemble.tls_dir / "client.key")


def issuer_of(ensemble, node: str) -> str:
    """The authority key id of the certificate ``node`` presents (hex)."""
    from clusterctl.tls.certs import first_pem, parse
    return parse(first_pem(inside(ensemble.lab, node, "cat /etc/zookeeper/tls/server.crt"))).issuer_key_id


def test_the_ca_rotated_under_a_writer_stopped_after_two_rolls_and_resumed_loses_no_write(ensemble):
    from clusterctl.tls.certs import all_pems, parse
    ensemble.with_tls(TLS_ON)
    old = parse((ensemble.tls_dir / "ca.crt").read_text()).key_id
    dry = ensemble.cli("tls", "rotate-ca", "--dry-run")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
    assert " ".join(dry.stdout.split()).count("roll 3 of 3") == len(SERVERS), dry.stdout[-4000:]
    assert not (ensemble.tls_dir / "ca.next.crt").exists(), "a dry run makes no CA"
    before = ensemble.pids()
    started = time.monotonic()
    answers = "y\n" * (2 * len(SERVERS)) + "n\n" * len(SERVERS)
    with ArgvSampler(ensemble.lab, list(SERVERS)) as argv, Writer(ensemble.hosts(SERVERS)) as writer:
        halted = ensemble.cli("tls", "rotate-ca", "--confirm", answers=answers)
        assert halted.returncode == 0, halted.stdout[-3000:] + halted.stderr
        new = parse((ensemble.tls_dir / "ca.next.crt").read_text()).key_id
        for node in SERVERS:  # stopped in stage 2: both CAs trusted, a new CA certificate presented
            trusted = {parse(p).key_id for p in all_pems(inside(ensemble.lab, node, "cat /etc/zookeeper/tls/truststore.pem"))}
            assert trusted == {old, new} and issuer_of(ensemble, node) == new, node
        refused = ensemble.cli("tls", "renew", "--dry-run")
        assert "tls rotate-ca to finish the rotation first" in " ".join(refused.stdout.split()), refused.stdout[-2000:]
        rest = ensemble.cli("tls", "rotate-ca", "--dry-run")
        assert " ".join(rest.stdout.split()).count("roll 1 of 1") == len(SERVERS), rest.stdout[-3000:]
        resumed = ensemble.cli("tls", "rotate-ca")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    print(f"CA rotated: {len(writer.acked)} writes acknowledged, longest stall {writer.longest_stall():.2f}s, "
          f"{time.monotonic() - started:.0f}s")
    secrets = [line for line in argv.seen if re.search(r"PRIVATE KEY|[Pp]assword=|keyStore\.password", line)]
    assert argv.seen and secrets == [], secrets
    assert parse((ensemble.tls_dir / "ca.crt").read_text()).key_id == new
    assert parse((ensemble.tls_dir / "client.crt").read_text()).issuer_key_id == new
    assert not (ensemble.tls_dir / "ca.next.crt").exists()
    retired = [parse(p.read_text()).key_id for p in (ensemble.tls_dir / "retired").glob("*.crt")]
    assert retired == [old], "the old CA is kept aside"
    after = ensemble.pids()
    for node in SERVERS:
        trusted = [parse(p).key_id for p in all_pems(inside(ensemble.lab, node, "cat /etc/zookeeper/tls/truststore.pem"))]
        assert trusted == [new] and issuer_of(ensemble, node) == new, node
        assert after[node] != before[node]
        assert "Mode: " in tls_connect(ensemble, node, ensemble.tls_dir / "client.crt", ensemble.tls_dir / "client.key")
    assert "TLS: quorum encrypted (mutual TLS)" in ensemble.cli("zk", "status").stdout
    ensemble.plan_is_empty()


def plaintext_refused(ensemble, node: str) -> bool:
    try:
        socket.create_connection((ensemble.lab.address(node), 2181), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_required_closes_the_plaintext_port_to_other_hosts_but_not_while_they_use_it(ensemble):
    from kazoo.client import KazooClient
    ensemble.with_tls(TLS_ON.replace('"optional"', '"required"'))
    plaintext = KazooClient(hosts=ensemble.hosts(["node3"]), timeout=10)
    plaintext.start(timeout=30)
    try:
        refused = ensemble.cli("apply")
        assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr
        flat = " ".join(refused.stdout.split())
        assert "plaintext client connection(s) from other hosts (node3: 1) would be cut off" in flat, flat[-3000:]
        assert not plaintext_refused(ensemble, "node3"), "nothing was closed"
    finally:
        plaintext.stop()
        plaintext.close()
    with Writer(ensemble.tls_hosts(SERVERS), client_options=ensemble.client_options()) as writer:
        done = ensemble.cli("apply")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    for node in SERVERS:
        assert plaintext_refused(ensemble, node), f"{node} still takes plaintext clients from other hosts"
        assert "Mode: " in ensemble.srvr(node), "tools on the node itself still reach it"
    status = ensemble.cli("zk", "status")
    assert status.returncode == 0 and "clients: TLS on 2281;" in " ".join(status.stdout.split()), status.stdout
    smoke = ensemble.cli("zk", "smoke")
    assert smoke.returncode == 0, smoke.stdout[-2000:] + smoke.stderr


def test_tls_turned_off_is_stopped_after_two_rolls_and_resumes_where_it_stopped(ensemble):
    # Back from "required" to "optional" (the plaintext port opened to other hosts again), TLS clients writing.
    ensemble.with_tls(TLS_ON)
    with Writer(ensemble.tls_hosts(SERVERS), client_options=ensemble.client_options()) as tls_writer:
        reopened = ensemble.cli("apply")
    assert reopened.returncode == 0, reopened.stdout[-3000:] + reopened.stderr
    assert tls_writer.lost() == []
    assert all(not plaintext_refused(ensemble, n) for n in SERVERS)

    # No [tls]: the three phases backwards, stopped after two rolls (no to every server of the third).
    path = ensemble.inventory(SERVERS)
    answers = "y\n" * (2 * len(SERVERS)) + "n\n" * len(SERVERS)
    with Writer(ensemble.hosts(SERVERS)) as writer:
        halted = ensemble.cli("apply", "--confirm", answers=answers)
    assert halted.returncode == 0, halted.stdout[-3000:] + halted.stderr
    assert writer.lost() == []
    for node in SERVERS:
        settings = quorum_settings(ensemble, node)
        assert settings.get("portUnification") == "true" and "sslQuorum" not in settings, f"{node} in phase 1"
    plan = ensemble.cli("plan")
    assert plan.stdout.count("roll 1 of 1") == len(SERVERS), plan.stdout[-3000:]
    with Writer(ensemble.hosts(SERVERS)) as writer:
        resumed = ensemble.cli("apply")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr
    assert writer.lost() == []
    for node in SERVERS:
        settings = quorum_settings(ensemble, node)
        assert not any(k.startswith("ssl") or k in ("secureClientPort", "portUnification") for k in settings), settings
    assert path.exists()
    ensemble.plan_is_empty()
