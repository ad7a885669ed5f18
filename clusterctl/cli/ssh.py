"""clusterctl ssh-trust and clusterctl hosts."""

from __future__ import annotations

import click

from ..display import show_ssh_matrix
from ..errors import HostsFailed
from ..run import open_run
from ..steps import hosts_file, ssh_trust
from ..steps.base import run_steps
from .options import dry_run_option, run_options
from .planning import show_steps_plan


@click.command("ssh-trust")
@run_options
@click.option("--verify", "verify_mode", type=click.Choice(ssh_trust.VERIFY_MODES), default="ring",
              show_default=True, help="ring: prove every pair from both ends' files and log in along a ring "
                                      "(N logins); full: log in for every pair (N×N).")
@click.option("--no-verify", is_flag=True, help="Skip the proof.")
@dry_run_option
def ssh_trust_command(options, verify_mode: str, no_verify: bool, dry_run: bool) -> None:
    """Key pairs, authorized_keys, known_hosts and /etc/hosts so every node SSHes to every other."""
    steps = [hosts_file.HostsFile(), *ssh_trust.steps(None if no_verify else verify_mode)]
    if dry_run:
        return show_steps_plan(options, "ssh-trust", steps, dry_run=True)
    with open_run(options, "ssh-trust") as run:
        done = run_steps(run.session, steps)
    matrix = done.outputs.get(ssh_trust.SshVerify.name)
    if matrix is not None:
        show_ssh_matrix(run.console, matrix)
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@click.command("hosts")
@run_options
@dry_run_option
def hosts_command(options, dry_run: bool) -> None:
    """Only the managed /etc/hosts block (part of ssh-trust)."""
    if dry_run:
        return show_steps_plan(options, "hosts", [hosts_file.HostsFile()], dry_run=True)
    with open_run(options, "hosts") as run:
        run_steps(run.session, [hosts_file.HostsFile()])
    if run.exit_status:
        raise HostsFailed(run.exit_status)
