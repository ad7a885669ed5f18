"""Start-up: help and a command's import load no SSH, ZooKeeper client or drawing library, nor the lab.

Each case runs in a fresh interpreter and reads its sys.modules: what a
command imports is a property of the code, checked without timing it (the
times are in benchmarks/startup.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CONNECTING = {"fabric", "invoke", "paramiko", "cryptography", "nacl", "bcrypt"}  # a session that connects
ZOOKEEPER_CLIENT = {"kazoo"}  # a ZooKeeper session: the smoke test, a reconfig
DRAWING = {"rich", "pygments"}  # a table or a live grid on the terminal
HEAVY = CONNECTING | ZOOKEEPER_CLIENT | DRAWING

# Runs the command line in-process, its output thrown away; prints the modules it loaded.
RUN = """
import contextlib, io, json, sys
from clusterctl.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(sys.argv[1:])
print(json.dumps({"status": int(status), "modules": sorted(sys.modules)}))
"""
IMPORT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({"status": 0, "modules": sorted(sys.modules)}))
"""


def loaded(program: str, *args: str) -> set[str]:
    """The modules a fresh interpreter holds after ``program`` ran with ``args`` (it must exit 0)."""
    done = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["status"] == 0, done.stderr
    return set(answer["modules"])


def packages(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("argv", [
    ["--help"], ["zk", "--help"], ["plan", "--help"], ["zk", "status", "--help"], ["bootstrap", "--help"],
    ["lab", "--help"], ["artifacts", "--help"],
])
def test_help_loads_no_ssh_zookeeper_client_or_drawing_library(argv):
    assert packages(loaded(RUN, *argv)) & HEAVY == set()


@pytest.mark.parametrize("argv", [["zk", "--help"], ["plan", "--help"], ["zk", "status", "--help"]])
def test_a_command_of_clusterctl_itself_reads_no_entry_points(argv):
    assert "importlib.metadata" not in loaded(RUN, *argv)


def test_listing_the_lab_plugin_does_not_load_the_lab():
    modules = loaded(RUN, "--help")
    assert "clusterctl.lab.cli" in modules
    assert "clusterctl.lab.lab" not in modules


def test_what_connects_draws_or_opens_zookeeper_sessions_does_load_them():
    """The probe sees heavy imports where they belong, so the tests above cannot pass by seeing nothing."""
    found = packages(loaded(IMPORT, "clusterctl.core.connection", "clusterctl.zk.smoke", "rich.table"))
    assert {"fabric", "paramiko", "kazoo", "rich"} <= found


def test_help_lists_the_commands_without_importing_them():
    """--help takes each of clusterctl's own commands' summary from the COMMANDS table, not from its module."""
    from clusterctl.cli import COMMANDS
    modules = loaded(RUN, "--help")
    assert {target.split(":")[0] for target, _ in COMMANDS.values()} & modules == set()
    assert {"clusterctl.inventory", "clusterctl.core.session", "clusterctl.run"} & modules == set()


def test_each_command_summary_in_help_is_the_commands_own():
    import click

    from clusterctl.cli import COMMANDS, cli
    ctx = click.Context(cli)
    for name, (_, summary) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert click.Command(name, help=summary).get_short_help_str(1000) == command.get_short_help_str(1000), name
