"""``perfapi secrets``: keys of the secrets encrypted at rest."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from perfapi.config import Settings
from perfapi.db.embedded import DataDirInUseError, embedded_postgres
from perfapi.ops.logs import configure_logging
from perfapi.vault.keys import VaultError, encode_key, new_key
from perfapi.vault.rotation import rotate_key

secrets_cli = typer.Typer(
    no_args_is_help=True,
    help="Keys of the webhook secrets stored encrypted (PERFAPI_SECRET_KEY or the key file).",
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def _database(settings: Settings) -> Iterator[Settings]:
    """The configured database, or the embedded one (shared with a running server)."""
    if settings.database_url is not None:
        yield settings
        return
    try:
        with embedded_postgres(settings.data_dir) as url:
            yield settings.model_copy(update={"database_url": url})
    except DataDirInUseError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(code=1) from None


@secrets_cli.command("generate-key")
def generate_key() -> None:
    """Print a new random key (base64 of 32 bytes), for PERFAPI_SECRET_KEY."""
    typer.echo(encode_key(new_key()))


@secrets_cli.command("rotate-key")
def rotate_key_command(
    new_key_text: Annotated[
        str | None,
        typer.Option(
            "--new-key",
            envvar="PERFAPI_NEW_SECRET_KEY",
            show_envvar=True,
            help="The new key (base64 of 32 bytes); default: a random one. Key file only. "
            "Prefer the environment variable: an option shows in process listings.",
        ),
    ] = None,
) -> None:
    """Re-encrypt every stored secret under a new key while servers keep serving.

    With the embedded default (no PERFAPI_SECRET_KEY), the key file gets the new key
    first, keeping the old one for decryption. With PERFAPI_SECRET_KEY, deploy the new
    key there (the old one in PERFAPI_SECRET_KEYS_PREVIOUS) first; this re-encrypts
    under it. Exits 1 when a secret could not be re-encrypted.
    """
    settings = Settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    with _database(settings) as settings:
        try:
            report = asyncio.run(rotate_key(settings, new_key_text))
        except VaultError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(code=1) from None
    for line in report.lines():
        out.print(line, highlight=False, markup=False)
    if report.failures:
        raise typer.Exit(code=1)
