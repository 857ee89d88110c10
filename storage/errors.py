"""Storage errors.

    StorageError                 anything storage cannot do; the message says what to do
    ├── DatabaseUnavailable      the database did not answer within the configured time
    ├── NotFound                 a row or object that was asked for does not exist
    ├── Conflict                 the change contradicts what is stored (duplicate, evidence on a clip-less event)
    ├── BackupError              a backup cannot be made, fails its check, or cannot be restored
    └── ObjectStoreError         the object store failed
        ├── ObjectStoreUnavailable   could not reach it (network, server down): retry later
        ├── IntegrityError           bytes read back do not match the recorded size/SHA-256
        └── ObjectHeld               the object is evidence under legal hold: the store refuses to delete it
"""


class StorageError(Exception):
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
