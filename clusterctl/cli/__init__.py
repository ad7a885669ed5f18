"""The clusterctl command line: parse arguments, call steps, hand the result to the display."""

from __future__ import annotations

import functools
import importlib
import os
import signal

import click

from ..errors import ClusterctlError, CommandStatus, ExitStatus, Terminated, exit_status_for
from .options import common_options, global_options, run_options

# clusterctl's own commands: where each is defined, and its summary for --help. A command's module
# (its steps, rich, the inventory) is imported only when that command is run; --help lists the
# summaries kept here instead of importing every module for its docstring (as pip lists its commands).
# tests/unit/test_cli_help.py checks each summary against its command's own help.
COMMANDS = {
    "apply": ("clusterctl.cli.bootstrap:apply_command",
              "Bring a running cluster to the inventory with the fewest restarts (what bootstrap does on one)."),
    "bootstrap": ("clusterctl.cli.bootstrap:bootstrap_command",
                  "The whole runbook: preflight, network, hosts file, SSH trust, JDK, ZooKeeper, quorum, smoke "
                  "test, status."),
    "collect": ("clusterctl.cli.health:collect_command",
                "A support bundle: one tarball of every server's config, words, logs, journal, disks and versions."),
    "hosts": ("clusterctl.cli.ssh:hosts_command", "Only the managed /etc/hosts block (part of ssh-trust)."),
    "jdk": ("clusterctl.cli.jdk:jdk_group", "Stage, install and check the JDK named in [jdk]."),
    "net": ("clusterctl.cli.net:net_group",
            "Static addresses in each node's own format, applied with automatic rollback."),
    "plan": ("clusterctl.cli.bootstrap:plan_command",
             "Ask every host for its state and show per host and step what would change."),
    "preflight": ("clusterctl.cli.preflight:preflight_command",
                  "Check every host before changing anything: disk, memory, ports, clock, names, systemd, sudo."),
    "sasl": ("clusterctl.cli.sasl:sasl_group",
             "SASL DIGEST-MD5 on the ensemble ([sasl] in the inventory; apply turns it on or off): its passwords."),
    "ssh-trust": ("clusterctl.cli.ssh:ssh_trust_command",
                  "Key pairs, authorized_keys, known_hosts and /etc/hosts so every node SSHes to every other."),
    "tls": ("clusterctl.cli.tls:tls_group",
            "TLS on the ensemble ([tls] in the inventory; apply turns it on or off): certificates and the CA."),
    "zk": ("clusterctl.cli.zk:zk_group",
           "The ZooKeeper ensemble: install, start, stop, restart, status, doctor, zkCli, smoke test, and "
           "membership."),
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
            module, _, attribute = COMMANDS[name][0].partition(":")
            command = getattr(importlib.import_module(module), attribute)
        elif command is None and name in self.plugins:
            command = self.plugins[name].load()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's list of commands, with clusterctl's own summaries taken from COMMANDS, unimported."""
        listed = {name: click.Command(name, help=summary) for name, (_, summary) in COMMANDS.items()}
        for name in self.list_commands(ctx):
            if name not in listed:
                listed[name] = self.get_command(ctx, name)
        shown = sorted((name, command) for name, command in listed.items() if command and not command.hidden)
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in shown])


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
