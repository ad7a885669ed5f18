"""The cluster's certificate authority on the controller: it signs the servers' requests and the controller's
own client certificate; no server's private key ever comes here.

The managed CA is made once per cluster, by the first run that needs it (never
by a plan or a dry run), in a directory beside the super user's secret that
only its owner reads: ``<cluster>.tls/ca.key`` (mode 600) and ``ca.crt``.
Back it up like that secret, and copy the directory to manage the cluster
from a second controller. With ``[tls] ca = { cert, key }`` the operator's CA
signs instead, and clusterctl keeps only its own client certificate there.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..inventory import Inventory
from ..zk import superuser
from .certs import CertInfo, parse

CA_DAYS = 3650  # the managed CA's own lifetime; the certificates it issues live [tls] days
CLIENT_NAME = "clusterctl"  # the subject of the controller's client certificate
BACKDATE = datetime.timedelta(minutes=5)  # a node whose clock is a little behind still accepts a new certificate


def tls_dir(inventory: Inventory) -> Path:
    """Where this controller keeps the cluster's CA and its own client certificate (mode 700)."""
    return superuser.secret_path(inventory).parent / f"{inventory.cluster.name}.tls"


@dataclass(frozen=True)
class ClientFiles:
    """The controller's client certificate, key and the CA to trust, as paths (what kazoo and ssl take)."""

    cert: Path
    key: Path
    ca: Path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write_private(path: Path, data: bytes) -> None:
    """``data`` into ``path``, readable by its owner alone from the first byte (made beside, then renamed)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


class Authority:
    """The CA that signs this cluster's certificates (loaded; see :func:`authority`)."""

    def __init__(self, key, cert, cert_path: Path):
        self._key, self._cert, self.cert_path = key, cert, cert_path

    @property
    def pem(self) -> str:
        from cryptography.hazmat.primitives import serialization
        return self._cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_id(self) -> str:
        """The id every certificate it signs names as its issuer's (sha1 of its public key, RFC 5280)."""
        from cryptography import x509
        return x509.SubjectKeyIdentifier.from_public_key(self._cert.public_key()).digest.hex()

    @property
    def info(self) -> CertInfo:
        return parse(self.pem)

    def sign(self, csr_pem: str, names: tuple[str, ...], days: int) -> str:
        """A certificate for the request ``csr_pem`` naming ``names`` (DNS names and addresses), for both
        ends of TLS (a server is also a client of its peers), valid ``days``; PEM."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError as exc:
            raise UsageError(f"not a certificate signing request: {exc}") from None
        if not csr.is_signature_valid:
            raise UsageError("the certificate signing request's signature does not verify")
        alt = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(self._cert.subject)
                .public_key(csr.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE)
                .not_valid_after(now + datetime.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                             data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._cert.public_key()),
                               critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
                .sign(self._key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM).decode()


def _make_ca(name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    # Each CA's name is its own: ZooKeeper's PEM truststore files each certificate under its subject's name,
    # so of two CAs named alike (the old and the new one while the CA is rotated) it would keep the last alone.
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest.hex()[:12]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"clusterctl CA of {name} ({key_id})")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return cert.public_bytes(serialization.Encoding.PEM)


def _paths(inventory: Inventory) -> tuple[Path, Path]:
    tls = inventory.zookeeper.tls
    if not tls.managed:
        return tls.ca_cert, tls.ca_key
    return tls_dir(inventory) / "ca.crt", tls_dir(inventory) / "ca.key"


def existing_ca_pem(inventory: Inventory) -> str | None:
    """The CA's certificate if this controller has it, else None; never makes one (plans use this)."""
    return _read_cert(_paths(inventory)[0])


def _read_cert(cert_path: Path) -> str | None:
    try:
        return cert_path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"{cert_path}: cannot read the cluster's CA certificate: {exc.strerror}") from None


def authority(inventory: Inventory) -> Authority:
    """The cluster's CA: the operator's, or the managed one, made (key mode 600) the first time it is needed."""
    cert_path, key_path = _paths(inventory)
    if inventory.zookeeper.tls.managed and not cert_path.exists():
        _write_new_ca(inventory, cert_path, key_path)
    where = "[tls] ca" if not inventory.zookeeper.tls.managed else "the managed CA"
    return _load(inventory, cert_path, key_path, where)


def _write_new_ca(inventory: Inventory, cert_path: Path, key_path: Path) -> None:
    key, cert = _make_ca(inventory.cluster.name)
    _write_private(key_path, _pem_key(key))
    _write_private(cert_path, _pem_cert(cert))


def _load(inventory: Inventory, cert_path: Path, key_path: Path, where: str) -> Authority:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise UsageError(f"{exc.filename}: {where} is incomplete on this controller; copy {tls_dir(inventory)} "
                         f"from the controller that made it") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{key_path}: {where}: cannot load the CA's certificate and unencrypted key: {exc}") from None
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        raise UsageError(f"{key_path}: {where}: the key is not the certificate's ({cert_path})")
    return Authority(key, cert, cert_path)


def client_files(inventory: Inventory, ca: Authority | None = None, trust: str | None = None) -> ClientFiles:
    """The controller's own client certificate, made (or renewed) with the CA when it is missing, expiring or
    from another CA; its key is made here and stays here (mode 600). The controller trusts ``trust`` (PEM;
    both CAs while the CA is replaced), else the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from .certs import reissue_reason
    base = tls_dir(inventory)
    files = ClientFiles(base / "client.crt", base / "client.key", base / "trust.pem")
    ca = ca or authority(inventory)
    tls = inventory.zookeeper.tls
    try:
        current = parse(files.cert.read_text()) if files.key.exists() else None
    except (OSError, ValueError):
        current = None
    if reissue_reason(current, names=(CLIENT_NAME,), ca_key_id=ca.key_id, now=_now(),
                      renew_days=tls.renew_days) is not None:
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CLIENT_NAME)])).sign(key, hashes.SHA256()))
        from cryptography.hazmat.primitives import serialization
        signed = ca.sign(csr.public_bytes(serialization.Encoding.PEM).decode(), (CLIENT_NAME,), tls.days)
        _write_private(files.key, _pem_key(key))
        _write_private(files.cert, signed.encode())
    trust = trust or ca.pem
    if not files.ca.exists() or files.ca.read_text() != trust:
        _write_private(files.ca, trust.encode())
    return files


def existing_client_files(inventory: Inventory) -> ClientFiles | None:
    """The controller's client certificate when it has one already (read-only commands and dry runs), else None."""
    base = tls_dir(inventory)
    files = ClientFiles(base / "client.crt", base / "client.key", base / "trust.pem")
    return files if all(p.exists() for p in (files.cert, files.key, files.ca)) else None


# Replacing the managed CA (see clusterctl.tls.rotation): the new one waits beside the current one until every
# server trusts it alone, then takes its place; the old one is kept aside in retired/, never deleted.

def next_paths(inventory: Inventory) -> tuple[Path, Path]:
    """Where the CA that replaces the managed one waits while the ensemble moves to it (cert, key)."""
    return tls_dir(inventory) / "ca.next.crt", tls_dir(inventory) / "ca.next.key"


def rotation_under_way(inventory: Inventory) -> bool:
    """A new managed CA was made and has not replaced the current one yet."""
    return inventory.zookeeper.tls.managed and next_paths(inventory)[0].exists()


def existing_next_ca_pem(inventory: Inventory) -> str | None:
    """The waiting CA's certificate, or None (never makes one: dry runs use this)."""
    return _read_cert(next_paths(inventory)[0])


def next_authority(inventory: Inventory) -> Authority:
    """The CA that replaces the managed one, made (key mode 600) by the first rotation run that needs it."""
    cert_path, key_path = next_paths(inventory)
    if not cert_path.exists():
        _write_new_ca(inventory, cert_path, key_path)
    return _load(inventory, cert_path, key_path, "the new managed CA")


def retired_dir(inventory: Inventory) -> Path:
    return tls_dir(inventory) / "retired"


def retire_current(inventory: Inventory) -> Path:
    """The new CA in the managed one's place, the old one kept in retired/ (its certificate's date and key id
    in the names); each step can be run again after an interruption. Returns the retired certificate's path."""
    cert_path, key_path = _paths(inventory)
    next_cert, next_key = next_paths(inventory)
    current = parse(cert_path.read_text())
    kept = retired_dir(inventory) / f"ca-{current.not_after:%Y%m%d}-{current.key_id[:12]}.crt"
    if next_cert.exists() and current.key_id != parse(next_cert.read_text()).key_id and not kept.exists():
        if key_path.exists():
            _write_private(kept.with_suffix(".key"), key_path.read_bytes())
        _write_private(kept, cert_path.read_bytes())
    if next_key.exists():
        os.replace(next_key, key_path)
    if next_cert.exists():
        os.replace(next_cert, cert_path)
    return kept
