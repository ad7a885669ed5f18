"""A node's disk before its first boot: this machine's root, made to look like a freshly installed host.

A node sees the machine's root through an overlay whose upper layer is its own.
The changes that make it bare are written straight into that upper directory
before the overlay is mounted, in overlayfs's own on-disk format: a whiteout
(a 0:0 character device) hides one path, an opaque directory hides all that was
below it. That is what keeps it fast: removing the controller's /root through
the overlay would write one whiteout per file, hundreds of thousands of them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError
from .host_tools import run_tool
from .node_files import HOST_KEY_TYPES, render_etc_hosts

# Directories a fresh host has empty (or, for /root, with only the distribution's defaults).
EMPTIED_DIRS = ("/opt", "/home", "/root", "/usr/lib/jvm", "/mnt", "/media", "/srv")
# What a fresh host has at its root; anything else there (a work tree, container
# markers) belongs to this machine, and is hidden.
STANDARD_TOP_LEVEL = {"bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "lost+found",
                      "media", "mnt", "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var"}
# The machine's ZooKeeper, which a fresh host does not have.
HIDDEN_PATHS = ("/usr/share/zookeeper", "/etc/zookeeper", "/var/lib/zookeeper", "/var/log/zookeeper",
                "/usr/bin/zooinspector")
HIDDEN_GLOBS = ("/usr/share/java/zookeeper*.jar",)
# An alternative (and the command links to it) is hidden when it points under one of these.
HIDDEN_SOFTWARE_ROOTS = ("/usr/lib/jvm/", "/etc/zookeeper/", "/usr/share/zookeeper/")
COMMAND_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin")
# This machine's own choice of services to start at boot (the links in /etc/systemd/system/*.wants)
# is not a fresh server's: of it a node keeps only sshd and the stock remote-fs.target. The rest
# (a database server, apt and scrub timers, a getty on the console, time sync) is this
# machine's, or cannot work in a namespace.
SYSTEMD_ENABLEMENT_DIR = "/etc/systemd/system"
ENABLED_UNITS_KEPT = ("multi-user.target.wants/ssh.service", "multi-user.target.wants/remote-fs.target")
OPAQUE_XATTR = "trusted.overlay.opaque"
SUDOERS_DROP_IN = "/etc/sudoers.d/clusterctl-lab"


@dataclass(frozen=True)
class BareHostChanges:
    """What every node of a lab hides of this machine: directories to empty, paths to remove."""

    emptied_dirs: tuple[str, ...]
    hidden_paths: tuple[str, ...]


@dataclass(frozen=True)
class NodeIdentity:
    """Who a node is, and who may log in to it and become root."""

    hostname: str
    address: str
    authorized_key: str | None  # the lab's public key line, or None to leave root without one
    sshd_config: str  # its /etc/ssh/sshd_config (see node_files.render_sshd_config)
    sudoers: str | None = None  # a drop-in in /etc/sudoers.d for the login user, or None for none


def find_bare_host_changes(lower: Path = Path("/"), also_hide: tuple[Path, ...] = ()) -> BareHostChanges:
    """Look at this machine's root and list what a node must not inherit from it.

    Besides the fixed lists: whatever is at the top of the root but not on a
    fresh host; every alternative pointing at a JDK or ZooKeeper, its dpkg
    record, and every command link to it (java, javac, ... in /usr/bin), so
    that 'command -v java' fails on a node; the services this machine enables
    at boot, but sshd. ``also_hide`` are more absolute paths (the lab's own
    state, holding its private key).
    """
    hidden = [f"/{entry.name}" for entry in sorted(lower.iterdir()) if entry.name not in STANDARD_TOP_LEVEL]
    hidden += [p for p in HIDDEN_PATHS if os.path.lexists(_below(lower, p))]
    for pattern in HIDDEN_GLOBS:
        hidden += sorted("/" + str(p.relative_to(lower)) for p in lower.glob(pattern.lstrip("/")))
    hidden_alternatives = set()
    alternatives = _below(lower, "/etc/alternatives")
    for entry in sorted(alternatives.iterdir()) if alternatives.is_dir() else []:
        if entry.is_symlink() and os.readlink(entry).startswith(HIDDEN_SOFTWARE_ROOTS):
            hidden_alternatives.add(f"/etc/alternatives/{entry.name}")
            hidden.append(f"/etc/alternatives/{entry.name}")
            if os.path.lexists(_below(lower, f"/var/lib/dpkg/alternatives/{entry.name}")):
                hidden.append(f"/var/lib/dpkg/alternatives/{entry.name}")
    for directory in COMMAND_DIRS:
        commands = _below(lower, directory)
        if not commands.is_dir() or commands.is_symlink():
            continue
        for entry in sorted(commands.iterdir()):
            if entry.is_symlink():
                target = os.readlink(entry)
                if target in hidden_alternatives or target.startswith(HIDDEN_SOFTWARE_ROOTS):
                    hidden.append(f"{directory}/{entry.name}")
    hidden += _enabled_units_not_kept(lower)
    for path in also_hide:
        if str(path) != "/" and os.path.lexists(_below(lower, str(path))):
            hidden.append(str(path))
    # A path inside one already hidden or emptied needs nothing more (and a whiteout cannot hold children).
    covers = [*EMPTIED_DIRS, *hidden]
    hidden = [p for p in hidden if not any(p.startswith(cover + "/") for cover in covers)]
    return BareHostChanges(emptied_dirs=EMPTIED_DIRS, hidden_paths=tuple(dict.fromkeys(hidden)))


def _enabled_units_not_kept(lower: Path) -> list[str]:
    """The enablement links of this machine's units that a node hides (all but ENABLED_UNITS_KEPT)."""
    enablement = _below(lower, SYSTEMD_ENABLEMENT_DIR)
    links = sorted(enablement.glob("*.wants/*")) + sorted(enablement.glob("*.requires/*"))
    return [f"{SYSTEMD_ENABLEMENT_DIR}/{link.parent.name}/{link.name}" for link in links
            if f"{link.parent.name}/{link.name}" not in ENABLED_UNITS_KEPT]


def write_node_layer(upper: Path, changes: BareHostChanges, node: NodeIdentity,
                     lower: Path = Path("/")) -> None:
    """Fill an empty overlay upper directory so the merged view is ``node`` as a bare host.

    Empties and hides what ``changes`` lists, gives root the distribution's
    default home (from /etc/skel) and, if given, the lab key; writes the
    node's hostname, /etc/hosts, machine-id, sshd_config, sudoers drop-in and
    its own SSH host keys. Passwords and the login user are not made here:
    that needs the node's own chpasswd and useradd (first-boot.sh).
    """
    layer = _UpperLayer(upper, lower)
    for directory in changes.emptied_dirs:
        layer.opaque_dir(directory)
    for path in changes.hidden_paths:
        layer.whiteout(path)
    _write_root_home(layer, node.authorized_key)
    layer.write("/etc/hostname", f"{node.hostname}\n")
    layer.write("/etc/hosts", render_etc_hosts(node.hostname, node.address))
    layer.write("/etc/machine-id", secrets.token_hex(16) + "\n", mode=0o444)
    layer.write("/etc/ssh/sshd_config", node.sshd_config)
    if node.sudoers is not None:
        # sudo ignores a drop-in that others may write to; 0440 is what visudo leaves.
        layer.write(SUDOERS_DROP_IN, node.sudoers, mode=0o440)
    _write_host_keys(layer, node.hostname)


def _write_root_home(layer: _UpperLayer, authorized_key: str | None) -> None:
    home = layer.path("/root")
    shutil.copytree(layer.lower_path("/etc/skel"), home, symlinks=True, dirs_exist_ok=True)
    os.chmod(home, 0o700)
    if authorized_key is not None:
        layer.make_dir("/root/.ssh", mode=0o700)
        layer.write("/root/.ssh/authorized_keys", authorized_key.strip() + "\n", mode=0o600)


def _write_host_keys(layer: _UpperLayer, hostname: str) -> None:
    """The node's own host keys; the machine's, copied through the overlay, are hidden."""
    made = {f"ssh_host_{kind}_key{suffix}" for kind in HOST_KEY_TYPES for suffix in ("", ".pub")}
    for inherited in sorted(layer.lower_path("/etc/ssh").glob("ssh_host_*")):
        if inherited.name not in made:
            layer.whiteout(f"/etc/ssh/{inherited.name}")
    for kind in HOST_KEY_TYPES:
        key = layer.path(f"/etc/ssh/ssh_host_{kind}_key")
        run_tool(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{hostname}", "-f", str(key)])


def _below(root: Path, absolute: str) -> Path:
    return root / absolute.lstrip("/")


class _UpperLayer:
    """Writes into an overlay upper directory, giving each directory it creates the lower one's owner and mode.

    The merged view takes a directory's attributes from the upper layer once it
    exists there, so a plain mkdir would turn, say, /etc into 0755 root owned
    by chance rather than by copy.
    """

    def __init__(self, upper: Path, lower: Path):
        self.upper, self.lower = upper, lower
        self._present = {"/"}  # directories known to exist in the upper layer

    def path(self, absolute: str) -> Path:
        return _below(self.upper, absolute)

    def lower_path(self, absolute: str) -> Path:
        return _below(self.lower, absolute)

    def parent_dirs(self, absolute: str) -> None:
        """Create the directories above ``absolute`` in the upper layer, as they are in the lower."""
        self._directory(os.path.dirname(absolute))

    def _directory(self, absolute: str) -> None:
        if absolute in self._present:
            return
        self._directory(os.path.dirname(absolute))
        target = self.path(absolute)
        if not target.is_dir():
            original = self.lower_path(absolute)
            if original.is_symlink():
                # A real directory here would replace the machine's symlink (say /var/run -> /run).
                raise LabError(f"{absolute} is a symlink on this machine; a node cannot hide paths below it")
            target.mkdir()
            self._copy_attributes(original, target)
        self._present.add(absolute)

    def make_dir(self, absolute: str, mode: int) -> None:
        self.parent_dirs(absolute)
        self.path(absolute).mkdir(exist_ok=True)
        os.chmod(self.path(absolute), mode)

    def opaque_dir(self, absolute: str) -> None:
        """An empty directory that hides everything the lower layer has below ``absolute``."""
        self.parent_dirs(absolute)
        target = self.path(absolute)
        target.mkdir(exist_ok=True)
        if self.lower_path(absolute).is_dir():
            self._copy_attributes(self.lower_path(absolute), target)
        os.setxattr(target, OPAQUE_XATTR, b"y")

    def whiteout(self, absolute: str) -> None:
        """Hide ``absolute`` (file, link or whole directory) of the lower layer."""
        self.parent_dirs(absolute)
        os.mknod(self.path(absolute), stat.S_IFCHR | 0o000, os.makedev(0, 0))

    def write(self, absolute: str, text: str, mode: int = 0o644) -> None:
        self.parent_dirs(absolute)
        target = self.path(absolute)
        target.write_text(text)
        os.chmod(target, mode)

    @staticmethod
    def _copy_attributes(source: Path, target: Path) -> None:
        info = source.lstat()
        os.chown(target, info.st_uid, info.st_gid)
        os.chmod(target, stat.S_IMODE(info.st_mode))
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
