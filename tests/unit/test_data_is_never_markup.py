"""Data is never markup: text from the inventory, a host or an exception prints exactly as written.

Each case renders the real display objects into a rich console writing to a
string: clusterctl's own console (make_console) and rich's default one, which
reads markup and emoji codes, so that a renderable is safe in either.
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from clusterctl.cli import main
from clusterctl.cli.jdk import java_table
from clusterctl.cli.preflight import checks_table
from clusterctl.cli.status_view import show_status, status_table
from clusterctl.display import (LiveGrid, VerboseOutput, labelled, make_console, matrix_table, show_plan,
                                show_ssh_matrix)
from clusterctl.events import Event, State
from clusterctl.inventory import load_inventory
from clusterctl.plan import Change
from clusterctl.run import RunOptions, open_run
from clusterctl.steps.base import HostPlan
from clusterctl.steps.jdk import JavaCheck
from clusterctl.steps.preflight import Check, PreflightPlan
from clusterctl.zk.install import membership_notes
from clusterctl.zk.status import EnsembleStatus, ServerStatus

from test_cli import no_connections  # noqa: F401 (autouse: no host is contacted)
from test_inventory import BASE, zk_inventory

PACKAGE = Path(__file__).resolve().parents[2] / "clusterctl"

PAYLOADS = [
    "which [zookeeper.servers] does not list",
    "[bold]x[/bold] and [red]y[/]",
    "a closing [/] tag",
    "[link=http://example.com]a link[/link]",
    ":x: and :100: are emoji codes",
    "a trailing backslash \\",
]


def consoles() -> list[Console]:
    return [make_console(StringIO()), Console(file=StringIO(), width=400, color_system=None)]


def rendered(*renderables) -> list[str]:
    """What each console prints for ``renderables``, one text per console."""
    texts = []
    for console in consoles():
        console.width = 400
        for renderable in renderables:
            console.print(renderable)
        texts.append(console.file.getvalue())
    return texts


# --- notes -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", PAYLOADS)
def test_a_note_prints_as_written(data):
    for text in rendered(labelled("note:", "yellow", data)):
        assert text == f"note: {data}\n"


@pytest.mark.parametrize("data", PAYLOADS)
def test_an_inventory_warning_prints_as_written(data, tmp_path):
    where = tmp_path / data.replace("/", "|")
    where.mkdir()
    inventory = where / "cluster.toml"
    inventory.write_text(zk_inventory(where, "node2 = 1\nnode3 = 2"))  # 2 voters: a warning
    out = StringIO()
    with open_run(RunOptions(inventory=str(inventory), live=False, log=str(tmp_path / "run.log")), "test",
                  out=out, read_only=True):
        pass
    # Folded at the console's width where the tmp path is long (pytest-xdist adds popen-gwN/): read it unfolded.
    assert f"warning: {inventory}: zookeeper.servers: 2 voters" in " ".join(out.getvalue().split())


@pytest.mark.parametrize("data", PAYLOADS)
def test_remote_commands_and_output_under_verbose_print_as_written(data):
    for console in consoles():
        VerboseOutput(console)(Event("node1", "jdk", "command", command=f"echo '{data}'", exit_code=0,
                                     output=f"{data}\n"))
        assert console.file.getvalue() == f"node1 jdk $ echo '{data}' → 0\n{data}\n"


# --- host results ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", PAYLOADS)
def test_a_failed_hosts_reason_in_the_run_summary_prints_as_written(data, tmp_path):
    inventory = tmp_path / "cluster.toml"
    inventory.write_text(BASE)
    out = StringIO()
    with open_run(RunOptions(inventory=str(inventory), live=False, log=str(tmp_path / "run.log")), "test",
                  out=out) as run:
        run.session.fail("node2", "jdk", data)
        run.reporter.caveat("node2", "jdk", data)
    summary = [line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("node2  failed")]
    assert summary == [f"node2  failed  jdk: {data}; {data}"], out.getvalue()


def test_a_host_name_in_the_live_grid_prints_as_written():
    for console in consoles():
        grid = LiveGrid(console, ["[bold]node1[/bold]"])
        grid(Event("[bold]node1[/bold]", "[red]jdk[/]", "state", State.CHANGED))
        console.print(grid.render())
        assert "[bold]node1[/bold]" in console.file.getvalue() and "[red]jdk[/]" in console.file.getvalue()


@pytest.mark.parametrize("data", PAYLOADS)
def test_an_ssh_proof_failure_prints_as_written(data):
    matrix = SimpleNamespace(hosts=["node1", "node2"], results={"node1": {"node2": data}, "node2": {"node1": None}},
                             logins=2, failed_pairs=[("node1", "node2", data)])
    for console in consoles():
        show_ssh_matrix(console, matrix)
        assert console.file.getvalue().endswith(f"node1 → node2: {data}\n")


def test_host_names_in_the_ssh_matrix_print_as_written():
    for text in rendered(matrix_table(["[b]n1[/b]", "n2"], {"[b]n1[/b]": {"n2": None}, "n2": {"[b]n1[/b]": None}})):
        assert text.count("[b]n1[/b]") == 2


@pytest.mark.parametrize("data", PAYLOADS)
def test_what_java_says_prints_as_written(data):
    run = SimpleNamespace(inventory=SimpleNamespace(hosts={"node1": None, "node2": None}),
                          session=SimpleNamespace(failures={"node2": "failed"}))
    checks = {"node1": JavaCheck("/usr/java", f"/usr/java/{data}/bin/java", "17", data, ""),
              "node2": JavaCheck("/usr/java", "", data, "", "")}
    for text in rendered(java_table(run, checks)):
        assert f"/usr/java/{data}/bin/java" in text and text.count(data) == 3


@pytest.mark.parametrize("data", PAYLOADS)
def test_a_preflight_finding_prints_as_written(data):
    plans = {"node1": PreflightPlan(checks=[Check("disk", "fail", data, fix=data)])}
    for text in rendered(checks_table(plans)):
        assert f"FAIL    {data} (fix: {data})" in text


# --- plans -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", PAYLOADS)
def test_a_plan_line_prints_as_written(data):
    planned = {"zookeeper": {"node2": HostPlan(changes=[Change(data, diff=f"+{data}\n")], notes=[data])}}
    for console in consoles():
        show_plan(console, planned, not_applied={"network": data})
        lines = console.file.getvalue().splitlines()
        assert lines[0] == f"network: {data}"
        assert lines[2].split(maxsplit=2)[2].rstrip() == f"{data}; {data}"
    for console in consoles():
        show_plan(console, planned, diff=True)
        assert console.file.getvalue().splitlines()[0] == f"node2 zookeeper: {data}"


def test_the_membership_note_of_a_removed_server_prints_in_the_plan_as_written(tmp_path):
    (tmp_path / "cluster.toml").write_text(zk_inventory(tmp_path, "node2 = 1\nnode4 = 3"))
    spec = load_inventory(tmp_path / "cluster.toml").zookeeper
    notes = membership_notes(spec, "node2", {1: ("node2", "participant"), 2: ("node3", "participant"),
                                            3: ("node4", "participant")})
    assert notes == ["the running ensemble has server.2 (node3), which [zookeeper.servers] does not list: "
                     "clusterctl zk remove node3"]
    for console in consoles():
        show_plan(console, {"zookeeper": {"node2": HostPlan(notes=notes)}})
        assert notes[0] in console.file.getvalue()


# --- the status table ------------------------------------------------------------------------------------------

def test_the_status_table_after_zk_remove_shows_the_note_as_written():
    """The issue: '[zookeeper.servers]' vanished from node2's row after 'zk remove node3'."""
    note = ("the running ensemble has server.2 (node3), which [zookeeper.servers] does not list: "
            "clusterctl zk remove node3")
    status = EnsembleStatus([ServerStatus("node2", 1, False, "leader", notes=(note,)),
                             ServerStatus("node4", 3, False, "follower")])
    for console in consoles():
        show_status(console, status)
        assert note in console.file.getvalue()


@pytest.mark.parametrize("data", PAYLOADS)
def test_a_servers_note_and_error_in_the_status_table_print_as_written(data):
    status = EnsembleStatus([ServerStatus(data, 1, False, "leader", notes=(data,)),
                             ServerStatus("node3", 2, False, "down", error=data)])
    for text in rendered(status_table(status)):
        node2, node3 = text.splitlines()[1:]
        assert node2.startswith(data) and node2.rstrip().endswith(data)
        assert node3.rstrip().endswith(data)


# --- errors ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", PAYLOADS)
def test_an_error_message_prints_as_written(data, tmp_path, capsys):
    missing = tmp_path / data.replace("/", "|") / "cluster.toml"
    assert main(["plan", "-i", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_no_module_writes_rich_markup():
    """Styles come from Text; a markup tag in a string would be printed as written by clusterctl's consoles."""
    tag = re.compile(r"\[/?(bold|dim|italic|red|green|yellow|cyan|magenta|blue)\b[^\]]*\]|\[/\]")
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if tag.search(p.read_text()) or "rich.markup" in p.read_text()]
    assert offenders == []
