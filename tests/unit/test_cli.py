"""The command line without hosts: options before or after the command, bad input as one line and exit 2."""

from __future__ import annotations

import pytest

from clusterctl.cli import main
from clusterctl.errors import ExitStatus

INVENTORY = '[cluster]\nname = "c"\n[hosts.node1]\naddress = "10.0.0.1"\n'


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "cluster.toml"
    path.write_text(INVENTORY)
    return path


@pytest.fixture(autouse=True)
def no_connections(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a host was contacted")
    monkeypatch.setattr("clusterctl.core.connection.open_connection", refuse)  # where sessions connect


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("argv", [
    ["plan", "--hosts", "node9"],
    ["--hosts", "node9", "plan"],
    ["zk", "status"],  # no [zookeeper] section
    ["bootstrap", "--only", "nonsense"],
])
def test_bad_input_is_one_line_exit_2_and_no_host_is_contacted(argv, inventory, capsys):
    assert main([*argv, "-i", str(inventory)]) == ExitStatus.USAGE
    one_line(capsys)


def test_a_log_path_under_a_file_is_refused_before_anything(inventory, tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    assert main(["plan", "-i", str(inventory), "--log", str(tmp_path / "afile" / "run.log")]) == ExitStatus.USAGE
    assert "is a file, not a directory" in one_line(capsys)


def test_a_missing_inventory_names_the_option_and_the_fix(tmp_path, capsys):
    assert main(["plan", "-i", str(tmp_path / "nope.toml")]) == ExitStatus.USAGE
    assert "file not found" in one_line(capsys)


def test_the_inventory_option_goes_before_the_command_too(tmp_path, capsys):
    missing = str(tmp_path / "nope.toml")
    assert main(["-i", missing, "zk", "status"]) == ExitStatus.USAGE
    assert "nope.toml" in one_line(capsys)


def test_an_option_after_the_command_wins_over_the_one_before(tmp_path, inventory, capsys):
    assert main(["-i", str(tmp_path / "nope.toml"), "plan", "-i", str(inventory), "--hosts", "node9"]) == ExitStatus.USAGE
    assert "node9" in one_line(capsys), "the inventory after the command was the one read"


def test_help_lists_the_lab_and_artifacts_plugins(capsys):
    assert main(["--help"]) == ExitStatus.OK
    out = capsys.readouterr().out
    assert "lab" in out and "artifacts" in out and "bootstrap" in out


def test_connections_never_forward_the_agent():
    from clusterctl.core.connection import _connection
    conn = _connection("10.0.0.1", "deploy", 22, None, None, None)
    assert conn.forward_agent is False


def test_every_state_has_a_look_in_the_live_grid():
    from clusterctl.display import STYLES
    from clusterctl.events import State
    assert set(STYLES) == set(State)
