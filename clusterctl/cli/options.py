"""Options every command that works on hosts takes."""

from __future__ import annotations

import functools

import click

from ..core.session import DEFAULT_FORKS
from ..run import RunOptions


def _host_list(ctx, param, value: str | None) -> list[str]:
    return [h.strip() for h in value.split(",") if h.strip()] if value else []


def run_options(func):
    """Add -i/--forks/--ask-pass/-v/--log/--hosts and pass a RunOptions as ``options``."""

    @click.option("-i", "--inventory", type=click.Path(dir_okay=False),
                  help="Inventory TOML (default: $CLUSTERCTL_INVENTORY, else configs/cluster.toml).")
    @click.option("--forks", type=click.IntRange(1, 512), default=DEFAULT_FORKS, show_default=True,
                  help="Hosts worked on at once.")
    @click.option("--ask-pass", is_flag=True, help="Prompt once for an SSH password (first contact); "
                  "or set CLUSTERCTL_SSH_PASSWORD.")
    @click.option("-v", "--verbose", is_flag=True, help="Show remote commands and their output.")
    @click.option("--log", type=click.Path(dir_okay=False), help="Run log file (default under ~/.local/state).")
    @click.option("--hosts", callback=_host_list, help="Only these hosts, comma-separated.")
    @functools.wraps(func)
    def wrapper(*args, inventory, forks, ask_pass, verbose, log, hosts, **kwargs):
        options = RunOptions(inventory=inventory, forks=forks, ask_pass=ask_pass, verbose=verbose,
                             log=log, hosts=hosts)
        return func(*args, options=options, **kwargs)

    return wrapper
