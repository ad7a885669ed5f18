"""The server's JAAS file for SASL DIGEST-MD5, and its zoo.cfg settings (pure).

The passwords are in this file alone on a node (the service account's, mode
600): the JVM is told only its path (``-Djava.security.auth.login.config``),
so no password is in a command line, a unit or an environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..inventory import SaslSpec, ZooKeeperSpec

DIGEST_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
QUORUM_USER = "quorum"  # the identity every server shows its peers, until a rotation moves them to another
QUORUM_SERVER, QUORUM_LEARNER, SERVER = "QuorumServer", "QuorumLearner", "Server"  # JAAS sections
CLIENT = "Client"  # the section a ZooKeeper client on the node (zkCli.sh, see clusterctl zk cli) logs in with
# Each server's threads for authenticating peer connections: ZooKeeper's wiki advises 2 × the ensemble
# (its own default is 20, the floor kept here).
MIN_QUORUM_THREADS = 20


@dataclass(frozen=True)
class SaslPasswords:
    """The passwords a server's JAAS file holds: the quorum's, and each client user's (clusterctl's own
    among them) where clients may authenticate."""

    quorum: str
    users: tuple[tuple[str, str], ...] = ()  # (name, password)
    quorum_user: str = QUORUM_USER  # the identity the learners log in as with ``quorum``
    also_accepted: tuple[tuple[str, str], ...] = ()  # (name, password): another quorum identity, a rotation's
    login: tuple[str, str] | None = None  # (name, password) a client on the node logs in as: clusterctl's own


# What the file holds once SASL is off everywhere: its passwords are not left on the node.
NO_SASL = "// Written by clusterctl: SASL is off; this file holds no password.\n"


def jaas_path(spec: ZooKeeperSpec) -> str:
    return f"{spec.conf_dir}/jaas.conf"


def login_option(spec: ZooKeeperSpec) -> str:
    """The JVM flag naming the JAAS file (a path, no secret: it may show in ps)."""
    return f"-Djava.security.auth.login.config={jaas_path(spec)}"


def _section(name: str, options: list[tuple[str, str]]) -> str:
    body = "".join(f'\n    {key}="{value}"' for key, value in options)
    return f"{name} {{\n    {DIGEST_MODULE} required{body};\n}};\n"


def render_jaas(passwords: SaslPasswords) -> str:
    """The JAAS file: the quorum's server and learner sections (one shared identity, and during a password
    rotation a second one the server section accepts too), a Server section with a ``user_NAME`` per
    client user when there are any, and a Client section for ``login``."""
    text = "// Written by clusterctl: SASL DIGEST-MD5 passwords, the service account's alone.\n"
    accepted = [(passwords.quorum_user, passwords.quorum), *passwords.also_accepted]
    text += _section(QUORUM_SERVER, [(f"user_{name}", secret) for name, secret in accepted])
    text += _section(QUORUM_LEARNER, [("username", passwords.quorum_user), ("password", passwords.quorum)])
    if passwords.users:
        text += _section(SERVER, [(f"user_{name}", secret) for name, secret in passwords.users])
    if passwords.login:
        name, secret = passwords.login
        text += _section(CLIENT, [("username", name), ("password", secret)])
    return text


def client_login_options(spec: ZooKeeperSpec) -> list[str]:
    """The JVM flags of a ZooKeeper client on a node that logs in from the JAAS file's Client section (paths
    and names, no secret: they may show in ps; the client must run as the service account to read it)."""
    return [login_option(spec), f"-Dzookeeper.sasl.clientconfig={CLIENT}"]


def quorum_sasl_lines(phase: int, servers: int) -> list[str]:
    """zoo.cfg's quorum SASL settings for a phase (see :data:`clusterctl.tls.phases.SASL_PHASES`)."""
    if not phase:
        return []
    lines = ["quorum.auth.enableSasl=true",
             f"quorum.auth.learner.saslLoginContext={QUORUM_LEARNER}",
             f"quorum.auth.server.saslLoginContext={QUORUM_SERVER}",
             f"quorum.cnxn.threads.size={max(MIN_QUORUM_THREADS, 2 * servers)}"]
    if phase >= 2:
        lines.append("quorum.auth.learnerRequireSasl=true")
    if phase >= 3:
        lines.append("quorum.auth.serverRequireSasl=true")
    return lines


def client_sasl_lines(sasl: SaslSpec) -> list[str]:
    """zoo.cfg's client SASL settings: the provider where clients may log in; with "required", every
    session must have (ZooKeeper 3.7+'s enforce.auth, which closes a session without SASL)."""
    if sasl.client == "off":
        return []
    lines = [f"authProvider.sasl={SASL_PROVIDER}"]
    if sasl.client == "required":
        lines += ["enforce.auth.enabled=true", "enforce.auth.schemes=sasl"]
    return lines
