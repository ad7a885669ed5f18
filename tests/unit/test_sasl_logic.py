"""SASL as data: the quorum SASL phases in the phase machine (cases: states in, rolls out), the zoo.cfg and
JAAS text each renders, the passwords kept on the controller, the inventory's [sasl]."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from clusterctl.errors import InventoryError
from clusterctl.inventory import SaslSpec, TlsSpec, load_inventory
from clusterctl.render.jaas import SaslPasswords, client_sasl_lines, quorum_sasl_lines, render_jaas
from clusterctl.render.zk_service import render_dropin
from clusterctl.render.zoo_cfg import render_java_env, render_zoo_cfg
from clusterctl.tls.phases import (TlsState, lowest, marker_text, rolls_left, running_state, target_state,
                                   written_state)
from test_tls_logic import BASE

S = TlsState  # (quorum TLS phase, TLS client port, quorum SASL phase)

# current (host → state), target, the rolls that follow (each: host → state it moves to)
ROLL_CASES = {
    "sasl on: enable, learners require, servers require": (
        {"a": S(), "b": S()}, target_state(False, "off", True),
        [{"a": S(sasl=1), "b": S(sasl=1)}, {"a": S(sasl=2), "b": S(sasl=2)}, {"a": S(sasl=3), "b": S(sasl=3)}]),
    "sasl off: the same phases backwards": (
        {"a": S(sasl=3), "b": S(sasl=3)}, target_state(False, "off", False),
        [{"a": S(sasl=2), "b": S(sasl=2)}, {"a": S(sasl=1), "b": S(sasl=1)}, {"a": S(), "b": S()}]),
    "interrupted: the servers behind move first": (
        {"a": S(sasl=2), "b": S(sasl=1), "c": S(sasl=1)}, target_state(False, "off", True),
        [{"b": S(sasl=2), "c": S(sasl=2)}, {"a": S(sasl=3), "b": S(sasl=3), "c": S(sasl=3)}]),
    "both on: TLS phases first, then SASL, the client port in the first roll": (
        {"a": S()}, target_state(True, "optional", True),
        [{"a": S(1, True)}, {"a": S(2, True)}, {"a": S(3, True)}, {"a": S(3, True, 1)}, {"a": S(3, True, 2)},
         {"a": S(3, True, 3)}]),
    "sasl added to a TLS ensemble: three rolls": (
        {"a": S(3, True), "b": S(3, True)}, target_state(True, "optional", True),
        [{"a": S(3, True, 1), "b": S(3, True, 1)}, {"a": S(3, True, 2), "b": S(3, True, 2)},
         {"a": S(3, True, 3), "b": S(3, True, 3)}]),
    "nothing to do": ({"a": S(sasl=3)}, target_state(False, "off", True), []),
}


@pytest.mark.parametrize("current, target, rolls", ROLL_CASES.values(), ids=ROLL_CASES.keys())
def test_the_rolls_from_each_state(current, target, rolls):
    assert rolls_left(current, target) == rolls


@pytest.mark.parametrize("current, target, rolls", ROLL_CASES.values(), ids=ROLL_CASES.keys())
def test_no_roll_leaves_servers_two_phases_apart_or_moves_tls_and_sasl_at_once(current, target, rolls):
    state = dict(current)
    for roll in rolls:
        before = dict(state)
        state.update(roll)
        for kind in ("quorum", "sasl"):
            phases = [getattr(s, kind) for s in state.values()]
            assert max(phases) - min(phases) <= 1
        moved = {kind for h in roll for kind in ("quorum", "sasl") if getattr(roll[h], kind) != getattr(before[h], kind)}
        assert len(moved) <= 1, roll


@pytest.mark.parametrize("settings, phase", [
    ("", 0),
    ("quorum.auth.enableSasl=true\n", 1),
    ("quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n", 2),
    ("quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\nquorum.auth.serverRequireSasl=true\n", 3),
    ("quorum.auth.learnerRequireSasl=true\n", 0),  # requiring without enabling: ZooKeeper ignores it
])
def test_the_sasl_phase_a_zoo_cfg_turns_on(settings, phase):
    assert written_state("tickTime=2000\nsslQuorum=true\n" + settings) == S(3, False, phase)


def test_each_sasl_phase_renders_its_keys_and_reads_back_as_itself():
    assert quorum_sasl_lines(0, 3) == []
    for phase in (1, 2, 3):
        lines = quorum_sasl_lines(phase, 3)
        assert written_state("\n".join(lines)).sasl == phase
        settings = dict(line.split("=", 1) for line in lines)
        assert settings["quorum.auth.learner.saslLoginContext"] == "QuorumLearner"
        assert settings["quorum.auth.server.saslLoginContext"] == "QuorumServer"
        assert settings["quorum.cnxn.threads.size"] == "20"
    assert "quorum.cnxn.threads.size=30" in quorum_sasl_lines(1, 15)


def test_markers_keep_the_sasl_phase_and_old_markers_read_as_none():
    marker = marker_text(S(3, True, 1), S(3, True, 2))
    assert running_state(S(3, True, 2), marker, restarted_since_marker=False) == S(3, True, 1)
    assert running_state(S(2), "from quorum=1 client=off to quorum=2 client=off\n", False) == S(1)


def test_a_joiner_starts_in_the_lowest_phase_of_each_kind():
    assert lowest([S(3, True, 1), S(2, True, 3)]) == S(2, True, 1)


def test_the_client_settings():
    assert client_sasl_lines(SaslSpec()) == []
    assert client_sasl_lines(SaslSpec(client="optional")) == [
        "authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"]
    required = client_sasl_lines(SaslSpec(client="required"))
    assert "enforce.auth.enabled=true" in required and "enforce.auth.schemes=sasl" in required


def test_the_jaas_file_has_the_quorum_sections_and_a_server_section_for_client_users():
    text = render_jaas(SaslPasswords("q-pw", (("clusterctl", "c-pw"), ("app", "a-pw"))))
    assert 'QuorumServer {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    user_quorum="q-pw";\n};' in text
    assert 'QuorumLearner {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    username="quorum"\n' \
           '    password="q-pw";\n};' in text
    assert 'Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    user_clusterctl="c-pw"\n' \
           '    user_app="a-pw";\n};' in text
    assert "Server {" not in render_jaas(SaslPasswords("q-pw")).replace("QuorumServer {", "")


def sasl_inventory(tls: TlsSpec = TlsSpec(), **sasl):
    from test_zk_install import INV
    return replace(INV, zookeeper=replace(INV.zookeeper, tls=tls, sasl=SaslSpec(**sasl)))


def test_the_jvm_reads_the_jaas_file_by_its_path_alone_on_both_start_paths():
    spec = sasl_inventory(quorum=True).zookeeper
    option = "-Djava.security.auth.login.config=/etc/zookeeper/jaas.conf"
    assert option in render_dropin(spec, "/j", jaas=True) and option not in render_dropin(spec, "/j")
    assert option in render_java_env(spec, "/j", supervised=False, super_digest="d", jaas=True)


def test_digest_over_tls_renders_both():
    inventory = sasl_inventory(TlsSpec(quorum=True, client="optional"), quorum=True, client="required", users=("app",))
    text = render_zoo_cfg(inventory.zookeeper, inventory, "node3", tls=S(3, True, 3))
    settings = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["sslQuorum"] == "true" and settings["quorum.auth.serverRequireSasl"] == "true"
    assert settings["secureClientPort"] and settings["enforce.auth.schemes"] == "sasl"
    assert written_state(text) == S(3, True, 3)


def test_install_writes_the_jaas_file_by_its_hash_and_never_shows_it():
    from clusterctl.core.facts import Fact
    from clusterctl.zk.install import PENDING_SECRET, ServerState, decide, file_owner, sha256_text
    from test_zk_install import RELEASE, facts
    inventory = sasl_inventory(quorum=True)
    jaas = render_jaas(SaslPasswords("q-secret"))
    state = ServerState.from_facts(facts(), inventory.zookeeper)
    plan = decide(inventory, "node3", state, RELEASE, digest="c3VwZXI=", jaas=jaas)
    assert plan.jaas == jaas and "/etc/zookeeper/jaas.conf (SASL passwords)" in plan.config_changes
    shown = " ".join(c.summary + (c.diff or "") for c in plan.changes(inventory.zookeeper))
    assert "q-secret" not in shown and "write /etc/zookeeper/jaas.conf (SASL passwords" in shown
    assert file_owner(inventory.zookeeper, "/etc/zookeeper/jaas.conf") == ("zookeeper", "zookeeper", "600")
    same = ServerState.from_facts(facts(**{"zk.jaas": Fact(sha256_text(jaas) + "\n", 0)}), inventory.zookeeper)
    assert decide(inventory, "node3", same, RELEASE, digest="c3VwZXI=", jaas=jaas).jaas is None
    assert decide(inventory, "node3", same, RELEASE, digest="c3VwZXI=", jaas=PENDING_SECRET).jaas == PENDING_SECRET


def test_passwords_are_made_by_an_install_only_kept_600_and_redacted(tmp_path, monkeypatch):
    from clusterctl.zk import sasl
    from clusterctl.zk.bundle import redact
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    inventory = sasl_inventory(quorum=True, client="required", users=("app",))
    assert sasl.wanted_jaas(inventory, needed=True) == sasl.PENDING and not (tmp_path / "clusterctl").exists()
    made = sasl.make_passwords(inventory)
    assert [u for u, _ in made.users] == ["clusterctl", "app"]
    for path in (tmp_path / "clusterctl" / "secrets").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
    assert sasl.make_passwords(inventory) == made, "made once"
    assert sasl.user_password(inventory, "app") == dict(made.users)["app"]
    assert sasl.sasl_options(inventory)["sasl_options"]["username"] == "clusterctl"
    with pytest.raises(Exception, match="not a SASL client user"):
        sasl.user_password(inventory, "nobody")
    jaas = sasl.wanted_jaas(inventory, needed=True)
    assert all(s not in redact(jaas, sasl.known_secrets(inventory)) for s in (made.quorum, *dict(made.users).values()))
    assert sasl.wanted_jaas(inventory, needed=False) is None
    assert sasl.sasl_options(sasl_inventory(quorum=True, client="optional")) == {}


@pytest.mark.parametrize("section, key, fix", [
    ('[sasl]\nquorum = "yes"\n', "sasl.quorum", "write quorum = true"),
    ('[sasl]\nclient = "always"\n', "sasl.client", 'write client = "off"'),
    ('[sasl]\nuser = ["app"]\n', "sasl.user", "did you mean 'users'?"),
    ('[sasl]\nusers = "app"\n', "sasl.users", 'write users = ["app"]'),
    ('[sasl]\nusers = ["app x"]\n', "sasl.users[0]", 'write users = ["app"]'),
    ('[sasl]\nusers = ["super"]\n', "sasl.users[0]", "another name"),
    ('[sasl]\nusers = ["quorum"]\n', "sasl.users[0]", "another name"),  # sasl rotate quorum names the quorum's
    ('[sasl]\nusers = ["app", "app"]\n', "sasl.users[1]", "list each user once"),
    ('[sasl]\nclient = "off"\nusers = ["app"]\n', "sasl.client", 'client = "optional"'),
    ('[sasl.users]\napp = { password = "x" }\n', "sasl.users.app", "write app = {}"),
])
def test_bad_sasl_settings_are_one_line_naming_the_key_and_the_fix(tmp_path: Path, section, key, fix):
    path = tmp_path / "inv.toml"
    path.write_text(BASE + section)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert f": {key}:" in message and fix in message and "\n" not in message, message


def test_sasl_defaults_to_off_and_users_as_a_list_or_a_table(tmp_path: Path):
    path = tmp_path / "inv.toml"
    path.write_text(BASE)
    assert load_inventory(path).zookeeper.sasl == SaslSpec()
    path.write_text(BASE + '[sasl]\nquorum = true\nusers = ["app", "reader"]\n')
    assert load_inventory(path).zookeeper.sasl == SaslSpec(quorum=True, client="optional", users=("app", "reader"))
    path.write_text(BASE + '[sasl]\nclient = "required"\n[sasl.users]\napp = {}\n')
    assert load_inventory(path).zookeeper.sasl == SaslSpec(client="required", users=("app",))


def test_a_server_the_first_sasl_roll_restarts_is_not_restarted_before_it_as_well():
    from clusterctl.core.facts import Fact
    from clusterctl.steps.zookeeper import ZkRoll
    from test_tls_logic import running_facts
    stale = Fact("4242 600 systemd zookeeper\n5 /etc/zookeeper/.clusterctl-written\n", 0)
    gathered = {h: running_facts(**{"zk.server": stale}) for h in ("node2", "node3")}
    inventory = sasl_inventory(quorum=True)
    folded = ZkRoll("stale", security_rolls_follow=True).decide(inventory, gathered)
    assert all(not p.changes and "restarted by the first TLS/SASL roll" in p.notes[0] for p in folded.values())
    alone = ZkRoll("stale").decide(inventory, gathered)  # tls renew's roll: no security roll follows it
    assert all(p.changes for p in alone.values())
    nothing_follows = ZkRoll("stale", security_rolls_follow=True).decide(sasl_inventory(), gathered)
    assert all(p.changes for p in nothing_follows.values())


def test_once_sasl_is_off_everywhere_the_passwords_leave_the_node_and_the_jvm_no_longer_reads_the_file():
    from clusterctl.core.facts import Fact
    from clusterctl.render.jaas import NO_SASL
    from clusterctl.zk.install import ServerState, decide, sha256_text
    from test_zk_install import RELEASE, facts
    inventory = sasl_inventory()
    held = ServerState.from_facts(facts(**{"zk.jaas": Fact(sha256_text("user_quorum=\"x\"") + "\n", 0)}),
                                  inventory.zookeeper)
    plan = decide(inventory, "node3", held, RELEASE, digest="c3VwZXI=", jaas=None)
    assert plan.jaas == NO_SASL and "password" not in NO_SASL.replace("no password", "")
    assert any(c.summary.startswith("empty /etc/zookeeper/jaas.conf") for c in plan.changes(inventory.zookeeper))
    assert all("login.config" not in wanted for _, wanted in plan.files.values())
    emptied = ServerState.from_facts(facts(**{"zk.jaas": Fact(sha256_text(NO_SASL) + "\n", 0)}), inventory.zookeeper)
    assert decide(inventory, "node3", emptied, RELEASE, digest="c3VwZXI=", jaas=None).jaas is None
