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


@dataclass(frozen=True, order=True)
class TlsState:
    """What one server's configuration turns on: its quorum phase and whether its TLS client port is open."""

    quorum: int = 0
    client: bool = False

    def describe(self) -> str:
        client = "TLS client port open" if self.client else "plaintext clients only"
        return f"quorum phase {self.quorum} ({QUORUM_PHASES[self.quorum]}), {client}"

    @property
    def short(self) -> str:
        return f"quorum {self.quorum}/{QUORUM_ON}, client TLS {'on' if self.client else 'off'}"

    @property
    def stores(self) -> bool:
        """It reads the key and trust stores."""
        return self.quorum > 0 or self.client

    def to_text(self) -> str:
        return f"quorum={self.quorum} client={'on' if self.client else 'off'}"

    @classmethod
    def from_text(cls, text: str) -> TlsState | None:
        fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
        if fields.get("quorum", "").isdigit() and int(fields["quorum"]) in QUORUM_PHASES:
            return cls(int(fields["quorum"]), fields.get("client") == "on")
        return None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def written_state(zoo_cfg: str | None) -> TlsState:
    """The TLS state a static zoo.cfg turns on when its server starts."""
    settings = parse_key_values(zoo_cfg or "")
    ssl, unified = _true(settings.get("sslQuorum")), _true(settings.get("portUnification"))
    quorum = (2 if unified else 3) if ssl else (1 if unified else 0)
    return TlsState(quorum, "secureClientPort" in settings)


def target_state(quorum: bool, client: str) -> TlsState:
    """What the inventory's [tls] asks every server to run."""
    return TlsState(QUORUM_ON if quorum else 0, client != "off")


def next_roll(current: dict[str, TlsState], target: TlsState) -> dict[str, TlsState]:
    """The state each server moves to in the next roll, for the servers that move; empty when every server
    runs ``target``. Quorum phases move by one, the lowest servers up (or the highest down); the client port
    goes to the target in the first roll."""
    if not current or all(s == target for s in current.values()):
        return {}
    phases = [s.quorum for s in current.values()]
    low, high = min(phases), max(phases)
    moves = {}
    for host, state in current.items():
        quorum = state.quorum
        if target.quorum > low and quorum == low:
            quorum += 1
        elif target.quorum < high and quorum == high and target.quorum <= low:
            quorum -= 1
        wanted = TlsState(quorum, target.client)
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
