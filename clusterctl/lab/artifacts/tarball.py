"""A deterministic .tar.gz writer: same members in, same bytes out."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Iterable

from .members import DIR, FILE, FIXED_MTIME, SYMLINK, Member

# Level 6 is gzip's default: level 9 costs about twice the time for ~1% on the JDK.
COMPRESS_LEVEL = 6


def tar_info(member: Member) -> tarfile.TarInfo:
    """The tar header for ``member``: root-owned, FIXED_MTIME, normalised mode."""
    info = tarfile.TarInfo(member.name + ("/" if member.kind == DIR else ""))
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = member.mode
    if member.kind == DIR:
        info.type = tarfile.DIRTYPE
    elif member.kind == SYMLINK:
        info.type = tarfile.SYMTYPE
        info.linkname = member.target
    else:
        info.type = tarfile.REGTYPE
        info.size = member.size()
    return info


def write_tar_gz(members: Iterable[Member], out_path: Path) -> None:
    """Write ``members`` (in the order given) to ``out_path`` as a gzip'd POSIX tar.

    The gzip header carries no name and a zero timestamp (like ``gzip -n``),
    so the output depends only on the members.
    """
    with open(out_path, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=COMPRESS_LEVEL, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tar_info(member)
            if member.kind != FILE:
                tar.addfile(info)
            elif member.data is not None:
                tar.addfile(info, io.BytesIO(member.data))
            else:
                with open(member.source, "rb") as source:
                    tar.addfile(info, source)
