"""The keyring of a request, read from the app's settings (see :mod:`perfapi.vault.setup`)."""

import logging
from typing import Annotated

from fastapi import Depends, Request

from perfapi.errors import ServiceUnavailableError
from perfapi.vault.keys import Keyring, KeyUnavailableError
from perfapi.vault.setup import keyring_of

log = logging.getLogger(__name__)


class SecretKeysUnavailableError(ServiceUnavailableError):
    slug = "secret-keys-unavailable"


async def request_keyring(request: Request) -> Keyring:
    try:
        return keyring_of(request.app.state.settings)
    except KeyUnavailableError as exc:
        # The reason names server paths: the log gets it, the client a plain 503.
        log.error("the secret keys cannot be read: %s", exc)
        raise SecretKeysUnavailableError(
            "The server's secret keys cannot be read; the operator has been told."
        ) from None


Keys = Annotated[Keyring, Depends(request_keyring)]
