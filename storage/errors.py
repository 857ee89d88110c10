"""Storage errors.

    Sayable                      an error a UI can say in its reader's language (key + params); str() stays English
    ├── InvalidInput (ValueError)    a value the store refuses as given
    StorageError (Sayable)       anything storage cannot do; the message says what to do
    ├── DatabaseUnavailable      the database did not answer within the configured time
    ├── NotFound                 a row or object that was asked for does not exist
    ├── Conflict                 the change contradicts what is stored (duplicate, evidence on a clip-less event)
    ├── BackupError              a backup cannot be made, fails its check, or cannot be restored
    └── ObjectStoreError         the object store failed
        ├── ObjectStoreUnavailable   could not reach it (network, server down): retry later
        ├── IntegrityError           bytes read back do not match the recorded size/SHA-256
        └── ObjectHeld               the object is evidence under legal hold: the store refuses to delete it
"""


class Sayable(Exception):
    """An error a UI can put in its reader's words: `key` names the UI text, `params` fill it. str() stays the English
    message, for logs, the CLI and the API."""

    def __init__(self, message: str = "", *, key: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


class InvalidInput(Sayable, ValueError):
    """A value the store refuses as given (a ValueError: the caller's input, answered 422)."""


class StorageError(Sayable):
    """Base of all storage errors."""


class DatabaseUnavailable(StorageError):
    pass


class NotFound(StorageError):
    pass


class Conflict(StorageError):
    pass


class BackupError(StorageError):
    pass


class ObjectStoreError(StorageError):
    pass


class ObjectStoreUnavailable(ObjectStoreError):
    pass


class IntegrityError(ObjectStoreError):
    pass


class ObjectHeld(ObjectStoreError):
    pass
