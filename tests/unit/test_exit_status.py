"""Every way a command fails ends the process with a non-zero status, through the one mapping in errors.py.

Driven through the real entry point: ``main()`` in this process, and
``python -m clusterctl`` where the process's own exit status is the point.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from clusterctl.cli import cli, main
from clusterctl.errors import (ExitStatus, HostsFailed, NoQuorum, Refused, Terminated, UsageError,
                               exit_status_for)
from clusterctl.lab.artifacts import ArtifactError, ensure

PACKAGE = Path(__file__).resolve().parents[2] / "clusterctl"


def clusterctl(*arguments: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m clusterctl ARGUMENTS`` as users run it."""
    return subprocess.run([sys.executable, "-m", "clusterctl", *arguments], capture_output=True, text=True,
                          timeout=60, env=env, cwd=PACKAGE.parent)


def one_line(text: str) -> str:
    assert text.count("\n") == 1, text
    return text


# --- the artifacts command -----------------------------------------------------------------------------------

def test_artifacts_without_a_packaging_tool_exits_2_as_a_process(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = clusterctl("artifacts", "--only", "jdk-rpm", "--out", str(tmp_path / "out"),
                        env=dict(os.environ, PATH=str(empty)))
    assert result.returncode == ExitStatus.USAGE, result.stderr
    assert "not found" in one_line(result.stderr) and result.stdout == ""


def test_artifacts_with_a_missing_source_package_exits_2(monkeypatch, tmp_path, capsys):
    def missing(out_dir: Path) -> Path:
        raise ArtifactError("JDK not found at /x (install it: apt-get install -y openjdk-17-jdk-headless)")

    monkeypatch.setitem(ensure.BUILDERS, "jdk_rpm", missing)
    assert main(["artifacts", "--out", str(tmp_path), "--only", "jdk-rpm"]) == ExitStatus.USAGE
    assert one_line(capsys.readouterr().err) == \
        "clusterctl: JDK not found at /x (install it: apt-get install -y openjdk-17-jdk-headless)\n"


def test_artifacts_into_a_directory_that_cannot_be_made_exits_2_naming_out(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    assert main(["artifacts", "--out", str(tmp_path / "afile" / "out"), "--only", "zookeeper"]) == ExitStatus.USAGE
    assert "--out" in one_line(capsys.readouterr().err)


# --- the inventory ------------------------------------------------------------------------------------------

def test_a_missing_inventory_exits_2_as_a_process(tmp_path):
    result = clusterctl("plan", "-i", str(tmp_path / "nope.toml"))
    assert result.returncode == ExitStatus.USAGE
    assert "nope.toml" in one_line(result.stderr)


def test_an_inventory_that_is_not_toml_exits_2(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("[hosts\n")
    assert main(["zk", "status", "-i", str(tmp_path / "bad.toml")]) == ExitStatus.USAGE
    assert "bad.toml" in one_line(capsys.readouterr().err)


# --- the lab's commands -------------------------------------------------------------------------------------

@pytest.mark.parametrize("arguments, says", [
    (["up", "--subnet", "nonsense"], "bad lab subnet"),
    (["up", "--node-disk", "node3"], "is not NODE=SIZE"),
    (["status"], "no lab"),
    (["exec", "node1", "--", "true"], "no lab"),
    (["stop", "node1"], "no lab"),
    (["start", "node1"], "no lab"),
    (["reboot", "--all"], "no lab"),
    (["crash", "node1"], "no lab"),
    (["down", "--name", "Not A Name"], "bad lab name"),
])
def test_a_lab_command_that_fails_exits_2_before_anything_is_built(arguments, says, tmp_path, capsys):
    name = [] if "--name" in arguments else ["--name", "tlexit"]
    assert main(["lab", *arguments, *name, "--state-root", str(tmp_path)]) == ExitStatus.USAGE
    assert says in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_lab_command_that_fails_exits_2_as_a_process(tmp_path):
    result = clusterctl("lab", "status", "--name", "tlexit", "--state-root", str(tmp_path))
    assert result.returncode == ExitStatus.USAGE
    assert "no lab 'tlexit'" in one_line(result.stderr)


class FakeLab:
    def __init__(self, returncode: int):
        self.returncode = returncode

    def exec(self, node, argv, capture_output):
        return subprocess.CompletedProcess(argv, self.returncode)


@pytest.mark.parametrize("returncode, status", [(0, 0), (3, 3), (255, 255), (-9, 137)])
def test_lab_exec_exits_with_the_status_of_the_command_it_ran(returncode, status, monkeypatch, capsys):
    monkeypatch.setattr("clusterctl.lab.lab.Lab.load", lambda name, state_root: FakeLab(returncode))
    assert main(["lab", "exec", "node1", "--", "sh", "-c", "exit"]) == status
    assert capsys.readouterr().err == ""


# --- one path from an error to the exit status ---------------------------------------------------------------

@pytest.fixture
def command_that(monkeypatch):
    """Add a command to clusterctl that runs ``body`` (given the click context), for the length of a test."""

    def add(body) -> str:
        @click.command("failing")
        @click.pass_context
        def failing(ctx):
            return body(ctx)

        monkeypatch.setitem(cli.commands, "failing", failing)
        return "failing"

    return add


@pytest.mark.parametrize("code", [1, 2, 5])
def test_a_command_that_ends_with_ctx_exit_keeps_its_status(code, command_that):
    """click hands a ctx.exit(N) back as a return value without standalone mode; it must not become 0."""
    assert main([command_that(lambda ctx: ctx.exit(code))]) == code


def test_a_command_that_ends_with_ctx_exit_0_succeeds(command_that):
    assert main([command_that(lambda ctx: ctx.exit(0))]) == ExitStatus.OK


@pytest.mark.parametrize("error, status", [
    (UsageError("bad"), ExitStatus.USAGE),
    (ArtifactError("no jdk"), ExitStatus.USAGE),
    (Refused("unsafe"), ExitStatus.REFUSED),
    (NoQuorum("no quorum"), ExitStatus.NO_QUORUM),
    (HostsFailed(), ExitStatus.HOST_FAILURE),
    (HostsFailed(ExitStatus.INTERRUPTED), ExitStatus.INTERRUPTED),
    (click.UsageError("bad option"), ExitStatus.USAGE),
    (KeyboardInterrupt(), ExitStatus.INTERRUPTED),
    (click.exceptions.Abort(), ExitStatus.INTERRUPTED),
    (Terminated(), ExitStatus.TERMINATED),
    (RuntimeError("a bug"), ExitStatus.HOST_FAILURE),
])
def test_every_error_a_command_raises_exits_with_its_mapped_status(error, status, command_that, monkeypatch,
                                                                    capsys):
    monkeypatch.delenv("CLUSTERCTL_DEBUG", raising=False)

    def fail(ctx):
        raise error

    assert main([command_that(fail)]) == exit_status_for(error) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # One line (click starts a fresh line after ^C); click's usage errors give the usage first.
    assert err.strip().count("\n") <= (3 if isinstance(error, click.UsageError) else 0)


def test_no_command_ends_the_process_itself():
    """Only the entry point exits; commands raise, and main() maps what they raise (no ctx.exit, sys.exit)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in ("exit", "SystemExit", "Exit"):
                    offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == ["entry.py"]  # sys.exit(main())
