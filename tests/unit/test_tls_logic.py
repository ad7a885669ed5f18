"""TLS as data: the phase machine (what each roll moves, what a server runs after an interrupt), the zoo.cfg
each phase renders, certificates (names, lifetime, key usage, when to re-issue), the inventory's [tls]."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from clusterctl.errors import InventoryError
from clusterctl.inventory import TlsSpec, load_inventory
from clusterctl.render.zoo_cfg import parse_client_addresses, tls_lines
from clusterctl.steps.tls import listens_as
from clusterctl.tls.certs import parse, reissue_reason, wanted_names
from clusterctl.tls.phases import (TlsState, marker_text, next_roll, rolls_left, running_state, target_state,
                                   written_state)
from clusterctl.tls.report import tls_notes

OFF, ON = TlsState(0, False), TlsState(3, True)


def test_turning_tls_on_takes_three_rolls_and_opens_the_client_port_in_the_first():
    rolls = rolls_left({"a": OFF, "b": OFF, "c": OFF}, target_state(True, "optional"))
    assert [set(r.values()) for r in rolls] == [{TlsState(1, True)}, {TlsState(2, True)}, {TlsState(3, True)}]
    assert all(set(r) == {"a", "b", "c"} for r in rolls)


def test_turning_it_off_goes_through_the_same_phases_backwards():
    rolls = rolls_left({"a": ON, "b": ON}, target_state(False, "off"))
    assert [r["a"] for r in rolls] == [TlsState(2, False), TlsState(1, False), TlsState(0, False)]


def test_an_interrupted_roll_moves_the_servers_behind_first_and_never_two_phases_apart():
    current = {"a": TlsState(2, True), "b": TlsState(1, True), "c": TlsState(1, True)}
    first = next_roll(current, target_state(True, "optional"))
    assert first == {"b": TlsState(2, True), "c": TlsState(2, True)}
    for roll in rolls_left(current, target_state(True, "optional")):
        current.update(roll)
        phases = {s.quorum for s in current.values()}
        assert max(phases) - min(phases) <= 1
    assert next_roll({"a": ON}, ON) == {}


def test_client_only_changes_take_one_roll():
    assert rolls_left({"a": TlsState(3, False)}, target_state(True, "optional")) == [{"a": ON}]
    assert target_state(True, "required") == target_state(True, "optional")  # the port's address differs


@pytest.mark.parametrize("settings, state", [
    ("", OFF),
    ("portUnification=true\n", TlsState(1, False)),
    ("sslQuorum=true\nportUnification=true\nsecureClientPort=2281\n", TlsState(2, True)),
    ("sslQuorum=true\n", TlsState(3, False)),
])
def test_the_phase_a_zoo_cfg_turns_on(settings, state):
    assert written_state("tickTime=2000\n" + settings) == state


def test_a_server_not_restarted_since_a_phase_was_written_still_runs_the_one_before():
    marker = marker_text(TlsState(1, True), TlsState(2, True))
    assert running_state(TlsState(2, True), marker, restarted_since_marker=False) == TlsState(1, True)
    assert running_state(TlsState(2, True), marker, restarted_since_marker=True) == TlsState(2, True)
    assert running_state(TlsState(2, True), None, restarted_since_marker=False) == TlsState(2, True)


class Spec:
    conf_dir = "/etc/zookeeper"
    package = Path("apache-zookeeper-3.8.0-bin.tar.gz")
    tls = TlsSpec(quorum=True, client="optional", client_auth="want", secure_client_port=2282)


def settings(state: TlsState) -> dict[str, str]:
    return dict(line.split("=", 1) for line in tls_lines(Spec, state))


def test_each_phase_renders_what_the_admin_guide_says():
    assert tls_lines(Spec, OFF) == []
    one, two, three = (settings(TlsState(q, False)) for q in (1, 2, 3))
    assert one["portUnification"] == "true" and "sslQuorum" not in one
    assert two["portUnification"] == "true" and two["sslQuorum"] == "true"
    assert "portUnification" not in three and three["sslQuorum"] == "true"
    for phase in (one, two, three):
        assert phase["ssl.quorum.keyStore.location"] == "/etc/zookeeper/tls/keystore.pem"
        assert phase["ssl.quorum.keyStore.type"] == "PEM" and phase["ssl.quorum.hostnameVerification"] == "true"
        assert not any("password" in key.lower() for key in phase)
    client = settings(TlsState(0, True))
    assert client["secureClientPort"] == "2282" and client["ssl.clientAuth"] == "want"
    assert client["serverCnxnFactory"].endswith("NettyServerCnxnFactory")


def test_the_client_addresses_of_a_membership():
    text = ("server.1=n1:2888:3888:participant;0.0.0.0:2181\nserver.2=n2:2888:3888:observer;127.0.0.1:2181\n"
            "server.3=n3:2888:3888:participant\nversion=100000000\n")
    assert parse_client_addresses(text) == {1: "0.0.0.0", 2: "127.0.0.1", 3: ""}


@pytest.mark.parametrize("bound, wanted, ok", [
    (["*:2181"], "0.0.0.0", True),
    (["[::ffff:127.0.0.1]:2181"], "127.0.0.1", True),
    (["[::ffff:127.0.0.1]:2181"], "0.0.0.0", False),
    (["*:2181"], "127.0.0.1", False),
    ([], "127.0.0.1", False),
])
def test_whether_a_port_listens_where_it_should(bound, wanted, ok):
    assert listens_as(bound, wanted) is ok


def issued(tmp_path, days=397):
    """A certificate for node2 made the way clusterctl makes one: a CA here, a request from a key 'on the node'."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from clusterctl.tls.ca import Authority, _make_ca
    key, cert = _make_ca("unit")
    ca = Authority(key, cert, tmp_path / "ca.crt")
    node_key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node2")])).sign(node_key, hashes.SHA256()))
    pem = ca.sign(csr.public_bytes(serialization.Encoding.PEM).decode(), ("node2", "10.0.0.12"), days)
    return ca, pem


def test_a_certificate_names_its_host_and_address_serves_both_ends_and_lives_its_days(tmp_path):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    ca, pem = issued(tmp_path)
    info = parse(pem)
    assert info.names == ("node2", "10.0.0.12") and info.subject == "node2"
    assert info.issuer_key_id == ca.key_id
    assert 396.9 < info.days_left(datetime.datetime.now(datetime.timezone.utc)) <= 397
    cert = x509.load_pem_x509_certificate(pem.encode())
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_when_a_certificate_is_issued_again(tmp_path):
    ca, pem = issued(tmp_path)
    info, now = parse(pem), datetime.datetime.now(datetime.timezone.utc)
    names = ("node2", "10.0.0.12")
    assert reissue_reason(info, names=names, ca_key_id=ca.key_id, now=now, renew_days=30) is None
    assert reissue_reason(None, names=names, ca_key_id=ca.key_id, now=now, renew_days=30) == "no certificate yet"
    assert reissue_reason(info, names=names, ca_key_id="00", now=now, renew_days=30) == "issued by another CA"
    assert reissue_reason(info, names=("node2", "10.0.0.99"), ca_key_id=ca.key_id, now=now,
                          renew_days=30) == "does not name 10.0.0.99"
    late = now + datetime.timedelta(days=380)
    assert reissue_reason(info, names=names, ca_key_id=ca.key_id, now=late, renew_days=30).startswith("expires in 17")


def test_status_warns_of_expiry_and_counts_plaintext_clients(tmp_path):
    _, pem = issued(tmp_path, days=10)
    now = datetime.datetime.now(datetime.timezone.utc)
    notes = tls_notes(TlsSpec(quorum=True, client="optional"), ON, pem, now, 3, 2181)
    assert notes[0] == "TLS: quorum encrypted (mutual TLS); clients: TLS on 2281 and plaintext on 2181"
    assert notes[1].startswith("certificate expires in 10 days") or notes[1].startswith("certificate expires in 9 days")
    assert notes[2] == "3 plaintext client connection(s) from other hosts now"
    assert tls_notes(TlsSpec(), OFF, None, now, 0, 2181) == []


def test_wanted_names_keep_the_inventory_name_first_and_each_address_once():
    assert wanted_names("node2", "10.0.0.12", "10.0.0.12") == ("node2", "10.0.0.12")
    assert wanted_names("node2", None, "node2.example") == ("node2", "node2.example")


BASE = """[hosts.n1]
address = "10.0.0.1"
[zookeeper]
package = "zk.tar.gz"
[zookeeper.servers]
n1 = 1
"""


@pytest.mark.parametrize("tls, key, fix", [
    ('[tls]\nclien = "optional"\n', "tls.clien", "did you mean 'client'?"),
    ('[tls]\nclient = "always"\n', "tls.client", 'write client = "off"'),
    ('[tls]\nca = "mine"\n', "tls.ca", 'write ca = "managed"'),
    ('[tls]\nsecure_client_port = 2181\n', "tls.secure_client_port", "its own number"),
    ('[tls]\ndays = 30\nrenew_days = 30\n', "tls.renew_days", "renew_days = 29"),
    ('[tls]\nca = { cert = "nope.crt", key = "nope.key" }\n', "tls.ca.cert", "PEM file"),
])
def test_bad_tls_settings_are_one_line_naming_the_key_and_the_fix(tmp_path: Path, tls, key, fix):
    path = tmp_path / "inv.toml"
    path.write_text(BASE + tls)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert f": {key}:" in str(caught.value) and fix in str(caught.value), str(caught.value)


def test_tls_defaults_to_off_and_reads_its_settings(tmp_path: Path):
    path = tmp_path / "inv.toml"
    path.write_text(BASE)
    assert load_inventory(path).zookeeper.tls == TlsSpec()
    path.write_text(BASE + '[tls]\nquorum = true\nclient = "required"\nclient_auth = "none"\ndays = 90\n')
    tls = load_inventory(path).zookeeper.tls
    assert (tls.quorum, tls.client, tls.client_auth, tls.days, tls.managed) == (True, "required", "none", 90, True)


# -- the steps' decisions, from a node's facts ---------------------------------------------------------------

def tls_inventory(**tls):
    from dataclasses import replace as replaced
    from test_zk_install import INV
    return replaced(INV, zookeeper=replaced(INV.zookeeper, tls=TlsSpec(**tls)))


def running_facts(**overrides):
    from clusterctl.core.facts import Fact
    from test_zk_install import facts
    return facts(**{"zk.server": Fact("4242 600 systemd zookeeper\n", 0), "zk.bound": Fact("*:2181\n", 0),
                    "zk.plaintext_clients": Fact("2181 0\n", 0), **overrides})


def test_the_roll_step_plans_three_rolls_per_server_on_a_plaintext_ensemble():
    from clusterctl.steps.tls import ZkTlsRoll
    inventory = tls_inventory(quorum=True, client="optional")
    plans = ZkTlsRoll().decide(inventory, {h: running_facts() for h in ("node2", "node3", "node4")})
    for plan in plans.values():
        assert [c.summary.split(":")[0] for c in plan.changes] == ["roll 1 of 3", "roll 2 of 3", "roll 3 of 3"]
    assert ZkTlsRoll().decide(tls_inventory(), {h: running_facts() for h in ("node2", "node3")}) == {
        h: plans["node2"].__class__(now=TlsState()) for h in ("node2", "node3")}


def test_required_is_refused_while_other_hosts_use_the_plaintext_port_unless_forced():
    from clusterctl.core.facts import Fact
    from clusterctl.render.zoo_cfg import render_zoo_cfg
    from clusterctl.steps.tls import ZkTlsRoll
    inventory = tls_inventory(client="required")
    on = Fact(render_zoo_cfg(inventory.zookeeper, inventory, "node3", tls=TlsState(0, True)), 0)
    gathered = {h: running_facts(**{"zk.zoo_cfg": on}) for h in ("node2", "node3")}
    gathered["node3"]["zk.plaintext_clients"] = Fact("2181 4\n", 0)
    refused = ZkTlsRoll().decide(inventory, gathered)
    assert all("4 plaintext client connection(s) from other hosts (node3: 4)" in p.problem for p in refused.values())
    forced = ZkTlsRoll(force=True).decide(inventory, gathered)
    assert not any(p.problem for p in forced.values())
    assert any("listen on loopback alone" in c.summary for p in forced.values() for c in p.changes)


def test_no_ca_here_and_certificates_there_is_refused_rather_than_a_second_ca(tmp_path, monkeypatch):
    from clusterctl.core.facts import Fact
    from clusterctl.steps.tls import ZkTlsCerts
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    _, pem = issued(tmp_path)
    inventory = tls_inventory(quorum=True)
    plans = ZkTlsCerts().decide(inventory, {"node2": running_facts(**{"zk.tls_cert": Fact(pem, 0)}),
                                            "node3": running_facts(**{"zk.tls_cert": Fact("", 1)})})
    assert "copy that directory from the controller that turned TLS on" in plans["node2"].problem
    assert plans["node3"].issue == "no certificate yet" and not (tmp_path / "clusterctl").exists(), "deciding made no CA"


# -- the client port's certificate reload (client.certReload, ZooKeeper 3.8.5 on) -----------------------------

@pytest.mark.parametrize("name, version, reloads", [
    ("/opt/zookeeper/apache-zookeeper-3.8.0-bin", (3, 8, 0), False),
    ("/opt/zookeeper/apache-zookeeper-3.8.4-bin", (3, 8, 4), False),
    ("/opt/zookeeper/apache-zookeeper-3.8.5-bin", (3, 8, 5), True),
    ("apache-zookeeper-3.9.3-bin.tar.gz", (3, 9, 3), True),
    ("/opt/zookeeper/zookeeper-current", None, False),  # no version in the name: restart, the safe way
])
def test_the_client_port_reloads_its_certificate_from_3_8_5_on(name, version, reloads):
    from clusterctl.tls.reload import client_cert_reload_supported, release_version
    assert release_version(name) == version
    assert client_cert_reload_supported(version) is reloads


def test_only_3_8_5_and_later_get_client_cert_reload_in_zoo_cfg():
    assert "client.certReload" not in settings(TlsState(3, True))

    class Newer(Spec):
        package = Path("apache-zookeeper-3.8.5-bin.tar.gz")
    assert dict(line.split("=", 1) for line in tls_lines(Newer, TlsState(3, True)))["client.certReload"] == "true"
    assert "client.certReload" not in dict(line.split("=", 1) for line in tls_lines(Newer, TlsState(3, False)))


@pytest.mark.parametrize("release, restarts", [("apache-zookeeper-3.8.0-bin", True),
                                               ("apache-zookeeper-3.8.5-bin", False)])
def test_renewal_restarts_a_server_only_where_its_client_port_cannot_reload(tmp_path, monkeypatch, release, restarts):
    from clusterctl.core.facts import Fact
    from clusterctl.render.zoo_cfg import render_zoo_cfg
    from clusterctl.steps.tls import ZkTlsCerts
    from clusterctl.tls import ca as cluster_ca
    from dataclasses import replace as replaced
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    inventory = tls_inventory(quorum=True, client="optional")
    spec = replaced(inventory.zookeeper, package=Path(f"/x/{release}.tar.gz"))
    inventory = replaced(inventory, zookeeper=spec)
    ca = cluster_ca.authority(inventory)
    from test_ca_rotation import signed_by
    cfg = render_zoo_cfg(spec, inventory, "node2", tls=TlsState(3, True))
    plans = ZkTlsCerts(renew=True).decide(inventory, {"node2": running_facts(**{
        "zk.tls_cert": Fact(signed_by(ca, "node2"), 0), "zk.tls_trust": Fact(ca.pem, 0),
        "zk.zoo_cfg": Fact(cfg, 0), "zk.link": Fact(f"link /opt/zookeeper/{release}\n", 0)})})
    plan = plans["node2"]
    assert plan.issue and plan.reloads is not restarts
    assert any(("rolling restart follows" if restarts else "no restart") in n for n in plan.notes), plan.notes


def test_the_first_certificates_of_a_plaintext_ensemble_restart_nothing_the_tls_rolls_do(tmp_path, monkeypatch):
    from clusterctl.steps.tls import ZkTlsCerts
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    plans = ZkTlsCerts().decide(tls_inventory(quorum=True, client="optional"), {"node2": running_facts()})
    plan = plans["node2"]
    assert plan.issue == "no certificate yet" and not plan.running, "no restart stamp for a server without stores"
    assert not any("restart" in n for n in plan.notes), plan.notes
