"""Camera passwords encrypted at rest with Fernet; plaintext exists only when a stream is opened."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from storage.errors import StorageError


class CredentialCipher:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise StorageError("security.credentials_key is not a Fernet key; create one with `matthan genkey`") from exc

    def encrypt(self, password: str) -> str:
        return self._fernet.encrypt(password.encode()).decode() if password else ""

    def decrypt(self, token: str) -> str:
        if not token:
            return ""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise StorageError(
                "a camera password cannot be decrypted: security.credentials_key changed since it was saved; "
                "restore the old key or enter the camera's password again"
            ) from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()
