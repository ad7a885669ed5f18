"""A node starts as a bare server: of this machine's enabled services it keeps only sshd."""

from __future__ import annotations

import os
from pathlib import Path

from clusterctl.lab.bare_host import find_bare_host_changes

UNITS = "/lib/systemd/system"


def machine_root(tmp_path: Path, enabled: dict[str, list[str]]) -> Path:
    """A root filesystem whose /etc/systemd/system enables ``enabled`` (target directory -> units)."""
    for directory, units in enabled.items():
        wants = tmp_path / "etc/systemd/system" / directory
        wants.mkdir(parents=True)
        for unit in units:
            os.symlink(f"{UNITS}/{unit}", wants / unit)
    os.symlink(f"{UNITS}/ssh.service", tmp_path / "etc/systemd/system/sshd.service")
    return tmp_path


def test_only_sshd_and_remote_filesystems_stay_enabled(tmp_path):
    root = machine_root(tmp_path, {
        "multi-user.target.wants": ["ssh.service", "postgresql.service", "e2scrub_reap.service",
                                    "remote-fs.target"],
        "timers.target.wants": ["apt-daily.timer", "man-db.timer"],
        "getty.target.wants": ["getty@tty1.service"],
        "sysinit.target.wants": ["systemd-timesyncd.service"],
        "local-fs.target.requires": ["some.mount"],
    })
    hidden = [p for p in find_bare_host_changes(lower=root).hidden_paths if p.startswith("/etc/systemd")]
    assert sorted(hidden) == [
        "/etc/systemd/system/getty.target.wants/getty@tty1.service",
        "/etc/systemd/system/local-fs.target.requires/some.mount",
        "/etc/systemd/system/multi-user.target.wants/e2scrub_reap.service",
        "/etc/systemd/system/multi-user.target.wants/postgresql.service",
        "/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service",
        "/etc/systemd/system/timers.target.wants/apt-daily.timer",
        "/etc/systemd/system/timers.target.wants/man-db.timer",
    ]


def test_a_machine_without_systemd_units_hides_none(tmp_path):
    (tmp_path / "etc").mkdir()
    assert not [p for p in find_bare_host_changes(lower=tmp_path).hidden_paths if "systemd" in p]
