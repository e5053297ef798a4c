"""Where keys come from: PERFAPI_SECRET_KEY, or the key file in the data directory."""

import logging
import os
import stat
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from perfapi.config import Settings
from perfapi.vault.keyfile import create_key_file, key_file_path, read_key_file, write_key_file
from perfapi.vault.keys import Keyring, KeyUnavailableError, encode_key, key_id, new_key
from perfapi.vault.setup import keyring_of, prepare_keys, warn_if_unshared


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_key_file_is_created_private_at_first_start_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    first = prepare_keys(settings)
    assert _mode(path) == 0o600
    [line] = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert line == encode_key(first.keys[0])
    # A restart (and every use in between) reads the same key.
    assert prepare_keys(settings).current_id == first.current_id
    assert keyring_of(settings).current_id == first.current_id
    assert os.listdir(path.parent) == ["secret.key"]


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    start = threading.Barrier(8)
    created: list[bool] = []

    def create() -> None:
        start.wait()
        created.append(create_key_file(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False] * 7 + [True]
    assert len(read_key_file(path).keys) == 1
    assert os.listdir(tmp_path) == ["secret.key"]


def test_a_rewrite_replaces_the_file_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    create_key_file(path)
    old = read_key_file(path)
    new = Keyring(new_key(), old.keys)
    write_key_file(path, new)
    assert _mode(path) == 0o600
    assert read_key_file(path).ids == new.ids == [new.current_id, old.current_id]
    assert os.listdir(tmp_path) == ["secret.key"]


def test_an_unusable_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    with pytest.raises(KeyUnavailableError, match=f"the secret key file {path} is missing"):
        read_key_file(path)
    path.write_text("# only a comment\n\n")
    with pytest.raises(KeyUnavailableError, match="holds no key"):
        read_key_file(path)
    path.write_text(f"{encode_key(new_key())}\nnot-a-key\n")
    with pytest.raises(KeyUnavailableError, match=f"line 2 of {path} is not base64"):
        read_key_file(path)
    with pytest.raises(KeyUnavailableError, match="is not base64"):
        prepare_keys(Settings(data_dir=tmp_path))
    not_a_directory = path / "data"
    with pytest.raises(KeyUnavailableError, match=r"key cannot be created: Not a directory"):
        prepare_keys(Settings(data_dir=not_a_directory))


def test_a_key_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = key_file_path(tmp_path)
    create_key_file(path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="perfapi.vault.setup"):
        prepare_keys(Settings(data_dir=tmp_path))
    assert "readable by other users: chmod 600 it" in caplog.text


def test_a_configured_key_is_used_and_no_key_file_made(tmp_path: Path) -> None:
    current, old = new_key(), new_key()
    settings = Settings(
        data_dir=tmp_path,
        secret_key=encode_key(current),
        secret_keys_previous=f"{encode_key(old)}, {encode_key(current)}",
    )
    keyring = prepare_keys(settings)
    assert keyring.ids == [key_id(current), key_id(old)]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": "c2hvcnQ="}, "PERFAPI_SECRET_KEY must be the base64 of 32 bytes, not 5"),
        ({"secret_key": "no key at all"}, "PERFAPI_SECRET_KEY is not base64"),
        (
            {"secret_key": encode_key(b"k" * 32), "secret_keys_previous": "c2hvcnQ="},
            "each of PERFAPI_SECRET_KEYS_PREVIOUS must be the base64 of 32 bytes",
        ),
        (
            {"secret_keys_previous": encode_key(b"k" * 32)},
            "PERFAPI_SECRET_KEYS_PREVIOUS needs PERFAPI_SECRET_KEY",
        ),
    ],
)
def test_malformed_keys_are_refused_at_start_without_echoing_them(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(**values)  # type: ignore[arg-type]
    assert message in str(raised.value)
    for value in values.values():
        assert value not in str(raised.value)


def test_an_empty_key_setting_means_unset() -> None:
    assert Settings(secret_key="").secret_key is None


def test_servers_sharing_a_database_are_told_to_share_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    external = Settings(data_dir=tmp_path, database_url="postgresql://db.example/perfapi")
    with caplog.at_level(logging.WARNING, logger="perfapi.vault.setup"):
        warn_if_unshared(Settings(data_dir=tmp_path))
        warn_if_unshared(external.model_copy(update={"secret_key": encode_key(new_key())}))
        assert caplog.text == ""
        warn_if_unshared(external)
    assert "Servers sharing this database need the same key" in caplog.text
    assert str(tmp_path / "secret.key") in caplog.text
