"""The clusterctl command line: parse arguments, call a step, hand the result to the display."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

from ..errors import ClusterctlError, ExitStatus
from .bootstrap import bootstrap_command, plan_command
from .jdk import jdk_group
from .net import net_group
from .options import run_options
from .ssh import hosts_command, ssh_trust_command
from .zk import zk_group


PLUGIN_GROUP = "clusterctl.plugins"  # entry points: more commands, loaded only when named


class PluginGroup(click.Group):
    """The commands of clusterctl itself, plus those that other parts (the lab) register as plugins.

    The core never imports a plugin: it finds it by name in the entry points
    and loads it when that command is asked for (or listed by --help).
    """

    def _plugins(self) -> dict:
        return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in self._plugins():
            command = self._plugins()[name].load()
        return command


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clusterctl")
def cli() -> None:
    """Bootstrap a ZooKeeper cluster on bare Linux hosts: SSH trust, a JDK, an ensemble."""


cli.add_command(bootstrap_command)
cli.add_command(plan_command)
cli.add_command(ssh_trust_command)
cli.add_command(hosts_command)
cli.add_command(net_group)
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
