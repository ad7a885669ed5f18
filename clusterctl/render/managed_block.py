"""A block of lines that clusterctl owns inside a file it otherwise leaves alone."""

from __future__ import annotations


def markers(owner: str) -> tuple[str, str]:
    return f"# BEGIN clusterctl {owner}", f"# END clusterctl {owner}"


def extract_block(text: str, owner: str) -> str | None:
    """The body of ``owner``'s block in ``text``, or None when there is none."""
    begin, end = markers(owner)
    lines = text.splitlines()
    if begin not in lines:
        return None
    start = lines.index(begin) + 1
    stop = lines.index(end, start) if end in lines[start:] else len(lines)
    return "\n".join(lines[start:stop]) + ("\n" if stop > start else "")


def replace_block(text: str, owner: str, body: str, *, at_top: bool = False) -> str:
    """``text`` with ``owner``'s block set to ``body``; every other line kept as it was.

    A new block goes at the end (or at the top with ``at_top``); an existing one
    is replaced where it stands.
    """
    begin, end = markers(owner)
    block = [begin, *body.splitlines(), end]
    lines = text.splitlines()
    if begin in lines:
        start = lines.index(begin)
        stop = lines.index(end, start) + 1 if end in lines[start:] else len(lines)
        lines[start:stop] = block
    elif at_top:
        lines = block + lines
    else:
        lines = lines + block
    return "\n".join(lines) + "\n"
