"""Enrollment token codes: short, typed by hand or read from a QR code, stored only as a hash.

A code is 15 symbols of Crockford's base32 (75 random bits) shown in groups of five, e.g.
``K7QMP-2XW9D-HT4RB``. Input is normalised (upper case, no separators, ``O``→``0``, ``I``/``L``→``1``) before
hashing, so a technician's typing slips do not matter. The coordinator keeps only the SHA-256 of the
normalised code.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final
from urllib.parse import quote, urlencode

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH: Final = 15
GROUP: Final = 5
_TRANSLATE: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(code: str) -> str:
    return code.strip().upper().translate(_TRANSLATE)


def token_hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def enroll_uri(coordinator_url: str, code: str, service_point: str) -> str:
    """What the QR code holds: everything ``hallmesh provision enroll`` needs."""
    query = urlencode(
        {"coordinator": coordinator_url, "token": code, "service_point": service_point}, quote_via=quote
    )
    return f"hallmesh://enroll?{query}"
