"""An ensemble with SASL (and TLS) on, as the security modules drive it: its controller state (the secrets,
the CA, the run logs) in a directory of the test's own, the inventory with a [sasl] section, and kazoo
clients that log in. Shared by test_sasl.py (systemd nodes) and test_sasl_tls.py (digest over TLS, no
systemd)."""

from __future__ import annotations

from pathlib import Path

from tests.ensembles import Ensemble
from tests.lab_helpers import inside


class SaslEnsemble(Ensemble):
    """The ensemble of ``servers``, its controller state (the secrets, the run logs) in a directory of its own."""

    def __init__(self, lab, base: str, state: Path, servers: dict):
        super().__init__(lab, base)
        self.state, self.servers = state, servers

    def cli(self, *words, state_home=None, **kwargs):
        return super().cli(*words, state_home=state_home or self.state, **kwargs)

    def with_sasl(self, sasl: str, servers=None) -> Path:
        path = self.inventory(servers or self.servers)
        path.write_text(path.read_text() + "\n" + sasl)
        return path

    @property
    def secrets(self) -> Path:
        return self.state / "clusterctl" / "secrets"

    def passwords(self) -> list[str]:
        """Every SASL password kept here, a rotation's new ones too (a quorum identity's name taken off)."""
        return [p.read_text().strip().rpartition(":")[2] for p in self.secrets.glob("*.sasl-*")]

    def run_logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.state / "clusterctl" / "runs").glob("*.log"))

    def follower(self) -> str:
        voters = [n for n, spec in self.servers.items() if not isinstance(spec, tuple)]
        return next(n for n in voters if self.role(n) == "follower")


def sasl_client(ensemble, nodes, user: str | None = None, password: str | None = None, hosts: str | None = None,
                **options):
    """A kazoo client of ``nodes`` (or ``hosts``) logging in as ``user`` (none without); ``options`` more of
    kazoo's (use_ssl, certfile, ...)."""
    from kazoo.client import KazooClient
    if user:
        options["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": user, "password": password}
    return KazooClient(hosts=hosts or ensemble.hosts(nodes), timeout=10,
                       connection_retry={"max_tries": 2, "delay": 0.2}, **options)


def settings(ensemble, node: str) -> dict[str, str]:
    text = inside(ensemble.lab, node, "cat /etc/zookeeper/zoo.cfg")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def acl_admits_its_user_alone(connect, password: str) -> None:
    """app, logged in with ``password``, makes /app-only (ACL sasl:app) and writes and reads it; a client
    without credentials is refused it (NoAuth), and one with a wrong password gets no session or is refused.
    ``connect(user, password)`` makes a kazoo client (no login for user None)."""
    import pytest
    from kazoo.exceptions import NoAuthError
    from kazoo.security import ACL, Id, Permissions
    app = connect("app", password)
    app.start(timeout=30)
    try:
        app.create("/app-only", b"secret", acl=[ACL(Permissions.ALL, Id("sasl", "app"))])
        app.set("/app-only", b"written by app")
        assert app.get("/app-only")[0] == b"written by app"
    finally:
        app.stop()
        app.close()
    anonymous = connect(None, None)
    anonymous.start(timeout=30)
    try:
        with pytest.raises(NoAuthError):
            anonymous.get("/app-only")
        with pytest.raises(NoAuthError):
            anonymous.set("/app-only", b"x")
    finally:
        anonymous.stop()
        anonymous.close()
    wrong = connect("app", "not-the-password")
    with pytest.raises(Exception):
        wrong.start(timeout=15)
        wrong.get("/app-only")  # (reached only if the session started at all)
    wrong.stop()
    wrong.close()


def promoted_and_demoted(ensemble, sasl: str, observer: str) -> list:
    """The super user's reconfigs under ``sasl``: ``observer`` promoted to a voter and demoted back (both
    must succeed); the two runs."""
    ensemble.with_sasl(sasl, {**ensemble.servers, observer: ensemble.servers[observer][0]})
    promoted = ensemble.cli("zk", "promote", observer)
    assert promoted.returncode == 0, promoted.stdout[-3000:] + promoted.stderr
    assert ensemble.role(observer) in ("leader", "follower")
    ensemble.with_sasl(sasl)
    demoted = ensemble.cli("zk", "demote", observer)
    assert demoted.returncode == 0, demoted.stdout[-3000:] + demoted.stderr
    assert ensemble.role(observer) == "observer"
    return [promoted, demoted]


def applied_under_watch(ensemble) -> tuple:
    """``apply`` with a client writing through every server and every node's command lines sampled all along;
    it must succeed and lose no acknowledged write. (The run, the writer, the sampler, its seconds.)"""
    import time
    from tests.lab_helpers import ArgvSampler, Writer
    started = time.monotonic()
    with ArgvSampler(ensemble.lab, list(ensemble.servers)) as argv, Writer(ensemble.hosts(ensemble.servers)) as writer:
        done = ensemble.cli("apply")
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
    return done, writer, argv, took
