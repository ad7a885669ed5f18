"""The runbook as one list of steps, in order: the composition that bootstrap, apply and plan run whole and
the membership commands run without starting anything (steps compose steps here; nothing below imports
the commands that run them)."""

from __future__ import annotations

from . import hosts_file, jdk, network, preflight, ssh_trust, tls, zookeeper
from .base import Step


def runbook(*, verify: bool = False, verify_ssh: str = "ring", jdk_mode: str | None = None,
            start_timeout: float = zookeeper.START_TIMEOUT, pause: float = 0.0, confirm=None,
            force: bool = False) -> list[Step]:
    """Every step of the runbook, in order. Checks run when something changed, or always with ``verify``.

    On a running ensemble the last steps restart, one at a time and the leader last, only the
    servers whose configuration or release changed since they started (``pause`` seconds apart,
    each after ``confirm(host, question)`` when given).
    """
    return [
        preflight.Preflight(),
        network.Network(),
        hosts_file.HostsFile(),
        ssh_trust.SshKeys(),
        ssh_trust.SshTrust(),
        ssh_trust.SshVerify(verify_ssh, always=verify),
        *jdk.steps(jdk_mode),
        zookeeper.ZkStage(),
        zookeeper.ZkInstall(),
        tls.ZkTlsCerts(),
        zookeeper.ZkStart(timeout=start_timeout, roll_follows=True),
        zookeeper.ZkRoll("stale", start_timeout, pause=pause, confirm=confirm, security_rolls_follow=True),
        tls.ZkTlsRoll(max(start_timeout, 120.0), pause=pause, confirm=confirm, force=force),
        zookeeper.ZkSmoke(always=verify),
    ]
