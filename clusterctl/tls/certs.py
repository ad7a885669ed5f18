"""What a certificate says, and whether a server's must be issued again (pure, given the PEM text)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class CertInfo:
    """The fields of a certificate that clusterctl checks."""

    subject: str
    names: tuple[str, ...]  # DNS names and IP addresses of its subjectAltName
    not_after: datetime.datetime
    issuer_key_id: str  # sha256 of the issuer's public key as it signed it (authority key id), hex
    fingerprint: str  # sha256 of the certificate, hex
    key_id: str = ""  # its own subject key id (a CA's: what the certificates it signs name as their issuer's)

    def days_left(self, now: datetime.datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400


def parse(pem: str | bytes) -> CertInfo:
    """The first certificate of ``pem``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
    data = pem.encode() if isinstance(pem, str) else pem
    cert = x509.load_pem_x509_certificate(data)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple([*san.get_values_for_type(x509.DNSName),
                       *(str(a) for a in san.get_values_for_type(x509.IPAddress))])
    except x509.ExtensionNotFound:
        names = ()
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier or b""
    except x509.ExtensionNotFound:
        aki = b""
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return CertInfo(subject=str(cn[0].value) if cn else cert.subject.rfc4514_string(), names=names,
                    not_after=cert.not_valid_after_utc, issuer_key_id=aki.hex(),
                    fingerprint=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
                    key_id=ski.hex())


def first_pem(text: str) -> str:
    """The first PEM certificate block of ``text`` (a chain, a keystore of key and chain), or ""."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = text.find(begin)
    stop = text.find(end, start)
    return text[start:stop + len(end)] + "\n" if start >= 0 and stop >= 0 else ""


def all_pems(text: str) -> list[str]:
    """Every PEM certificate block of ``text``, in order (a truststore holding two CAs)."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    out, start = [], text.find(begin)
    while start >= 0:
        stop = text.find(end, start)
        if stop < 0:
            break
        out.append(text[start:stop + len(end)] + "\n")
        start = text.find(begin, stop)
    return out


def key_ids(text: str) -> set[str]:
    """The subject key ids of every certificate in ``text`` (the CAs a truststore holds)."""
    return {parse(block).key_id for block in all_pems(text)}


def wanted_names(host: str, *addresses: str | None) -> tuple[str, ...]:
    """The names a server's certificate must carry: its inventory name (quorum hostname verification checks
    the name in the membership line) and its addresses (a client, or a peer, known by address)."""
    names = [host]
    for address in addresses:
        if address and address not in names:
            names.append(str(ipaddress.ip_address(address)) if _is_ip(address) else address)
    return tuple(names)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def reissue_reason(current: CertInfo | None, *, names: tuple[str, ...], ca_key_id: str, now: datetime.datetime,
                   renew_days: int) -> str | None:
    """Why the server's certificate must be issued again, or None while it is good (pure)."""
    if current is None:
        return "no certificate yet"
    if current.issuer_key_id != ca_key_id:
        return "issued by another CA"
    missing = [n for n in names if n not in current.names]
    if missing:
        return f"does not name {', '.join(missing)}"
    left = current.days_left(now)
    if left < renew_days:
        return f"expires in {max(left, 0):.0f} days ({current.not_after:%Y-%m-%d})"
    return None
