"""Secrets out of what the configuration prints: ``config show`` and configuration errors.

Two kinds of secret reach the configuration: values of secret keys (a mirror's ``password``, any
``*_secret`` or ``*_token``) and credentials written into a URL (``https://user:pass@host``). Typed
fields are :class:`~pydantic.SecretStr` and dump masked already; this module also covers the raw input
an error message quotes (before any typing happened) and URL userinfo in any string.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

MASK = "***"
#: Keys whose values are secrets. ``password_env`` or ``token_url`` name where a secret lives, not the
#: secret, so only the key's last word counts.
SECRET_KEY = re.compile(r"(^|_)(password|secret|token)$", re.IGNORECASE)
#: ``scheme://userinfo@`` — userinfo cannot hold '/', '?' or '#', and a password may hold '@', so the
#: match runs to the last '@' before the path.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def mask_url_userinfo(text: str) -> str:
    """``https://user:pass@host`` → ``https://user:***@host``; a userinfo without ':' (a token) is masked whole."""

    def replace(match: re.Match[str]) -> str:
        user, colon, _ = match.group("userinfo").partition(":")
        return match.group("scheme") + (f"{user}:{MASK}" if colon else MASK) + "@"

    return _USERINFO.sub(replace, text)


def masked(value: Any, key: str | None = None) -> Any:
    """``value`` (a setting, a dump or raw input, under ``key``) with every secret replaced by ``***``."""
    if isinstance(value, SecretStr) or (key is not None and SECRET_KEY.search(key) and value not in (None, "")):
        return MASK
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return mask_url_userinfo(value)
    return value
