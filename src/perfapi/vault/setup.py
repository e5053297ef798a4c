"""The keyring a process uses, from its settings.

``PERFAPI_SECRET_KEY`` set: it encrypts, and ``PERFAPI_SECRET_KEYS_PREVIOUS``
decrypt as well. Unset: the key file in the data directory, created at first
start, with or without ``PERFAPI_DATABASE_URL`` (so a single server against an
external PostgreSQL needs no setup; several servers need the same key, hence
the warning at start).

The keyring is not kept in a module global or cached: :func:`keyring_of` reads
the key file at every use (a few dozen bytes; uses are webhook receipts and
sends, each costing far more). So a `perfapi secrets rotate-key` that replaces
the file is seen by every running server at once: no restart, no downtime.
"""

import logging

from perfapi.config import Settings
from perfapi.vault.keyfile import create_key_file, is_private, key_file_path, read_key_file
from perfapi.vault.keys import Keyring, parse_key

log = logging.getLogger(__name__)


def keyring_of(settings: Settings) -> Keyring:
    """The keys of ``settings``; :class:`KeyUnavailableError` when they cannot be had."""
    if settings.secret_key is not None:
        return Keyring(
            parse_key(settings.secret_key.get_secret_value(), "PERFAPI_SECRET_KEY"),
            [
                parse_key(key.get_secret_value(), "PERFAPI_SECRET_KEYS_PREVIOUS")
                for key in settings.secret_keys_previous
            ],
        )
    return read_key_file(key_file_path(settings.data_dir))


def prepare_keys(settings: Settings) -> Keyring:
    """The keyring at start: the key file is created if it is the one used and missing."""
    if settings.secret_key is None:
        path = key_file_path(settings.data_dir)
        if create_key_file(path):
            log.info(
                "created the secret key file %s (mode 0600): back it up with the database",
                path,
                extra={"key_file": str(path)},
            )
        elif not is_private(path):
            log.warning(
                "the secret key file %s is readable by other users: chmod 600 it",
                path,
                extra={"key_file": str(path)},
            )
    return keyring_of(settings)


def warn_if_unshared(settings: Settings) -> None:
    """An external database with a key file: fine for one server, wrong for several."""
    if settings.secret_key is None and settings.database_url is not None:
        path = key_file_path(settings.data_dir)
        log.warning(
            "PERFAPI_SECRET_KEY is not set: stored webhook secrets are encrypted under the key "
            "file %s of this host. Servers sharing this database need the same key: set "
            "PERFAPI_SECRET_KEY (the first key line of that file) on every host",
            path,
            extra={"key_file": str(path)},
        )
