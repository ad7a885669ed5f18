"""SASL password rotation as data: the JAAS file of each stage, no two servers ever refusing each other, the
stage a server is in read from its file's hash and marker, what the step plans from the nodes' facts, the
controller's pending password, and the refusals."""

from __future__ import annotations

import pytest

from clusterctl.core.facts import Fact
from clusterctl.render.jaas import SaslPasswords, render_jaas
from clusterctl.tls.phases import TlsState
from clusterctl.tls.rotation import marker_text, rolls_left
from clusterctl.zk.install import sha256_text
from clusterctl.zk.sasl_rotation import (QUORUM_DONE, quorum_accepts, server_stage, stage_passwords, stage_renders,
                                         written_stage)
from test_ca_rotation import every_state_on_the_way_accepted
from test_sasl_logic import sasl_inventory

OLD = SaslPasswords("old-pw", (("clusterctl", "c-pw"), ("app", "a-pw")))
NEW = SaslPasswords("new-pw", OLD.users, quorum_user="quorum2")
NEW_APP = SaslPasswords("old-pw", (("clusterctl", "c-pw"), ("app", "a-new")))


def test_the_quorum_stages_accept_a_second_identity_log_in_with_it_then_drop_the_old():
    first, accept_both, log_in_new, last = stage_renders(OLD, NEW, None)
    assert first == render_jaas(OLD) and last == render_jaas(NEW)
    assert 'user_quorum="old-pw"\n    user_quorum2="new-pw";' in accept_both
    assert 'username="quorum"\n    password="old-pw"' in accept_both
    assert 'user_quorum2="new-pw"\n    user_quorum="old-pw";' in log_in_new
    assert 'username="quorum2"\n    password="new-pw"' in log_in_new
    assert "old-pw" not in last
    for text in (first, accept_both, log_in_new, last):  # the client users' section never changes
        assert 'Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    user_clusterctl="c-pw"\n' \
               '    user_app="a-pw";\n};' in text


def test_a_client_user_rotation_is_one_stage_with_its_new_password_alone():
    assert stage_passwords(OLD, NEW_APP, "app") == [OLD, NEW_APP]
    before, after = stage_renders(OLD, NEW_APP, "app")
    assert 'user_app="a-new"' in after and "a-pw" not in after and 'user_quorum="old-pw"' in after


def test_before_the_new_password_is_made_only_the_first_stage_is_known():
    assert stage_renders(OLD, None, None) == [render_jaas(OLD)]


def test_no_two_servers_ever_refuse_each_other_whatever_order_a_roll_takes():
    for start in ({"a": 0, "b": 0, "c": 0, "d": 0}, {"a": 1, "b": 2, "c": 2, "d": 1}):
        every_state_on_the_way_accepted(start, quorum_accepts, QUORUM_DONE)


def test_two_stages_apart_would_refuse_which_is_why_rolls_move_the_lowest_only():
    assert not quorum_accepts(0, 2) and not quorum_accepts(3, 1)
    assert rolls_left({"a": 1, "b": 2}, QUORUM_DONE) == [{"a": 2}, {"a": 3, "b": 3}]
    assert rolls_left({"a": 0, "b": 1}, 1) == [{"a": 1}]


def test_the_stage_a_server_is_in_from_its_file_hash_and_marker():
    renders = stage_renders(OLD, NEW, None)
    assert [written_stage(sha256_text(t), renders) for t in renders] == [0, 1, 2, 3]
    assert written_stage(sha256_text("another"), renders) is None and written_stage(None, renders) is None
    assert server_stage(sha256_text(renders[2]), renders, marker_text(1, 2), restarted_since_marker=False) == 1
    assert server_stage(sha256_text(renders[2]), renders, marker_text(1, 2), restarted_since_marker=True) == 2


# -- the step's plan, from the nodes' facts, and the controller's files ---------------------------------------

@pytest.fixture
def controller(tmp_path, monkeypatch):
    from clusterctl.zk import sasl
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    inventory = sasl_inventory(quorum=True, client="optional", users=("app",))
    sasl.make_passwords(inventory)
    return inventory


def node_facts(inventory, jaas: str, marker: str | None = None, restarted: bool = True):
    from clusterctl.render.zoo_cfg import render_zoo_cfg
    from test_tls_logic import running_facts
    changed = "" if restarted else "5 /etc/zookeeper/.clusterctl-sasl\n"
    return running_facts(**{
        "zk.zoo_cfg": Fact(render_zoo_cfg(inventory.zookeeper, inventory, "node3", tls=TlsState(sasl=3)), 0),
        "zk.jaas": Fact(sha256_text(jaas) + "\n", 0), "zk.server": Fact(f"4242 600 systemd zookeeper\n{changed}", 0),
        "zk.sasl_marker": Fact(marker or "", 0 if marker else 1)})


HOSTS = ("node2", "node3", "node4")


def summaries(plan) -> list[str]:
    return [c.summary.split(":")[0] for c in plan.changes]


def test_the_plan_makes_no_password_and_shows_three_rolls_and_says_nothing_secret(controller):
    from clusterctl.steps.sasl_rotation import ZkSaslRotation
    from clusterctl.zk import sasl
    current = sasl.existing_passwords(controller)
    plans = ZkSaslRotation().decide(controller, {h: node_facts(controller, render_jaas(current)) for h in HOSTS})
    assert not sasl.rotation_under_way(controller), "deciding made no password"
    assert summaries(plans["node3"]) == ["roll 1 of 3", "roll 2 of 3", "roll 3 of 3"]
    first = " | ".join(c.summary for c in plans["node2"].changes)
    assert "make a new password for the quorum's SASL identity" in first and "at the end" in first
    assert current.quorum not in first


def test_a_stopped_rotation_goes_on_with_the_server_that_has_not_restarted_into_its_stage_first(controller):
    from clusterctl.steps.sasl_rotation import ZkSaslRotation
    from clusterctl.zk import sasl
    current = sasl.existing_passwords(controller)
    new = sasl.make_pending(controller, None, current)
    assert new.quorum_user == "quorum2" and sasl.pending_path(controller, None).stat().st_mode & 0o777 == 0o600
    renders = stage_renders(current, new, None)
    facts = {h: node_facts(controller, renders[2]) for h in ("node2", "node3")}
    facts["node4"] = node_facts(controller, renders[2], marker_text(1, 2), restarted=False)
    plans = ZkSaslRotation().decide(controller, facts)
    assert summaries(plans["node4"]) == ["roll 1 of 2", "roll 2 of 2"]
    assert summaries(plans["node3"]) == ["roll 2 of 2"]
    assert not any("make a new password" in c.summary for p in plans.values() for c in p.changes)


def test_a_server_whose_file_is_in_no_stage_or_whose_sasl_rolls_are_not_done_is_a_problem(controller):
    from clusterctl.render.zoo_cfg import render_zoo_cfg
    from clusterctl.steps.sasl_rotation import ZkSaslRotation
    from clusterctl.zk import sasl
    current = render_jaas(sasl.existing_passwords(controller))
    facts = {"node2": node_facts(controller, "changed by hand"), "node3": node_facts(controller, current),
             "node4": node_facts(controller, current)}
    facts["node4"]["zk.zoo_cfg"] = Fact(render_zoo_cfg(controller.zookeeper, controller, "node4",
                                                       tls=TlsState(sasl=2)), 0)
    plans = ZkSaslRotation().decide(controller, facts)
    assert "in no stage of this rotation" in plans["node2"].problem and "apply first" in plans["node2"].problem
    assert "run clusterctl apply first" in plans["node4"].problem
    assert not plans["node3"].problem


def test_a_finished_rotation_leaves_the_new_identity_and_password_kept_and_redacted(controller):
    from clusterctl.zk import sasl
    current = sasl.existing_passwords(controller)
    new = sasl.make_pending(controller, None, current)
    assert new.quorum in sasl.known_secrets(controller) and current.quorum in sasl.known_secrets(controller)
    sasl.finish_rotation(controller, None)
    assert sasl.existing_passwords(controller) == new and not sasl.rotation_under_way(controller)
    assert sasl.password_path(controller, None).stat().st_mode & 0o777 == 0o600
    again = sasl.make_pending(controller, None, new)
    assert again.quorum_user == "quorum" and again.quorum != current.quorum


def test_a_client_users_rotation_replaces_its_password_alone(controller):
    from clusterctl.zk import sasl
    current = sasl.existing_passwords(controller)
    new = sasl.make_pending(controller, "app", current)
    assert new.quorum == current.quorum and dict(new.users)["clusterctl"] == dict(current.users)["clusterctl"]
    assert dict(new.users)["app"] != dict(current.users)["app"]
    sasl.finish_rotation(controller, "app")
    assert sasl.user_password(controller, "app") == dict(new.users)["app"]


def test_apply_and_another_rotation_refuse_while_one_is_under_way(controller):
    from clusterctl.steps.sasl_rotation import ZkSaslRotation
    from clusterctl.steps.zookeeper import ZkInstall
    from clusterctl.zk import sasl
    sasl.make_pending(controller, None, sasl.existing_passwords(controller))
    from test_tls_logic import running_facts
    plans = ZkInstall().decide(controller, {"node3": running_facts()})
    assert "sasl rotate quorum to finish it first" in plans["node3"].problem
    assert "sasl rotate quorum to finish it first" in str(ZkSaslRotation("app").refusal(controller))
    assert ZkSaslRotation().refusal(controller) is None


def test_bad_input_is_refused_before_any_host(controller, tmp_path, monkeypatch):
    from clusterctl.steps.sasl_rotation import ZkSaslRotation
    assert "not a SASL client user" in str(ZkSaslRotation("nobody").refusal(controller))
    assert "SASL is off" in str(ZkSaslRotation().refusal(sasl_inventory()))
    assert "quorum is off" in str(ZkSaslRotation().refusal(sasl_inventory(client="optional", users=("app",))))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "elsewhere"))
    assert "not made yet" in str(ZkSaslRotation().refusal(controller))
