"""The support bundle's contents, pure: secrets redacted out of every text, and where each file goes.

Redaction is by shape and by value. By shape: the value of every setting whose
name says password, passwd, secret or digest (``ssl.keyStore.password=…``,
``-Dzookeeper.ssl.trustStore.password=…``, a JAAS ``password="…"``,
``…superDigest=super:…``; a JAAS ``user_NAME="…"``, which is NAME's password) in any text. By value: the secrets this controller
knows (the super user's password and its digest) wherever they appear. PEM private keys, whole.
(Key and trust store files themselves are never collected: see remote/zk_node.py.)
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"
# NAME=VALUE, NAME: VALUE or NAME="VALUE" (its quote escaped too, as in JSON), where NAME says it holds a
# secret; the value ends at a space, a quote, a backslash, a comma or a semicolon.
_SECRET_SETTING = re.compile(
    r"""(?P<name>(?:[\w.\-]*(?:password|passwd|secret|digest)[\w.\-]*|\buser_[\w.\-]+)\s*[=:]\s*(?:\\?["'])?)"""
    r"""(?P<value>[^\s"',;\\]+)""",
    re.IGNORECASE)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every secret-looking setting's value and every one of ``secrets`` replaced (pure)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _PRIVATE_KEY.sub(REDACTED, text)
    return _SECRET_SETTING.sub(lambda m: m.group("name") + REDACTED, text)


def member_name(path: str) -> str:
    """Where a node's file goes under its host's directory: its path without the leading slash (pure)."""
    cleaned = "/".join(part for part in path.split("/") if part not in ("", ".", ".."))
    return cleaned or "unnamed"
