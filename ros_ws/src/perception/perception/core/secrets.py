"""Keep secrets out of logs: URLs lose their credentials and query, secret values become ***.

Parameters reach stdout, the ROS log file and /rosout, which every process on the robot's
network can read. A webhook URL may carry ``user:password@`` or ``?api_key=...``; anything
written about it goes through :func:`redact_url` (one URL) or :func:`redact_text` (free text
that may contain URLs, such as an exception message).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# scheme://anything-up-to-whitespace-or-quote: the URLs an error message or repr may contain.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """The URL without user:password and query string (both may carry secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # an unparsable URL may still hold a secret: show none of it
        return MASK
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    query = MASK if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted by :func:`redact_url`."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)
