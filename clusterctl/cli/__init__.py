"""The clusterctl command line: parse arguments, call a step, hand the result to the display."""

from __future__ import annotations

import sys

import click

from ..errors import ClusterctlError, ExitStatus
from .artifacts import artifacts_command
from .bootstrap import bootstrap_command, plan_command
from .jdk import jdk_group
from .lab import lab_group
from .net import net_group
from .options import run_options
from .ssh import hosts_command, ssh_trust_command
from .zk import zk_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clusterctl")
def cli() -> None:
    """Bootstrap a ZooKeeper cluster on bare Linux hosts: SSH trust, a JDK, an ensemble."""


cli.add_command(bootstrap_command)
cli.add_command(plan_command)
cli.add_command(ssh_trust_command)
cli.add_command(hosts_command)
cli.add_command(net_group)
cli.add_command(lab_group)
cli.add_command(artifacts_command)
cli.add_command(jdk_group)
cli.add_command(zk_group)


def main(argv: list[str] | None = None) -> int:
    """Entry point: errors become one line on stderr and their exit status, never a traceback."""
    try:
        cli.main(args=argv, prog_name="clusterctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return ExitStatus.HOST_FAILURE
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return ExitStatus.USAGE
    except ClusterctlError as exc:
        if str(exc):
            click.echo(f"clusterctl: {exc}", err=True)
        return exc.exit_status
    return ExitStatus.OK


def run_main() -> None:
    sys.exit(main())


__all__ = ["cli", "main", "run_main", "run_options"]
