"""The clusterctl command line: parse arguments, call steps, hand the result to the display."""

from __future__ import annotations

import os
import signal
from importlib.metadata import entry_points

import click

from ..errors import ClusterctlError, CommandStatus, ExitStatus, Terminated, exit_status_for
from .bootstrap import apply_command, bootstrap_command, plan_command
from .jdk import jdk_group
from .net import net_group
from .options import common_options, global_options, run_options
from .preflight import preflight_command
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
@common_options
@click.pass_context
def cli(ctx: click.Context, **values) -> None:
    """Stand up and run a ZooKeeper ensemble on bare Linux hosts: SSH trust, a JDK, the ensemble.

    The options above may also follow the command's name.
    """
    global_options(ctx, values)


cli.add_command(bootstrap_command)
cli.add_command(apply_command)
cli.add_command(plan_command)
cli.add_command(preflight_command)
cli.add_command(ssh_trust_command)
cli.add_command(hosts_command)
cli.add_command(net_group)
cli.add_command(jdk_group)
cli.add_command(zk_group)


def _raise_terminated(signum: int, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Entry point: the run's exit status; an error is one line on stderr, never a traceback.

    Every way a command can end other than success reaches the exit status
    the same way: as an exception, mapped by :func:`exit_status_for`.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        returned = cli.main(args=argv, prog_name="clusterctl", standalone_mode=False)
        # Without standalone mode click hands back the N of a ctx.exit(N) instead of raising it.
        if isinstance(returned, int) and not isinstance(returned, bool) and returned:
            raise CommandStatus(returned)
    except (Exception, KeyboardInterrupt, Terminated) as exc:
        if os.environ.get("CLUSTERCTL_DEBUG") and not isinstance(exc, EXPECTED):
            raise
        show_error(exc)
        return exit_status_for(exc)
    return ExitStatus.OK


# What ends a run without being a bug; anything else is one, and CLUSTERCTL_DEBUG=1 shows its traceback.
EXPECTED = (ClusterctlError, click.ClickException, click.exceptions.Abort, KeyboardInterrupt, Terminated)


def show_error(exc: BaseException) -> None:
    """Say on stderr why the run ended: click's usage and message, else one line (none when all is said)."""
    if isinstance(exc, click.ClickException):
        exc.show()
        return
    if isinstance(exc, (KeyboardInterrupt, click.exceptions.Abort)):
        line = "interrupted"
    elif isinstance(exc, Terminated):
        line = "terminated"
    elif isinstance(exc, ClusterctlError):
        line = str(exc)
    else:
        first = next((text for text in str(exc).splitlines() if text.strip()), "")
        line = f"unexpected error: {type(exc).__name__}: {first} (set CLUSTERCTL_DEBUG=1 for the traceback)"
    if line:
        click.echo(f"clusterctl: {line}", err=True)


__all__ = ["cli", "main", "run_options"]
