# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Text tokens, the same spelling as libsockdup's (userlib/token.c).

A token is ``sd1_`` followed by the 16 cookie bytes in unpadded base64url:
22 characters of ``A-Z a-z 0-9 - _``.  Only the canonical spelling decodes:
the last character carries 2 bits of the cookie and its 4 low bits must be
zero, so one cookie has exactly one token.
"""

from __future__ import annotations

import base64
import re

from ._uapi import COOKIE_SIZE

PREFIX = "sd1_"
TOKEN_LEN = 26
_BODY = re.compile(r"[A-Za-z0-9_-]{22}")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def encode_token(cookie: bytes) -> str:
    """Return the text token of a 16-byte cookie."""
    if not isinstance(cookie, (bytes, bytearray, memoryview)):
        raise TypeError(f"cookie must be bytes, not {type(cookie).__name__}")
    cookie = bytes(cookie)
    if len(cookie) != COOKIE_SIZE:
        raise ValueError(f"a sockdup cookie is {COOKIE_SIZE} bytes, not {len(cookie)}")
    return PREFIX + base64.urlsafe_b64encode(cookie).decode("ascii").rstrip("=")


def _malformed(token: object) -> ValueError:
    shown = repr(token)
    if len(shown) > 70:
        shown = shown[:64] + "...'"
    return ValueError(
        f"malformed sockdup token {shown}: expected {PREFIX!r} followed by "
        "22 characters of A-Z a-z 0-9 - _")


def decode_token(token: str | bytes) -> bytes:
    """Return the 16-byte cookie of a text token.

    Raises ValueError when *token* is not a token in canonical spelling
    (surrounding whitespace, as left by ``readline()``, is not stripped),
    and TypeError when it is neither str nor bytes.
    """
    if isinstance(token, (bytes, bytearray)):
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise _malformed(token) from None
    if not isinstance(token, str):
        raise TypeError(f"a sockdup token is a str, not {type(token).__name__}")
    if len(token) != TOKEN_LEN or not token.startswith(PREFIX):
        raise _malformed(token)
    body = token[len(PREFIX):]
    if not _BODY.fullmatch(body) or _ALPHABET.index(body[-1]) & 0xF:
        raise _malformed(token)
    return base64.urlsafe_b64decode(body + "==")
