"""Who may log in to a lab machine, from where, and what sudo lets the login user do: rendered from plain values."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from clusterctl.lab import LabError, LabUser, SudoRights
from clusterctl.lab.cli import lab_group
from clusterctl.lab.lab_user import check_user_is_new
from clusterctl.lab.node_files import render_sshd_config, render_sudoers
from clusterctl.lab.node_process import FIRST_BOOT_SCRIPT, FirstBoot


def settings(config: str) -> dict[str, str]:
    """sshd_config's keywords and values, comments and host keys left out."""
    lines = [line.split(None, 1) for line in config.splitlines()
             if line and not line.startswith(("#", "HostKey "))]
    # sshd takes the first value of a keyword and ignores the rest: a second one would be a silent mistake.
    assert len({keyword for keyword, _ in lines}) == len(lines), "a keyword is set twice"
    return dict(lines)


def test_a_login_user_is_a_name_with_sudo_rights_that_default_to_sudo():
    assert LabUser.parse("deploy") == LabUser("deploy", SudoRights.SUDO)
    assert LabUser.parse("deploy:nopasswd") == LabUser("deploy", SudoRights.NOPASSWD)
    assert LabUser.parse("ops_2:nosudo") == LabUser("ops_2", SudoRights.NOSUDO)
    assert str(LabUser.parse("deploy")) == "deploy:sudo"


@pytest.mark.parametrize("text, error", [
    ("Deploy", "bad lab user 'Deploy'"), ("", "bad lab user ''"), ("2deploy", "bad lab user"),
    ("a" * 33, "bad lab user"), ("deploy$", "bad lab user"), ("root", "must not be root"),
    ("deploy:all", "unknown sudo rights 'all' for lab user deploy: choose one of sudo, nopasswd, nosudo"),
    ("deploy:", "unknown sudo rights ''"),
])
def test_a_bad_login_user_is_refused_saying_what_is_allowed(text, error):
    with pytest.raises(LabError, match=error.replace("(", r"\(").replace("$", r"\$")):
        LabUser.parse(text)


def test_a_user_or_group_this_machine_has_is_refused_as_the_nodes_inherit_it(tmp_path):
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/bash\n")
    (tmp_path / "group").write_text("root:x:0:\nops:x:1000:\ndeployers:x:1001:\nstaff:x:50:\n")
    check_user_is_new(LabUser("deploy"), etc=tmp_path)
    with pytest.raises(LabError, match="a user named ops exists on this machine"):
        check_user_is_new(LabUser("ops"), etc=tmp_path)
    with pytest.raises(LabError, match="a group named staff exists"):
        check_user_is_new(LabUser("staff"), etc=tmp_path)


def test_sudo_rights_with_a_password_are_all_commands_but_no_nopasswd():
    assert render_sudoers(LabUser("deploy")).splitlines()[1:] == ["deploy ALL=(ALL:ALL) ALL"]


def test_nopasswd_rights_are_all_commands_without_a_password():
    assert render_sudoers(LabUser("deploy", SudoRights.NOPASSWD)).splitlines()[1:] == [
        "deploy ALL=(ALL:ALL) NOPASSWD: ALL"]


def test_nosudo_writes_no_drop_in_at_all():
    assert render_sudoers(LabUser("deploy", SudoRights.NOSUDO)) is None


@pytest.mark.skipif(shutil.which("visudo", path="/usr/sbin:/usr/bin") is None, reason="sudo is not installed")
@pytest.mark.parametrize("rights", [SudoRights.SUDO, SudoRights.NOPASSWD])
def test_the_sudoers_drop_in_passes_visudo(tmp_path, rights):
    drop_in = tmp_path / "clusterctl-lab"
    drop_in.write_text(render_sudoers(LabUser("deploy", rights)))
    checked = subprocess.run([shutil.which("visudo", path="/usr/sbin:/usr/bin"), "-c", "-q", "-f", str(drop_in)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr + checked.stdout


def test_a_node_of_a_lab_without_a_login_user_lets_root_in_from_anywhere():
    config = settings(render_sshd_config())
    assert config["PermitRootLogin"] == "yes"
    assert "DenyUsers" not in config and "AllowTcpForwarding" not in config
    assert (config["PubkeyAuthentication"], config["PasswordAuthentication"]) == ("yes", "yes")


def test_a_node_of_a_lab_with_a_login_user_lets_root_in_nowhere():
    assert settings(render_sshd_config(root_login=False))["PermitRootLogin"] == "no"


def test_a_node_behind_a_bastion_refuses_everyone_from_the_controllers_address():
    config = settings(render_sshd_config(root_login=False, refused_client="10.231.146.1"))
    assert config["DenyUsers"] == "*@10.231.146.1"


def test_the_bastion_forwards_tcp_for_proxyjump():
    config = settings(render_sshd_config(root_login=True, tcp_forwarding=True))
    assert config["AllowTcpForwarding"] == "yes" and config["PermitRootLogin"] == "yes"


def test_the_first_boot_sets_roots_password_and_perhaps_adds_the_login_user(tmp_path):
    assert FirstBoot(tmp_path / "password").argv() == [str(FIRST_BOOT_SCRIPT), str(tmp_path / "password")]
    with_user = FirstBoot(tmp_path / "password", "deploy", tmp_path / "user-password", tmp_path / "id.pub")
    assert with_user.argv()[1:] == [str(tmp_path / "password"), "deploy", str(tmp_path / "user-password"),
                                    str(tmp_path / "id.pub")]
    without_key = FirstBoot(tmp_path / "password", "deploy", tmp_path / "user-password")
    assert without_key.argv()[-1] == "-"


def test_a_bad_user_on_the_command_line_is_a_usage_error_before_anything_is_built():
    result = CliRunner().invoke(lab_group, ["up", "--name", "tuunit", "--user", "deploy:everything"])
    assert result.exit_code == 2 and "unknown sudo rights 'everything'" in result.output
