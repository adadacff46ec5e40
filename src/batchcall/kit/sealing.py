"""Secrets kept at rest (a provider account's auth token or password), sealed with Fernet keys from
``BATCHCALL_SECRET_KEYS``.

The setting lists one or more keys, comma-separated: the first seals, every one of them opens, so keys
rotate by putting a new key first, running ``batchcall rotate-secrets`` (which seals every secret again
with it), and then dropping the old key. Without a key nothing is sealed: a secret cannot be stored.
"""

import json
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from batchcall.kit.errors import Conflict

KEYS_SETTING = "BATCHCALL_SECRET_KEYS"


class NoSealingKey(Conflict):
    """No key is configured to seal secrets with."""

    def __init__(self) -> None:
        super().__init__(
            f"{KEYS_SETTING} is not set, so secrets cannot be stored; set it to a key made by "
            "`batchcall secret-key` and restart the server"
        )


class SealBroken(Conflict):
    """A sealed secret none of the configured keys opens: the key that sealed it was dropped too soon."""

    def __init__(self) -> None:
        super().__init__(
            f"no key in {KEYS_SETTING} opens a stored secret: put back the key it was sealed with (keys "
            "rotate by adding the new one first, running `batchcall rotate-secrets`, then dropping the old)"
        )


def new_key() -> str:
    return Fernet.generate_key().decode()


class Sealer:
    def __init__(self, keys: str) -> None:
        parsed = [key.strip() for key in keys.split(",") if key.strip()]
        self._fernet = MultiFernet([Fernet(key) for key in parsed]) if parsed else None

    def _keys(self) -> MultiFernet:
        if self._fernet is None:
            raise NoSealingKey()
        return self._fernet

    def seal(self, secrets: Mapping[str, str]) -> str:
        return self._keys().encrypt(json.dumps(dict(secrets), sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, str]:
        try:
            opened: dict[str, str] = json.loads(self._keys().decrypt(sealed.encode()))
        except InvalidToken:
            raise SealBroken() from None
        return opened

    def reseal(self, sealed: str) -> str:
        """The same secrets sealed with the first key."""
        try:
            return self._keys().rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SealBroken() from None
