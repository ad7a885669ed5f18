"""The lab's inventory is the project's inventory contract, filled in with the lab's nodes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from clusterctl.lab import LabUser, SudoRights, render_lab_inventory

STATE = Path("/run/clusterctl/lab/demo")
ADDRESSES = {"node1": "10.231.0.11", "node2": "10.231.0.12", "node3": "10.231.0.13", "node4": "10.231.0.14"}


def render(**overrides) -> str:
    arguments = dict(name="demo", addresses=ADDRESSES, identity=STATE / "id_ed25519",
                     known_hosts=STATE / "known_hosts", password_file=STATE / "password")
    return render_lab_inventory(**{**arguments, **overrides})


def test_cluster_table_logs_in_as_root_with_the_lab_key_and_known_hosts():
    assert tomllib.loads(render())["cluster"] == {
        "name": "demo",
        "user": "root",
        "port": 22,
        "identity": "/run/clusterctl/lab/demo/id_ed25519",
        "known_hosts": "/run/clusterctl/lab/demo/known_hosts",
    }


def test_every_node_is_a_host_with_its_address_in_node_order():
    hosts = tomllib.loads(render())["hosts"]
    assert list(hosts) == ["node1", "node2", "node3", "node4"]
    assert {name: table["address"] for name, table in hosts.items()} == ADDRESSES


def test_ssh_trust_covers_every_node_with_ed25519_keys():
    assert tomllib.loads(render())["ssh_trust"] == {"key_type": "ed25519",
                                                     "hosts": ["node1", "node2", "node3", "node4"]}


def test_matches_the_contract_layout_exactly():
    body = render(addresses={"node1": "10.231.0.11", "node2": "10.231.0.12"})
    tables = body[body.index("[cluster]"):]
    assert tables == (
        '[cluster]\n'
        'name = "demo"\n'
        'user = "root"\n'
        'port = 22\n'
        'identity = "/run/clusterctl/lab/demo/id_ed25519"\n'
        'known_hosts = "/run/clusterctl/lab/demo/known_hosts"\n'
        '\n'
        '[hosts.node1]\n'
        'address = "10.231.0.11"\n'
        '[hosts.node2]\n'
        'address = "10.231.0.12"\n'
        '\n'
        '[ssh_trust]\n'
        'key_type = "ed25519"\n'
        'hosts = ["node1", "node2"]\n'
    )


def test_header_names_the_lab_and_the_password_file_but_not_the_password():
    header = render().split("[cluster]")[0]
    assert all(line.startswith("#") or not line for line in header.splitlines())
    assert '"demo"' in header
    assert 'export CLUSTERCTL_SSH_PASSWORD="$(cat /run/clusterctl/lab/demo/password)"' in header


def test_header_says_when_the_lab_key_is_not_authorized_yet():
    assert "not yet authorized" in render(lab_key_authorized=False)
    assert "not yet authorized" not in render()


def test_extra_sections_are_appended_verbatim():
    extra = '[zookeeper]\npackage = "artifacts/zk.tar.gz"\nservers = ["node2", "node3"]\n'
    text = render(extra=extra)
    assert text.endswith("\n" + extra)
    parsed = tomllib.loads(text)
    assert parsed["zookeeper"]["servers"] == ["node2", "node3"]
    assert parsed["ssh_trust"]["hosts"] == ["node1", "node2", "node3", "node4"]


def test_without_extra_the_text_ends_after_ssh_trust():
    assert render().endswith('hosts = ["node1", "node2", "node3", "node4"]\n')


def test_paths_with_quotes_and_backslashes_stay_valid_toml():
    odd = Path('/srv/lab "x"\\y/id_ed25519')
    assert tomllib.loads(render(identity=odd))["cluster"]["identity"] == str(odd)


def test_a_single_node_lab_is_still_a_full_inventory():
    parsed = tomllib.loads(render(addresses={"node1": "10.231.0.11"}))
    assert parsed["hosts"] == {"node1": {"address": "10.231.0.11"}}
    assert parsed["ssh_trust"]["hosts"] == ["node1"]


def test_the_projects_inventory_loader_accepts_it(tmp_path):
    from clusterctl.inventory import load_inventory

    (tmp_path / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")  # the loader reads its header
    path = tmp_path / "inventory.toml"
    path.write_text(render(identity=tmp_path / "id_ed25519", known_hosts=tmp_path / "known_hosts"))
    inventory = load_inventory(path)
    assert [(host.name, host.address, host.user, host.port) for host in inventory.hosts.values()] == [
        (name, address, "root", 22) for name, address in ADDRESSES.items()]
    assert inventory.cluster.identity == tmp_path / "id_ed25519"
    assert inventory.ssh_trust.hosts == tuple(ADDRESSES)


def render_with_user(sudo: SudoRights = SudoRights.SUDO, **overrides) -> str:
    return render(user=LabUser("deploy", sudo), user_password_file=STATE / "user-password", **overrides)


def test_a_lab_with_a_login_user_logs_in_as_that_user_with_its_password():
    text = render_with_user()
    assert tomllib.loads(text)["cluster"]["user"] == "deploy"
    header = text.split("[cluster]")[0]
    assert 'export CLUSTERCTL_SSH_PASSWORD="$(cat /run/clusterctl/lab/demo/user-password)"' in header
    assert "CLUSTERCTL_SSH_PASSWORD=\"$(cat /run/clusterctl/lab/demo/password)\"" not in header


def test_the_header_says_how_to_give_sudo_its_password_when_it_asks_for_one():
    header = render_with_user().split("[cluster]")[0]
    assert 'export CLUSTERCTL_BECOME_PASSWORD="$(cat /run/clusterctl/lab/demo/user-password)"' in header
    for sudo in (SudoRights.NOPASSWD, SudoRights.NOSUDO):
        assert "CLUSTERCTL_BECOME_PASSWORD" not in render_with_user(sudo)
    assert "without a password" in render_with_user(SudoRights.NOPASSWD)
    assert "deploy may not use sudo" in render_with_user(SudoRights.NOSUDO)


def test_the_header_says_root_logs_in_over_ssh_on_no_node():
    assert "# Root logs in over SSH on no node; its password (for su) is in /run/clusterctl/lab/demo/password." in (
        render_with_user())


def test_a_lab_with_a_bastion_jumps_through_it():
    text = render_with_user(jump="deploy@10.231.1.2")
    assert tomllib.loads(text)["cluster"]["jump"] == "deploy@10.231.1.2"
    assert "only through the bastion, 10.231.1.2" in text.split("[cluster]")[0]
    assert "jump" not in tomllib.loads(render())["cluster"]


def test_the_exact_layout_with_a_login_user_and_a_bastion():
    text = render_with_user(addresses={"node1": "10.231.0.11"}, jump="deploy@10.231.1.2")
    assert text == (
        "# Written by 'clusterctl lab up' for lab \"demo\".\n"
        "# deploy's lab password is in /run/clusterctl/lab/demo/user-password; to log in with it:\n"
        '#   export CLUSTERCTL_SSH_PASSWORD="$(cat /run/clusterctl/lab/demo/user-password)"\n'
        "# sudo asks deploy for that same password; to give it:\n"
        '#   export CLUSTERCTL_BECOME_PASSWORD="$(cat /run/clusterctl/lab/demo/user-password)"\n'
        "# Root logs in over SSH on no node; its password (for su) is in /run/clusterctl/lab/demo/password.\n"
        "# The nodes let SSH in only through the bastion, 10.231.1.2 (jump below).\n"
        "\n"
        "[cluster]\n"
        'name = "demo"\n'
        'user = "deploy"\n'
        "port = 22\n"
        'identity = "/run/clusterctl/lab/demo/id_ed25519"\n'
        'known_hosts = "/run/clusterctl/lab/demo/known_hosts"\n'
        'jump = "deploy@10.231.1.2"\n'
        "\n"
        "[hosts.node1]\n"
        'address = "10.231.0.11"\n'
        "\n"
        "[ssh_trust]\n"
        'key_type = "ed25519"\n'
        'hosts = ["node1"]\n'
    )


def test_the_projects_inventory_loader_takes_the_login_user_sudo_and_the_jump(tmp_path):
    from clusterctl.inventory import Jump, load_inventory

    (tmp_path / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    path = tmp_path / "inventory.toml"
    path.write_text(render_with_user(identity=tmp_path / "id_ed25519", known_hosts=tmp_path / "known_hosts",
                                     jump="deploy@10.231.1.2"))
    inventory = load_inventory(path)
    assert {(host.user, host.become, host.jump) for host in inventory.hosts.values()} == {
        ("deploy", "sudo", (Jump("10.231.1.2", "deploy"),))}
