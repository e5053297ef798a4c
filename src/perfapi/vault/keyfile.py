"""The embedded default: keys in a file in the data directory, mode 0600.

One key per line, base64; the first encrypts, every one decrypts; ``#`` starts a
comment. The file is never written in place: a new version goes to a temporary
file (0600 from its creation), is flushed to disk, and then either replaces the
old one (``os.replace``, a rotation) or is linked to the final name, which fails
if the file exists (the first start). So two processes starting at once agree on
one key, and a reader never sees half a file.
"""

import contextlib
import os
import stat
from pathlib import Path

from perfapi.vault.keys import Keyring, KeyUnavailableError, encode_key, new_key, parse_key

KEY_FILE_NAME = "secret.key"
_HEADER = (
    "# perfapi secret keys: the first line encrypts, every line decrypts.\n"
    "# Keep this file private and back it up with the database: without it the\n"
    "# stored webhook secrets cannot be read.\n"
)


def key_file_path(data_dir: Path) -> Path:
    return data_dir.expanduser().resolve() / KEY_FILE_NAME


def read_key_file(path: Path) -> Keyring:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise KeyUnavailableError(
            f"the secret key file {path} is missing: restore it from a backup, or set "
            "PERFAPI_SECRET_KEY"
        ) from None
    except OSError as exc:
        raise KeyUnavailableError(
            f"the secret key file {path} cannot be read: {exc.strerror}"
        ) from None
    lines = [line.strip() for line in text.splitlines()]
    keys = [
        parse_key(line, f"line {number} of {path}")
        for number, line in enumerate(lines, start=1)
        if line and not line.startswith("#")
    ]
    if not keys:
        raise KeyUnavailableError(f"the secret key file {path} holds no key")
    return Keyring(keys[0], keys[1:])


def is_private(path: Path) -> bool:
    """Readable by its owner alone (or gone: reading it will say so)."""
    try:
        return not path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    except OSError:
        return True


def _written_aside(path: Path, keyring: Keyring) -> Path:
    """The keyring in a new 0600 file next to ``path``, on disk."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.{new_key().hex()[:8]}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(_HEADER + "".join(encode_key(key) + "\n" for key in keyring.keys))
        handle.flush()
        os.fsync(handle.fileno())
    return aside


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def create_key_file(path: Path) -> bool:
    """Create the file with a new key unless it exists; whether this call created it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return False
        aside = _written_aside(path, Keyring(new_key()))
        try:
            os.link(aside, path)
        except FileExistsError:
            return False  # another process was first: its key is the one
        finally:
            aside.unlink()
        _sync_directory(path.parent)
    except OSError as exc:
        raise KeyUnavailableError(
            f"the secret key file {path} cannot be created: {exc.strerror}"
        ) from None
    return True


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Replace the file with ``keyring``, atomically."""
    try:
        aside = _written_aside(path, keyring)
        try:
            os.replace(aside, path)
        except BaseException:
            with contextlib.suppress(OSError):
                aside.unlink()
            raise
        _sync_directory(path.parent)
    except OSError as exc:
        raise KeyUnavailableError(
            f"the secret key file {path} cannot be written: {exc.strerror}"
        ) from None
