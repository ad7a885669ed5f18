"""Package files are read from their headers alone, and bad bytes are only ever a PackageFileError.

The builders here write the smallest real packages; the inventory tests use them too.
"""

from __future__ import annotations

import gzip
import io
import lzma
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from clusterctl.package_files import (PackageFileError, PackageIdentity, read_deb_identity, read_rpm_identity,
                                      tarball_top_dir)

from test_jdk_plan import ar_member, rpm_header  # the JDK tests' own package builders, reused

RPM_STRING, RPM_INT32 = 6, 4


def rpm_bytes(name: str = "jdk-17", version: str = "17.0.15", arch: str = "x86_64",
              payload: bytes = b"payload!") -> bytes:
    """An rpm as rpmbuild lays it out: lead, signature (with the header+payload size), header, payload."""
    header = rpm_header([(1000, RPM_STRING, name.encode() + b"\0"), (1001, RPM_STRING, version.encode() + b"\0"),
                         (1002, RPM_STRING, b"1\0"), (1022, RPM_STRING, arch.encode() + b"\0")])
    lead = b"\xed\xab\xee\xdb" + bytes(92)
    signature = rpm_header([(1000, RPM_INT32, struct.pack(">I", len(header) + len(payload)))])
    return lead + signature + bytes(-(len(lead) + len(signature)) % 8) + header + payload


def tar_bytes(members: dict[str, bytes], compression: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deb_bytes(control: bytes = b"Package: jdk-17\nVersion: 17.0.15\nArchitecture: amd64\n",
              compress=gzip.compress, suffix: str = ".gz") -> bytes:
    data = tar_bytes({"./usr/lib/jvm/jdk-17/release": b"JAVA_VERSION=17\n"}, "xz")
    return (b"!<arch>\n" + ar_member("debian-binary", b"2.0\n")
            + ar_member(f"control.tar{suffix}", compress(tar_bytes({"./control": control})))
            + ar_member("data.tar.xz", data + bytes(len(data) % 2)))


def tarball_bytes(top: str = "jdk-17.0.15") -> bytes:
    return tar_bytes({f"{top}/bin/java": b"#!/bin/sh\n", f"{top}/release": b'JAVA_VERSION="17"\n'}, "gz")


def write_package(path: Path) -> Path:
    """A small valid package of the kind ``path``'s suffix names (.rpm, .deb, .tar.gz, .tgz)."""
    build = rpm_bytes if path.name.endswith(".rpm") else deb_bytes if path.name.endswith(".deb") else tarball_bytes
    path.write_bytes(build())
    return path


READERS = {".rpm": (read_rpm_identity, rpm_bytes), ".deb": (read_deb_identity, deb_bytes),
           ".tar.gz": (tarball_top_dir, tarball_bytes)}


def test_rpm_identity_and_size_from_its_headers(tmp_path):
    path = tmp_path / "x.rpm"
    path.write_bytes(rpm_bytes())
    assert read_rpm_identity(path) == PackageIdentity("jdk-17", "17.0.15-1", "x86_64")


def test_an_rpm_shorter_than_its_signature_says_is_truncated(tmp_path):
    path = tmp_path / "x.rpm"
    path.write_bytes(rpm_bytes()[:-1])
    with pytest.raises(PackageFileError, match="is truncated: its rpm header says"):
        read_rpm_identity(path)


def test_a_deb_cut_inside_a_member_is_truncated(tmp_path):
    path = tmp_path / "x.deb"
    path.write_bytes(deb_bytes()[:-10])
    with pytest.raises(PackageFileError, match="is truncated: its member 'data.tar.xz'"):
        read_deb_identity(path)


def test_a_deb_without_its_data_member_is_refused(tmp_path):
    whole = deb_bytes()
    path = tmp_path / "x.deb"
    path.write_bytes(whole[:whole.index(b"data.tar.xz")])
    with pytest.raises(PackageFileError, match="has a control.tar and a data.tar member"):
        read_deb_identity(path)


@pytest.mark.parametrize("compress, suffix", [(gzip.compress, ".gz"), (lzma.compress, ".xz"), (bytes, "")])
def test_deb_control_in_each_compression(tmp_path, compress, suffix):
    path = tmp_path / "x.deb"
    path.write_bytes(deb_bytes(compress=compress, suffix=suffix))
    assert read_deb_identity(path) == PackageIdentity("jdk-17", "17.0.15", "amd64")


def test_a_deb_whose_size_field_is_negative_is_refused_not_looped_on(tmp_path):
    path = tmp_path / "x.deb"
    path.write_bytes(b"!<arch>\n" + f"{'debian-binary':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{-60:<10}`\n".encode())
    with pytest.raises(PackageFileError, match="broken ar member header"):
        read_deb_identity(path)


@pytest.mark.parametrize("field", [b"Package: jdk;reboot", b"Package: jdk 17", b"Package: $(id)"])
def test_a_package_name_that_no_package_manager_writes_is_refused(tmp_path, field):
    path = tmp_path / "x.deb"
    path.write_bytes(deb_bytes(field + b"\nVersion: 1\nArchitecture: amd64\n"))
    with pytest.raises(PackageFileError, match="the package name"):
        read_deb_identity(path)


@pytest.mark.parametrize("first, top", [("jdk-17/bin/java", "jdk-17"), ("./jdk-17/release", "jdk-17")])
def test_tarball_top_dir(tmp_path, first, top):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(tar_bytes({first: b"x"}, "gz"))
    assert tarball_top_dir(path) == top


@pytest.mark.parametrize("first", ["../etc/passwd", "/etc/passwd", "./", "jdk 17/bin", "$(id)/x", ".hidden/x"])
def test_a_tarball_that_does_not_unpack_into_one_plain_directory_is_refused(tmp_path, first):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(tar_bytes({first: b"x"}, "gz"))
    with pytest.raises(PackageFileError, match="does not unpack into one top directory"):
        tarball_top_dir(path)


def test_a_tarball_hosts_cannot_gunzip_is_refused(tmp_path):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(tar_bytes({"jdk-17/bin/java": b"x"}, "xz"))
    with pytest.raises(PackageFileError, match="not a readable tar archive"):
        tarball_top_dir(path)


@pytest.mark.parametrize("suffix", list(READERS))
@pytest.mark.parametrize("content", [b"", b"<html>not found</html>", None])
def test_garbage_empty_or_a_directory_is_a_package_file_error(tmp_path, suffix, content):
    path = tmp_path / f"x{suffix}"
    path.mkdir() if content is None else path.write_bytes(content)
    with pytest.raises(PackageFileError):
        READERS[suffix][0](path)


@pytest.mark.skipif(not shutil.which("rpmbuild"), reason="needs rpmbuild")
def test_a_real_rpm_reads_and_a_cut_copy_is_truncated(tmp_path):
    spec = tmp_path / "tiny.spec"
    spec.write_text("Name: tiny\nVersion: 1.0\nRelease: 3\nSummary: t\nLicense: MIT\nBuildArch: noarch\n"
                    "%description\nt\n%install\nmkdir -p %{buildroot}/opt/tiny\necho hi > %{buildroot}/opt/tiny/f\n"
                    "%files\n/opt/tiny/f\n")
    subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {tmp_path}/top",
                    "--define", f"_dbpath {tmp_path}/db", str(spec)], check=True, capture_output=True)
    built = next((tmp_path / "top" / "RPMS").rglob("*.rpm"))
    assert read_rpm_identity(built) == PackageIdentity("tiny", "1.0-3", "noarch")
    cut = tmp_path / "cut.rpm"
    cut.write_bytes(built.read_bytes()[:-1])
    with pytest.raises(PackageFileError, match="truncated"):
        read_rpm_identity(cut)


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="needs dpkg-deb")
@pytest.mark.parametrize("compression", ["gzip", "xz"])
def test_a_real_deb_reads_and_a_cut_copy_is_truncated(tmp_path, compression):
    root = tmp_path / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text("Package: tiny\nVersion: 1:1.0~rc1-2\nArchitecture: all\n"
                                             "Maintainer: t <t@example.com>\nDescription: t\n")
    (root / "opt").mkdir()
    (root / "opt" / "f").write_bytes(bytes(range(256)) * 64)
    built = tmp_path / "tiny.deb"
    subprocess.run(["dpkg-deb", f"-Z{compression}", "--build", str(root), str(built)], check=True,
                   capture_output=True)
    assert read_deb_identity(built) == PackageIdentity("tiny", "1:1.0~rc1-2", "all")
    cut = tmp_path / "cut.deb"
    cut.write_bytes(built.read_bytes()[:-100])
    with pytest.raises(PackageFileError, match="truncated"):
        read_deb_identity(cut)


# -- whatever the bytes ---------------------------------------------------------------------

def read_or_refuse(path: Path, suffix: str) -> object:
    """The reader's answer, or None when it refused with PackageFileError; any other exception fails."""
    try:
        return READERS[suffix][0](path)
    except PackageFileError as exc:
        assert "\n" not in str(exc)
        return None


@st.composite
def damaged(draw) -> tuple[str, bytes]:
    """A valid package of one kind, cut short, with bytes flipped or spliced in, or plain random bytes."""
    suffix = draw(st.sampled_from(list(READERS)))
    data = bytearray(READERS[suffix][1]())
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "splice", "cut"]))
        if action == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif action == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
        if not data:
            break
    if draw(st.booleans()) and draw(st.booleans()):
        data = bytearray(data[:draw(st.integers(0, 16))] + draw(st.binary(max_size=512)))
    return suffix, bytes(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged())
def test_damaged_packages_are_read_or_refused_never_crash(tmp_path, case):
    suffix, data = case
    path = tmp_path / f"damaged{suffix}"
    path.write_bytes(data)
    read_or_refuse(path, suffix)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([".rpm", ".deb"]), st.data())
def test_every_strict_prefix_of_an_rpm_or_deb_is_refused(tmp_path, suffix, data):
    whole = READERS[suffix][1]()
    cut = data.draw(st.integers(0, len(whole) - 1))
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[:cut])
    assert read_or_refuse(path, suffix) is None
