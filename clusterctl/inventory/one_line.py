"""How values, keys and paths appear in a one-line error: printable, cut short, as TOML writes them."""

from __future__ import annotations

import datetime
import re

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def printable(text: object) -> str:
    """``text`` with each line break or control character escaped (\\n): an error stays one line.

    Paths are the reason: a directory may be named with a newline, and every
    path an error names starts at the inventory's own directory.
    """
    text = str(text)
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


_KINDS = ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
          (list, "an array"), (dict, "a table"), (datetime.datetime, "a date-time"),
          (datetime.date, "a date"), (datetime.time, "a time"))


def one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit] + "…"


def _kind(value: object) -> str:
    return next((name for kind, name in _KINDS if isinstance(value, kind)), type(value).__name__)


def shown(value: object) -> str:
    """``value`` as an error shows it: a scalar as TOML would write it (cut short), a table or array by kind."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value.bit_length() > 64:
        return "a huge integer"
    if isinstance(value, (int, float, str)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "…"
    return _kind(value)


def key_part(name: str) -> str:
    """``name`` as one part of a dotted TOML key: bare where TOML allows, else quoted with escapes."""
    if _BARE_KEY.fullmatch(name) and len(name) <= 60:
        return name
    quoted = "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04X}" if ord(c) < 0x10000
                     else f"\\U{ord(c):08X}" for c in name[:60])
    return f'"{quoted}{"…" if len(name) > 60 else ""}"'


def join_key(key: str, name: str) -> str:
    return f"{key}.{key_part(name)}" if key else key_part(name)

