"""Text for a terminal: log-derived values can carry bytes that drive the terminal instead of
being shown (an ESC sequence that clears the screen or rewrites the title bar, a carriage return
that overprints the line, a bidi override that reverses what is read). ``safe`` shows every such
character as a visible escape, so the text reads as what it is and cannot steer the terminal."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from typing import Any

# Cc: C0 controls (ESC, CR, LF, BEL, ...), DEL and C1 controls (CSI U+009B, ...).
# Cf: format characters, among them the bidi overrides and isolates (U+202A-U+202E,
# U+2066-U+2069) and zero-width characters. Zl, Zp: the line and paragraph separators.
_UNSAFE = frozenset(("Cc", "Cf", "Zl", "Zp"))


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def safe(value: Any) -> str:
    """``value`` as one line of inert text: control, format and separator characters (C0, C1,
    DEL, ESC of any escape sequence, bidi overrides, line separators) become visible escapes
    such as ``\\x1b`` and ``\\u202e``; ``None`` is the empty string."""
    text = "" if value is None else str(value)
    return "".join(_escape(c) if unicodedata.category(c) in _UNSAFE else c for c in text)


def safe_lines(text: str) -> list[str]:
    """Multi-line text built from escaped values (such as a Markdown report), split on its
    newlines with every line made inert by ``safe``."""
    return [safe(line) for line in text.split("\n")]


def safe_json(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON that is inert at a terminal: ASCII only (every other character as a
    ``\\u`` escape, which JSON already does for C0 controls), DEL escaped too; datetimes as
    ISO 8601, other unknown values as text."""
    text = json.dumps(value, indent=indent, ensure_ascii=True, default=_json_default)
    return text.replace("\x7f", "\\u007f")


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
