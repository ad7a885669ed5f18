"""CA rotation as data: the stages (no two servers ever distrust each other), what each roll moves, where a
stopped rotation goes on, what the step plans from the nodes' facts, and the controller's CA files."""

from __future__ import annotations

import itertools

import pytest

from clusterctl.tls import rotation
from clusterctl.tls.rotation import (accepts, controller_presents_new, marker_text, next_moves, rolls_left,
                                     running_stage, stage_of)


def test_a_rotation_takes_three_rolls_every_server_moving_in_each():
    rolls = rolls_left({"a": 0, "b": 0, "c": 0})
    assert rolls == [{"a": 1, "b": 1, "c": 1}, {"a": 2, "b": 2, "c": 2}, {"a": 3, "b": 3, "c": 3}]
    assert rolls_left({"a": 3, "b": 3}) == []


def every_state_on_the_way_accepted(start: dict[str, int], accepts, done: int = rotation.DONE) -> None:
    """Servers move one at a time inside a roll, in any order: in every state on the way from ``start`` to
    ``done``, each server ``accepts`` every other."""
    now = dict(start)
    for moves in rolls_left(now, done):
        for order in itertools.permutations(moves):
            seen = dict(now)
            for host in order:
                seen[host] = moves[host]
                for x, y in itertools.permutations(seen.values(), 2):
                    assert accepts(x, y), (seen, x, y)
        now.update(moves)
    assert set(now.values()) == {done}


def test_no_two_servers_ever_distrust_each_other_whatever_order_a_roll_takes():
    for start in ({"a": 0, "b": 0, "c": 0, "d": 0}, {"a": 1, "b": 2, "c": 2, "d": 1}):
        every_state_on_the_way_accepted(start, accepts)


def test_two_stages_apart_would_distrust_which_is_why_rolls_move_the_lowest_only():
    assert not accepts(0, 2) and not accepts(3, 1)
    assert next_moves({"a": 1, "b": 2, "c": 1}) == {"a": 2, "c": 2}


@pytest.mark.parametrize("trusted, issuer, stage", [
    ({"old"}, "old", 0),
    ({"old", "new"}, "old", 1),
    ({"old", "new"}, "new", 2),
    ({"new"}, "new", 3),
    ({"new"}, "old", None),  # would be refused by its peers: in no stage
    ({"other"}, "other", None),
])
def test_the_stage_a_server_is_in_from_its_truststore_and_certificate(trusted, issuer, stage):
    assert stage_of(trusted, issuer, "old", "new") == stage


def test_before_the_new_ca_exists_every_server_of_the_old_one_is_at_the_start():
    assert stage_of({"old"}, "old", "old", None) == 0


def test_a_server_not_restarted_since_its_change_still_runs_the_stage_before():
    assert running_stage(2, marker_text(1, 2), restarted_since_marker=False) == 1
    assert running_stage(2, marker_text(1, 2), restarted_since_marker=True) == 2
    assert running_stage(2, None, restarted_since_marker=False) == 2


def test_the_controller_presents_a_new_ca_certificate_once_every_server_trusts_it():
    assert not controller_presents_new({"a": 1, "b": 0})
    assert controller_presents_new({"a": 1, "b": 2})


# -- the step's plan, from the nodes' facts, and the controller's files ---------------------------------------

def signed_by(ca, host: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])).sign(key, hashes.SHA256()))
    return ca.sign(csr.public_bytes(serialization.Encoding.PEM).decode(), (host,), 30) + ca.pem


@pytest.fixture
def controller(tmp_path, monkeypatch):
    from test_tls_logic import tls_inventory
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tls_inventory(quorum=True, client="optional")


def server_facts(cert: str, trust: str, marker: str | None = None):
    from clusterctl.core.facts import Fact
    from test_tls_logic import running_facts
    return running_facts(**{"zk.tls_cert": Fact(cert, 0), "zk.tls_trust": Fact(trust, 0),
                            "zk.ca_marker": Fact(marker or "", 0 if marker else 1)})


def test_the_plan_makes_no_ca_and_shows_three_rolls_and_the_controllers_move(controller):
    from clusterctl.steps.ca_rotation import ZkCaRotation
    from clusterctl.tls import ca as cluster_ca
    old = cluster_ca.authority(controller)
    facts = {h: server_facts(signed_by(old, h), old.pem) for h in ("node2", "node3", "node4")}
    plans = ZkCaRotation().decide(controller, facts)
    assert not cluster_ca.rotation_under_way(controller), "deciding made no CA"
    rolls = [c.summary for c in plans["node3"].changes]
    assert [r.split(":")[0] for r in rolls] == ["roll 1 of 3", "roll 2 of 3", "roll 3 of 3"]
    first = " | ".join(c.summary for c in plans["node2"].changes)
    assert "make a new CA on this controller" in first and "before roll 2: this controller's client" in first
    assert "kept in" in first


def test_a_stopped_rotation_goes_on_with_the_server_that_has_not_restarted_into_its_stage_first(controller):
    from clusterctl.steps.ca_rotation import ZkCaRotation
    from clusterctl.tls import ca as cluster_ca
    old, new = cluster_ca.authority(controller), cluster_ca.next_authority(controller)
    facts = {h: server_facts(signed_by(new, h), old.pem + new.pem) for h in ("node2", "node3")}
    # node4 changed its files for stage 2 but has not restarted since: it still runs stage 1.
    facts["node4"] = server_facts(signed_by(new, "node4"), old.pem + new.pem, marker_text(1, 2))
    from clusterctl.core.facts import Fact
    facts["node4"]["zk.server"] = Fact("4242 600 systemd zookeeper\n5 /etc/zookeeper/.clusterctl-ca\n", 0)
    plans = ZkCaRotation().decide(controller, facts)
    assert [c.summary.split(":")[0] for c in plans["node4"].changes] == ["roll 1 of 2", "roll 2 of 2"]
    assert [c.summary.split(":")[0] for c in plans["node3"].changes] == ["roll 2 of 2"]


def test_a_server_of_another_ca_is_refused_and_so_are_the_renewals_during_a_rotation(controller, tmp_path):
    from clusterctl.steps.ca_rotation import ZkCaRotation
    from clusterctl.steps.tls import ZkTlsCerts
    from clusterctl.tls import ca as cluster_ca
    from clusterctl.tls.ca import Authority, _make_ca
    old = cluster_ca.authority(controller)
    stranger = Authority(*_make_ca("stranger"), tmp_path / "x.crt")
    facts = {"node2": server_facts(signed_by(old, "node2"), old.pem),
             "node3": server_facts(signed_by(stranger, "node3"), stranger.pem)}
    plans = ZkCaRotation().decide(controller, facts)
    assert "neither the cluster's CA nor the new one" in plans["node3"].problem
    cluster_ca.next_authority(controller)
    refused = ZkTlsCerts().decide(controller, facts)
    assert all("tls rotate-ca to finish the rotation first" in p.problem for p in refused.values())


def test_the_old_ca_is_kept_aside_and_retiring_can_be_run_again(controller):
    from clusterctl.tls import ca as cluster_ca
    old, new = cluster_ca.authority(controller), cluster_ca.next_authority(controller)
    kept = cluster_ca.retire_current(controller)
    assert kept.read_text() == old.pem and kept.with_suffix(".key").stat().st_mode & 0o777 == 0o600
    assert cluster_ca.authority(controller).key_id == new.key_id
    assert not cluster_ca.rotation_under_way(controller)
    cluster_ca.retire_current(controller)
    assert cluster_ca.authority(controller).key_id == new.key_id


def test_only_the_managed_ca_is_rotated_and_only_with_tls_on():
    from pathlib import Path
    from clusterctl.steps.ca_rotation import ZkCaRotation
    from test_tls_logic import tls_inventory
    assert "TLS is off" in str(ZkCaRotation().refusal(tls_inventory()))
    inventory = tls_inventory(quorum=True, ca_cert=Path("/x/ca.crt"), ca_key=Path("/x/ca.key"))
    assert "rotate it yourself" in str(ZkCaRotation().refusal(inventory))


def test_two_cas_of_one_cluster_have_names_of_their_own(controller):
    # ZooKeeper's PEM truststore keeps one certificate per subject name: alike, the old CA would vanish from it.
    from clusterctl.tls import ca as cluster_ca
    old, new = cluster_ca.authority(controller), cluster_ca.next_authority(controller)
    assert old.info.subject != new.info.subject


def test_a_controller_left_with_the_old_ca_refuses_to_issue_to_servers_rotated_elsewhere(controller, tmp_path):
    from clusterctl.steps.tls import ZkTlsCerts
    from clusterctl.tls import ca as cluster_ca
    from clusterctl.tls.ca import Authority, _make_ca
    cluster_ca.authority(controller)  # this controller's CA, the old one
    rotated = Authority(*_make_ca("elsewhere"), tmp_path / "x.crt")
    facts = {"node2": server_facts(signed_by(rotated, "node2"), rotated.pem)}
    plans = ZkTlsCerts().decide(controller, facts)
    assert "was it rotated from another controller?" in plans["node2"].problem
