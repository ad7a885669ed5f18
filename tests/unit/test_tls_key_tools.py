"""tls.sh on this machine as on a node: the key made with openssl where there is one, else with the JDK's
keytool (no password on any command line, the pending store and its password file gone once installed), a
certificate for another key refused, and a node with neither told what to install."""

from __future__ import annotations

import getpass
import grp
import os
import shutil
from importlib import resources
from pathlib import Path

import pytest

from tests.fakes import run_locally

JAVA = shutil.which("java")
JAVA_HOME = str(Path(os.path.realpath(JAVA)).parents[1]) if JAVA else ""
USER, GROUP = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
EXPORTER = resources.files("clusterctl.remote").joinpath("tls_key_pem.java").read_bytes()


def path_without_openssl(tmp_path: Path) -> str:
    """A PATH of every program this machine has but openssl (a node without it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for program in Path(directory).iterdir():
            if program.name != "openssl" and not (bin_dir / program.name).exists():
                (bin_dir / program.name).symlink_to(program)
    return str(bin_dir)


def request_and_install(tmp_path, env, java_home=JAVA_HOME, signer_key=None):
    from cryptography import x509
    from clusterctl.tls.ca import Authority, _make_ca
    ca = Authority(*_make_ca("unit"), tmp_path / "ca.crt")
    directory = tmp_path / "tls"
    made = run_locally("tls.sh", "request", directory, "node2", USER, GROUP, java_home, env=env)
    assert made.returncode == 0, made.stderr
    csr = made.stdout.decode()
    if signer_key is not None:  # a certificate for another key than the pending one
        csr = signer_key
    x509.load_pem_x509_csr(csr.encode())
    chain = ca.sign(csr, ("node2",), 30) + ca.pem
    return directory, run_locally("tls.sh", "install", directory, USER, GROUP, java_home, len(EXPORTER),
                                  payload=EXPORTER + chain.encode(), env=env)


def keystore_matches(directory: Path) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    text = (directory / "keystore.pem").read_bytes()
    key = serialization.load_pem_private_key(text, None)
    cert = x509.load_pem_x509_certificate(text[text.index(b"-----BEGIN CERTIFICATE-----"):])
    return key.public_key().public_numbers() == cert.public_key().public_numbers()


def installed_alone(directory: Path, done) -> None:
    """The install worked: the keystore holds the key of its certificate (mode 600), and nothing pending is left."""
    assert done.returncode == 0, done.stderr
    assert keystore_matches(directory) and (directory / "keystore.pem").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in directory.iterdir()) == ["keystore.pem", "server.crt"]


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl here")
def test_openssl_makes_the_key_where_the_node_has_it(tmp_path):
    installed_alone(*request_and_install(tmp_path, env=None))


@pytest.mark.skipif(not JAVA, reason="no JDK here")
def test_a_node_without_openssl_makes_the_key_with_keytool_and_no_password_is_left_behind(tmp_path):
    env = {"PATH": path_without_openssl(tmp_path)}
    made = run_locally("tls.sh", "request", tmp_path / "peek", "node2", USER, GROUP, JAVA_HOME, env=env,
                       timeout=120)
    assert made.returncode == 0, made.stderr
    pending = sorted(p.name for p in (tmp_path / "peek").iterdir())
    assert pending == ["key.pending.p12", "key.pending.pass"]
    assert all((tmp_path / "peek" / n).stat().st_mode & 0o777 == 0o600 for n in pending)
    installed_alone(*request_and_install(tmp_path, env=env))


@pytest.mark.skipif(not JAVA, reason="no JDK here")
def test_keytool_refuses_a_certificate_for_another_key(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    other = (x509.CertificateSigningRequestBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node2")]))
             .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()))
    directory, done = request_and_install(tmp_path, env={"PATH": path_without_openssl(tmp_path)},
                                          signer_key=other.public_bytes(serialization.Encoding.PEM).decode())
    assert done.returncode == 3 and b"not for the pending key" in done.stderr
    assert not (directory / "keystore.pem").exists()


def test_a_node_with_neither_openssl_nor_keytool_is_told_to_install_openssl(tmp_path):
    done = run_locally("tls.sh", "request", tmp_path / "tls", "node2", USER, GROUP, tmp_path / "no-jdk",
                       env={"PATH": path_without_openssl(tmp_path)})
    assert done.returncode == 3 and b"install openssl" in done.stderr
