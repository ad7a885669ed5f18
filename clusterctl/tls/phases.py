"""The phases a live ensemble goes through to turn TLS on or off, one roll each (pure).

Quorum TLS follows ZooKeeper's no-downtime procedure: phase 1 gives every
server its stores and ``portUnification`` (it accepts TLS and plaintext from
its peers, speaks plaintext), phase 2 turns ``sslQuorum`` on (it speaks TLS,
still accepts plaintext), phase 3 turns ``portUnification`` off (TLS only).
Servers one phase apart understand each other, so a roll moves the servers of
the lowest phase up by one (or, turning it off, the highest down by one), and
a run stopped half way through goes on from the phase each server is in.

The client side needs no such care: a TLS client port beside the plaintext
one (``optional``) is added or removed in the first roll.

Quorum SASL (DIGEST-MD5 between servers, [sasl] quorum) is a second
dimension of the same state, rolled the way ZooKeeper's wiki describes:
phase 1 turns ``quorum.auth.enableSasl`` on (a server authenticates to its
peers, requires nothing), phase 2 ``quorum.auth.learnerRequireSasl`` (it
requires it of the servers it connects to), phase 3
``quorum.auth.serverRequireSasl`` (of the servers connecting to it). The TLS
phases are rolled first, then the SASL ones, never both in one roll: each
roll changes one thing the peers must agree on.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..render.key_values import parse_key_values

QUORUM_PHASES = {
    0: "plaintext quorum",
    1: "quorum stores in place, TLS accepted from peers (portUnification)",
    2: "TLS to peers, plaintext still accepted (sslQuorum, portUnification)",
    3: "TLS-only quorum (sslQuorum)",
}
QUORUM_ON = 3
SASL_PHASES = {
    0: "no quorum SASL",
    1: "SASL to peers, required of none (quorum.auth.enableSasl)",
    2: "SASL required of the servers it connects to (learnerRequireSasl)",
    3: "SASL required both ways (learnerRequireSasl, serverRequireSasl)",
}
SASL_ON = 3


@dataclass(frozen=True, order=True)
class TlsState:
    """What one server's configuration turns on: its quorum TLS phase, whether its TLS client port is open,
    and its quorum SASL phase."""

    quorum: int = 0
    client: bool = False
    sasl: int = 0

    def describe(self) -> str:
        client = "TLS client port open" if self.client else "plaintext clients only"
        sasl = f", quorum SASL phase {self.sasl} ({SASL_PHASES[self.sasl]})" if self.sasl else ""
        return f"quorum phase {self.quorum} ({QUORUM_PHASES[self.quorum]}), {client}{sasl}"

    @property
    def short(self) -> str:
        sasl = f", quorum SASL {self.sasl}/{SASL_ON}" if self.sasl else ""
        return f"quorum {self.quorum}/{QUORUM_ON}, client TLS {'on' if self.client else 'off'}{sasl}"

    @property
    def stores(self) -> bool:
        """It reads the key and trust stores."""
        return self.quorum > 0 or self.client

    def to_text(self) -> str:
        return f"quorum={self.quorum} client={'on' if self.client else 'off'} sasl={self.sasl}"

    @classmethod
    def from_text(cls, text: str) -> TlsState | None:
        """The state ``to_text`` wrote; a marker from before SASL (no ``sasl=``) had none."""
        fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
        sasl = fields.get("sasl", "0")
        if (fields.get("quorum", "").isdigit() and int(fields["quorum"]) in QUORUM_PHASES
                and sasl.isdigit() and int(sasl) in SASL_PHASES):
            return cls(int(fields["quorum"]), fields.get("client") == "on", int(sasl))
        return None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def written_state(zoo_cfg: str | None) -> TlsState:
    """The TLS state a static zoo.cfg turns on when its server starts."""
    settings = parse_key_values(zoo_cfg or "")
    ssl, unified = _true(settings.get("sslQuorum")), _true(settings.get("portUnification"))
    quorum = (2 if unified else 3) if ssl else (1 if unified else 0)
    enabled = _true(settings.get("quorum.auth.enableSasl"))
    learner, server = (_true(settings.get(f"quorum.auth.{who}RequireSasl")) for who in ("learner", "server"))
    sasl = (3 if server else 2 if learner else 1) if enabled else 0
    return TlsState(quorum, "secureClientPort" in settings, sasl)


def target_state(quorum: bool, client: str, sasl_quorum: bool = False) -> TlsState:
    """What the inventory's [tls] (and [sasl] quorum) asks every server to run."""
    return TlsState(QUORUM_ON if quorum else 0, client != "off", SASL_ON if sasl_quorum else 0)


def lowest(states) -> TlsState:
    """The state a server joining servers in ``states`` starts in: the lowest phase of each kind, so that
    it understands every one of them; the client port as the lowest TLS state has it."""
    states = list(states)
    first = min(states)
    return TlsState(first.quorum, first.client, min(s.sasl for s in states))


def _moved(phase: int, low: int, high: int, target: int) -> int:
    """One server's phase after a roll of one kind: the lowest move up (or the highest down) by one."""
    if target > low and phase == low:
        return phase + 1
    if target < high and phase == high and target <= low:
        return phase - 1
    return phase


def next_roll(current: dict[str, TlsState], target: TlsState) -> dict[str, TlsState]:
    """The state each server moves to in the next roll, for the servers that move; empty when every server
    runs ``target``. Quorum TLS phases move by one, the lowest servers up (or the highest down); once
    they are all at the target, the quorum SASL phases do the same; the client port goes to the target in
    the first roll."""
    if not current or all(s == target for s in current.values()):
        return {}
    tls = [s.quorum for s in current.values()]
    sasl = [s.sasl for s in current.values()]
    tls_moves = {h: _moved(s.quorum, min(tls), max(tls), target.quorum) for h, s in current.items()}
    tls_rolls = any(tls_moves[h] != s.quorum for h, s in current.items())
    moves = {}
    for host, state in current.items():
        if tls_rolls:
            wanted = TlsState(tls_moves[host], target.client, state.sasl)
        else:
            wanted = TlsState(state.quorum, target.client, _moved(state.sasl, min(sasl), max(sasl), target.sasl))
        if wanted != state:
            moves[host] = wanted
    return moves


def rolls_left(current: dict[str, TlsState], target: TlsState) -> list[dict[str, TlsState]]:
    """Every roll from ``current`` to ``target``, in order (what plan shows)."""
    out = []
    state = dict(current)
    while True:
        moves = next_roll(state, target)
        if not moves:
            return out
        out.append(moves)
        state.update(moves)


def running_state(written: TlsState, marker: str | None, restarted_since_marker: bool) -> TlsState:
    """The state a server runs: the written one, unless a TLS change was written (the marker: "from X to Y")
    and the server has not restarted since; then the one it had."""
    if marker and not restarted_since_marker:
        before, _, _ = marker.partition(" to ")
        old = TlsState.from_text(before.removeprefix("from "))
        if old is not None:
            return old
    return written


def marker_text(before: TlsState, after: TlsState) -> str:
    return f"from {before.to_text()} to {after.to_text()}\n"
