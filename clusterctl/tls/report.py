"""What ``zk status`` and ``plan`` say about one server's TLS and SASL (pure)."""

from __future__ import annotations

import datetime

from ..inventory import SaslSpec, TlsSpec
from ..render.key_values import parse_key_values
from .certs import first_pem, parse
from .phases import QUORUM_ON, SASL_ON, TlsState


def tls_notes(tls: TlsSpec, running: TlsState, cert_pem: str | None, now: datetime.datetime,
              plaintext_clients: int | None, client_port: int) -> list[str]:
    """The server's TLS in a few words: its quorum and client traffic, its certificate's expiry (a warning
    under [tls] renew_days), and while plaintext clients may still connect, how many do."""
    if not (tls.enabled or running.stores):
        return []
    quorum = ("quorum encrypted (mutual TLS)" if running.quorum == QUORUM_ON else
              f"quorum in TLS phase {running.quorum} of {QUORUM_ON}" if running.quorum else "quorum in plaintext")
    client = f"clients: TLS on {tls.secure_client_port}" if running.client else "clients: plaintext only"
    if running.client and tls.client != "required":
        client += f" and plaintext on {client_port}"
    notes = [f"TLS: {quorum}; {client}"]
    pem = first_pem(cert_pem or "")
    if pem:
        info = parse(pem)
        left = info.days_left(now)
        if left <= 0:
            notes.append(f"certificate EXPIRED on {info.not_after:%Y-%m-%d}: peers and clients refuse it; "
                         f"run clusterctl tls renew")
        elif left < tls.renew_days:
            notes.append(f"certificate expires in {left:.0f} days ({info.not_after:%Y-%m-%d}): clusterctl apply "
                         f"(or tls renew) issues a new one")
        else:
            notes.append(f"certificate valid until {info.not_after:%Y-%m-%d}")
    elif running.stores:
        notes.append("no certificate found on the node")
    if plaintext_clients is not None and running.client and tls.client != "required":
        notes.append(f"{plaintext_clients} plaintext client connection(s) from other hosts now")
    return notes


def sasl_notes(sasl: SaslSpec, running: TlsState, zoo_cfg: str | None) -> list[str]:
    """The server's SASL in a few words: its quorum SASL phase, and what its zoo.cfg asks of clients."""
    if not (sasl.enabled or running.sasl):
        return []
    quorum = ("quorum authenticated (SASL DIGEST-MD5)" if running.sasl == SASL_ON else
              f"quorum in SASL phase {running.sasl} of {SASL_ON}" if running.sasl else "quorum without SASL")
    settings = parse_key_values(zoo_cfg or "")
    client = ("clients: SASL required" if settings.get("enforce.auth.enabled") == "true" else
              "clients: SASL accepted" if any(k.startswith("authProvider.") for k in settings) else "clients: no SASL")
    return [f"SASL: {quorum}; {client}"]
