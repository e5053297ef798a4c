"""Fixtures of the console tests: Debian's Chromium driven by Playwright, and a real
``perfapi serve --demo`` on a fresh database for the browser to talk to."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.auth.jwt_support import AUDIENCE, ISSUER, SigningKey, write_key_set
from tests.cli.processes import perfapi_env
from tests.console.browsing import DESKTOP, Console, Watched, chromium_path, watched_page
from tests.console.server import serving
from tests.support import fresh_database

# Views compute forecasts on a machine the rest of the suite keeps busy: patience, but
# every wait still ends, with a failure saying what never showed.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
async def console(
    database_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Console]:
    # Users sign in with an API key or with a JWT of the org's identity provider: the
    # server trusts a provider whose key set the test holds.
    signing_key = SigningKey.generate("ES256")
    key_set = tmp_path_factory.mktemp("idp") / "jwks.json"
    write_key_set(key_set, [signing_key])
    async with fresh_database(database_server_url, "console") as url:
        env = perfapi_env(
            PERFAPI_DATABASE_URL=url,
            PERFAPI_JWT_ISSUER=ISSUER,
            PERFAPI_JWT_AUDIENCE=AUDIENCE,
            PERFAPI_JWT_JWKS_FILE=str(key_set),
        )
        async with serving(env, "--demo") as served:
            token = await served.token()
            await served.until_ready()
            yield Console(served=served, token=token, env=env, signing_key=signing_key)


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Watched]:
    """A fresh tab (its own sessionStorage) at desktop size; fails on any page error."""
    context = await browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    try:
        watched = await watched_page(context)
        yield watched
        assert watched.errors == [], "the page hit errors"
    finally:
        await context.close()
