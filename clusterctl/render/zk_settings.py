"""The ZooKeeper settings an inventory may add to zoo.cfg ([zookeeper.settings]), and which keys exist at all.

ZooKeeper reads zoo.cfg leniently: a key it does not know becomes the Java
system property ``zookeeper.<key>`` and nothing is said, so a misspelt
setting (``quorum.auth.learner.loginContext`` for
``quorum.auth.learner.saslLoginContext``, as a vendor's documentation has it)
silently does nothing. So every key is checked against the keys the release
reads, listed in ``zookeeper-<version>.settings`` beside this module; that
list is made from the release's own jar by :func:`settings_of_jar` (run this
module with the jar's path to print it), and a test makes it again from the
release the lab runs and compares.

Pure: no file is read at inventory load but the shipped list.
"""

from __future__ import annotations

import difflib
import re
import struct
import sys
from functools import cache
from importlib import resources

RELEASE = "3.8.0"  # the release whose list is shipped (the lab's, Debian's 3.8 build of it)

_KEY = re.compile(r"[a-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
# Keys with a number or a name after the dot: authProvider.1 = a class, metricsProvider.httpPort = its setting.
_FAMILIES = re.compile(r"(authProvider\.[A-Za-z0-9_-]+|metricsProvider\.[A-Za-z0-9_.-]+)")
# String constants of QuorumPeerConfig that are values or dynamic-file words, not zoo.cfg keys.
_NOT_KEYS = frozenset(("true", "false", "observer", "participant", "x509", "myid", "version", "group", "weight"))

# What clusterctl writes itself, from the inventory key that says it: set there, not here.
OWNED = {
    "tickTime": "[zookeeper] tick_time", "initLimit": "[zookeeper] init_limit",
    "syncLimit": "[zookeeper] sync_limit", "dataDir": "[zookeeper] data_dir",
    "dataLogDir": "[zookeeper] data_log_dir", "clientPort": "[zookeeper] client_port",
    "clientPortAddress": "[tls] client", "secureClientPort": "[tls] secure_client_port",
    "4lw.commands.whitelist": "[zookeeper] four_letter_words", "snapCount": "[zookeeper] snap_count",
    "autopurge.snapRetainCount": "[zookeeper] snap_retain_count",
    "autopurge.purgeInterval": "[zookeeper] purge_interval",
    "admin.enableServer": "[zookeeper] admin_server", "admin.serverAddress": "[zookeeper] admin_server",
    "admin.serverPort": "[zookeeper] admin_port", "metricsProvider.className": "[zookeeper] metrics",
    "reconfigEnabled": "clusterctl's membership commands (always on)",
    "standaloneEnabled": "clusterctl's membership commands (always off)",
    "dynamicConfigFile": "clusterctl's membership commands", "peerType": "[zookeeper.servers] (an observer's role)",
    "sslQuorum": "[tls] quorum", "portUnification": "[tls] quorum", "sslQuorumReloadCertFiles": "[tls] quorum",
    "serverCnxnFactory": "[tls] client", "fips-mode": "[tls]",
    "DigestAuthenticationProvider.superDigest": "the super user clusterctl keeps ([zookeeper] secret_file)",
    "quorum.cnxn.threads.size": "[sasl] quorum", "sessionRequireClientSASLAuth": "[sasl] client",
    "authProvider.sasl": "[sasl] client",
}
_OWNED_PREFIXES = {"ssl.": "[tls]", "metricsProvider.": "[zookeeper] metrics", "quorum.auth.": "[sasl] quorum",
                   "enforce.auth.": "[sasl] client"}


def _string_constants(class_bytes: bytes) -> list[str]:
    """The string literals of one class file (its constant pool's CONSTANT_String entries)."""
    count = struct.unpack(">H", class_bytes[8:10])[0]
    utf8: dict[int, str] = {}
    literals: list[int] = []
    at, index = 10, 1
    while index < count:
        tag = class_bytes[at]
        if tag == 1:  # Utf8
            length = struct.unpack(">H", class_bytes[at + 1:at + 3])[0]
            utf8[index] = class_bytes[at + 3:at + 3 + length].decode("utf-8", "replace")
            at += 3 + length
        elif tag == 8:  # String: an index of its Utf8
            literals.append(struct.unpack(">H", class_bytes[at + 1:at + 3])[0])
            at += 3
        elif tag in (3, 4, 9, 10, 11, 12, 17, 18):
            at += 5
        elif tag in (5, 6):  # long and double take two slots
            at += 9
            index += 1
        elif tag in (7, 16, 19, 20):
            at += 3
        elif tag == 15:
            at += 4
        else:
            raise ValueError(f"constant pool tag {tag} unknown")
        index += 1
    return [utf8[i] for i in literals]


def settings_of_jar(jar: str) -> list[str]:
    """Every zoo.cfg key the release in ``jar`` (zookeeper-X.Y.Z.jar) reads, sorted.

    Three sources, as QuorumPeerConfig reads the file: the keys it parses
    itself (its own string literals), the ``zookeeper.*`` system properties
    read anywhere (an unknown key ``k`` becomes ``zookeeper.k``), and the TLS
    settings X509Util composes from ``ssl.`` / ``ssl.quorum.`` and a suffix.
    """
    import zipfile  # only where a jar is read: not at every start of the command
    keys: set[str] = set()
    with zipfile.ZipFile(jar) as archive:
        for name in archive.namelist():
            if not name.endswith(".class"):
                continue
            literals = _string_constants(archive.read(name))
            keys.update(s[len("zookeeper."):] for s in literals
                        if s.startswith("zookeeper.") and _KEY.fullmatch(s[len("zookeeper."):]))
            if name.endswith("/QuorumPeerConfig.class"):
                keys.update(s for s in literals if _KEY.fullmatch(s) and s not in _NOT_KEYS
                            and not s.startswith(("zookeeper.", "org.")))
            elif name.endswith(("/X509Util.class", "/ClientX509Util.class")):
                suffixes = [s for s in literals if re.fullmatch(r"[a-z][A-Za-z]*(\.[a-z][A-Za-z]*){0,2}", s)
                            and s not in ("true", "ocsp.enable")]
                keys.update(prefix + s for s in suffixes for prefix in ("ssl.", "ssl.quorum."))
    return sorted(keys)


@cache
def known_settings() -> frozenset[str]:
    """The zoo.cfg keys of the shipped release list."""
    text = resources.files(__package__).joinpath(f"zookeeper-{RELEASE}.settings").read_text()
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_known(key: str) -> bool:
    """Whether the release reads zoo.cfg key ``key``."""
    return key in known_settings() or bool(_FAMILIES.fullmatch(key))


def _nearest(key: str) -> str | None:
    close = difflib.get_close_matches(key, sorted(known_settings()), n=1, cutoff=0.75)
    return close[0] if close else None


def _owner(key: str) -> str | None:
    return OWNED.get(key) or next((o for p, o in _OWNED_PREFIXES.items() if key.startswith(p)), None)


def setting_problem(key: str) -> tuple[str, str] | None:
    """Why ``key`` may not be set in [zookeeper.settings], and the fix; None if it may."""
    if key.startswith("server.") or key.startswith("group.") or key.startswith("weight."):
        return "is membership, which clusterctl keeps", "list the servers in [zookeeper.servers]"
    if is_known(key):
        owner = _owner(key)
        return None if owner is None else ("is written by clusterctl itself", f"set it through {owner}")
    close = _nearest(key)
    fix = f"did you mean {close!r}?" if close else "see ZooKeeper's administrator's guide for the keys"
    if close and _owner(close):
        fix += f" (clusterctl writes it itself: set it through {_owner(close)})"
    return (f"is not a setting ZooKeeper {RELEASE} reads (it would silently become the unused system "
            f"property zookeeper.{key})"), fix


# System properties the release's logging configuration (conf/log4j.properties) and bin/zkEnv.sh read,
# not its classes: -Dzookeeper.log.dir and its kin are real, and not in the jar's list.
LOGGING_PROPERTIES = frozenset(("console.threshold", "log.dir", "log.file", "log.maxbackupindex", "log.maxfilesize",
                                "log.threshold", "root.logger", "tracelog.dir", "tracelog.file", "jmx.log4j.disable"))


def property_problem(flag: str) -> tuple[str, str] | None:
    """The same check for a ``-Dzookeeper.<key>=`` JVM flag: ZooKeeper ignores one it does not read."""
    name = flag[2:].split("=", 1)[0]
    if not name.startswith("zookeeper."):
        return None
    key = name[len("zookeeper."):]
    if is_known(key) or key in LOGGING_PROPERTIES:
        return None
    close = _nearest(key)
    fix = f"did you mean -Dzookeeper.{close}?" if close else "see ZooKeeper's administrator's guide"
    return f"{name} is not a property ZooKeeper {RELEASE} reads", fix


def setting_lines(settings: tuple[tuple[str, str], ...]) -> list[str]:
    """zoo.cfg lines for the inventory's own settings, in its order."""
    return [f"{key}={value}" for key, value in settings]


if __name__ == "__main__":  # python -m clusterctl.render.zk_settings zookeeper-3.8.0.jar > zookeeper-3.8.0.settings
    print("# zoo.cfg keys ZooKeeper reads, made from its jar by python -m clusterctl.render.zk_settings")
    print("\n".join(settings_of_jar(sys.argv[1])))
