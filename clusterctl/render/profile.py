"""Login-shell snippets for /etc/profile.d: exported variables and PATH additions.

A snippet is a whole file that clusterctl owns (``java.sh``, ``zookeeper.sh``);
/etc/profile itself and every other file are left alone.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HEADER = "# Managed by clusterctl: edits here are overwritten on the next run.\n"


def sh_escaped(value: str) -> str:
    """``value`` for use inside double quotes: $VAR references still expand, nothing else is special."""
    if "\n" in value:
        raise ValueError(f"a profile value cannot span lines: {value!r}")
    return re.sub(r'(["\\`])', r"\\\1", value)


def render_profile_snippet(exports: dict[str, str], path_additions: list[str]) -> str:
    """An /etc/profile.d script exporting ``exports`` (in order), then putting each of
    ``path_additions`` in front of PATH unless PATH has it already.

    Values may refer to variables exported before them (``"$ZOOKEEPER_HOME/bin"``).
    Sourcing the script twice leaves PATH as sourcing it once does.
    """
    lines = [HEADER]
    for name, value in exports.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a shell variable name: {name!r}")
        lines.append(f'export {name}="{sh_escaped(value)}"\n')
    # Reversed, so that the first addition ends up first in PATH.
    for entry in reversed(path_additions):
        escaped = sh_escaped(entry)
        lines.append(f'case ":$PATH:" in\n'
                     f'    *:"{escaped}":*) ;;\n'
                     f'    *) PATH="{escaped}${{PATH:+:$PATH}}" ;;\n'
                     f'esac\n')
    if path_additions:
        lines.append("export PATH\n")
    return "".join(lines)
