"""Escaping attacker-controlled strings (resource names, user agents, key names) per format.

JSON needs nothing beyond ``json.dumps``; Slack mrkdwn and one-line summaries need these; the
terminal has ``jobs.runtime.terminal``."""

from __future__ import annotations

import re

# C0 and C1 control characters except tab; DEL too. Newlines are replaced where a value must
# stay on one line.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def slack(text: object) -> str:
    """``text`` safe inside Slack mrkdwn: ``&``, ``<`` and ``>`` escaped as Slack documents, so no
    ``<!channel>``, ``<@user>`` or ``<url|label>`` can be formed; control characters dropped."""
    plain = CONTROL.sub("", str(text))
    return plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: object, limit: int) -> str:
    """``text`` on one line, control characters removed, cut to ``limit`` characters."""
    flat = " ".join(CONTROL.sub("", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
