"""The clusterctl command line: parse arguments, call steps, hand the result to the display."""

from __future__ import annotations

import functools
import importlib
import os
import signal

import click

from ..errors import ClusterctlError, CommandStatus, ExitStatus, Terminated, exit_status_for
from .options import common_options, global_options, run_options

# clusterctl's own commands, by where they are defined: a command's module (its steps, rich, the
# inventory) is imported only when that command is run or --help lists it.
COMMANDS = {
    "apply": "clusterctl.cli.bootstrap:apply_command",
    "bootstrap": "clusterctl.cli.bootstrap:bootstrap_command",
    "collect": "clusterctl.cli.health:collect_command",
    "hosts": "clusterctl.cli.ssh:hosts_command",
    "jdk": "clusterctl.cli.jdk:jdk_group",
    "net": "clusterctl.cli.net:net_group",
    "plan": "clusterctl.cli.bootstrap:plan_command",
    "preflight": "clusterctl.cli.preflight:preflight_command",
    "sasl": "clusterctl.cli.sasl:sasl_group",
    "ssh-trust": "clusterctl.cli.ssh:ssh_trust_command",
    "tls": "clusterctl.cli.tls:tls_group",
    "zk": "clusterctl.cli.zk:zk_group",
}
PLUGIN_GROUP = "clusterctl.plugins"  # entry points: more commands, loaded only when named


class LazyGroup(click.Group):
    """The commands of clusterctl itself, plus those that other parts (the lab) register as plugins.

    Click's lazy-loading group: a command is imported when it is asked for
    (or listed by --help), never all of them for one. The core never imports
    a plugin: it finds it by name in the entry points and loads it the same way.
    """

    @functools.cached_property
    def plugins(self) -> dict:
        """name → entry point of every plugin command, read once: reading them all takes tens of ms."""
        from importlib.metadata import entry_points  # not for a command of clusterctl's own
        return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS) | set(self.plugins))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in COMMANDS:
            module, _, attribute = COMMANDS[name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
        elif command is None and name in self.plugins:
            command = self.plugins[name].load()
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clusterctl")
@common_options
@click.pass_context
def cli(ctx: click.Context, **values) -> None:
    """Stand up and run a ZooKeeper ensemble on bare Linux hosts: SSH trust, a JDK, the ensemble.

    The options above may also follow the command's name.
    """
    global_options(ctx, values)


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
