"""Options every command that works on hosts takes, before or after the subcommand's name.

Operators type global options first (``clusterctl -i prod.toml zk status``,
as with git, kubectl, ansible) or last; both mean the same, and a value given
after the subcommand wins.
"""

from __future__ import annotations

import functools
import sys
from typing import Callable

import click

from ..run_options import DEFAULT_FORKS, RunOptions


def _host_list(ctx, param, value: str | None) -> list[str] | None:
    return [h.strip() for h in value.split(",") if h.strip()] if value else None


def common_options(func):
    """-i/--forks/--ask-pass/--ask-become-pass/-F/-v/--log/--hosts, each None when not given."""
    options = [
        click.option("-i", "--inventory", type=click.Path(dir_okay=False),
                     help="Inventory TOML (default: $CLUSTERCTL_INVENTORY, else configs/cluster.toml)."),
        click.option("--forks", type=click.IntRange(1, 512), help=f"Hosts worked on at once (default {DEFAULT_FORKS})."),
        click.option("--ask-pass", is_flag=True, default=None,
                     help="Prompt once for an SSH password (first contact); or set CLUSTERCTL_SSH_PASSWORD."),
        click.option("--ask-become-pass", is_flag=True, default=None,
                     help="Prompt once for the sudo password, for the whole run; or set CLUSTERCTL_BECOME_PASSWORD."),
        click.option("-F", "--ssh-config", type=click.Path(dir_okay=False),
                     help="OpenSSH client config to use instead of ~/.ssh/config."),
        click.option("-v", "--verbose", is_flag=True, default=None, help="Show remote commands and their output."),
        click.option("--log", type=click.Path(dir_okay=False), help="Run log file (default under ~/.local/state)."),
        click.option("--hosts", callback=_host_list,
                     help="Change only these hosts (comma-separated); facts are still read from all."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


NAMES = ("inventory", "forks", "ask_pass", "ask_become_pass", "ssh_config", "verbose", "log", "hosts")


def global_options(ctx: click.Context, values: dict) -> None:
    """Keep the options given before the subcommand for :func:`run_options` to merge."""
    ctx.ensure_object(dict).update({k: v for k, v in values.items() if v is not None})


def run_options(func):
    """Add the common options and pass one RunOptions (these merged with the global ones) as ``options``."""

    @common_options
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in NAMES}
        root = click.get_current_context().find_root().obj or {}
        merged = {name: given[name] if given[name] is not None else root.get(name) for name in NAMES}
        options = RunOptions(inventory=merged["inventory"], forks=merged["forks"] or DEFAULT_FORKS,
                             ask_pass=bool(merged["ask_pass"]), ask_become_pass=bool(merged["ask_become_pass"]),
                             ssh_config=merged["ssh_config"], verbose=bool(merged["verbose"]),
                             log=merged["log"], hosts=merged["hosts"] or [], argv=sys.argv[1:])
        return func(*args, options=options, **kwargs)

    return wrapper


def ask_before(host: str, what: str) -> bool:
    """--confirm's prompt before each server: WHAT? [Y/n], on stderr (stdout is the run's output)."""
    return click.confirm(f"{what}?", default=True, err=True)


def confirmation(options: RunOptions, confirm: bool) -> Callable[[str, str], bool] | None:
    """--confirm's question to ask before each server, or None without it.

    Asking turns the live grid off: the grid redraws the screen several times a
    second, over the question and over what the operator types.
    """
    if not confirm:
        return None
    options.live = False
    return ask_before


def dry_run_option(command):
    """--dry-run: print what the command would do, in order, and change nothing anywhere."""
    return click.option("--dry-run", is_flag=True,
                        help="Print what would be done, in order, and change nothing: no host, no file on this "
                             "machine (no run log, no new known_hosts entry), no write to ZooKeeper.")(command)
