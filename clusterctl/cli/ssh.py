"""clusterctl ssh-trust and clusterctl hosts."""

from __future__ import annotations

import click

from ..display import matrix_table
from ..errors import HostsFailed
from ..run import open_run
from ..steps import hosts_file, ssh_trust
from .options import run_options


@click.command("ssh-trust")
@run_options
@click.option("--no-verify", is_flag=True, help="Skip the all-pairs SSH check.")
def ssh_trust_command(options, no_verify: bool) -> None:
    """Key pairs, authorized_keys, known_hosts and /etc/hosts so every node SSHes to every other."""
    with open_run(options, "ssh-trust") as run:
        hosts_file.run(run.session)
        matrix = ssh_trust.run(run.session, verify_pairs=not no_verify)
    if matrix is not None:
        run.console.print(matrix_table(matrix.hosts, matrix.results))
        for source, target, err in matrix.failed_pairs:
            run.console.print(f"[red]{source} → {target}[/]: {err}")
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@click.command("hosts")
@run_options
def hosts_command(options) -> None:
    """Only the managed /etc/hosts block (part of ssh-trust)."""
    with open_run(options, "hosts") as run:
        hosts_file.run(run.session)
    if run.exit_status:
        raise HostsFailed(run.exit_status)

