"""What the browser tests share: the console under test, a watched tab, signing in."""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.auth.jwt_support import SigningKey
from tests.console.server import Served

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / ".perfapi" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromium_path() -> str:
    """Debian's Chromium (apt-get install chromium): Playwright's own download is not used."""
    found = shutil.which("chromium")
    if found is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if _in_ci():
            pytest.fail(f"{message}; CI is set, so the console's browser tests must run.")
        pytest.skip(f"{message}; the console's browser tests need it (CI fails without it).")
    return found


@dataclass(frozen=True)
class Console:
    """A running server with the demo data, and its first-start admin key."""

    served: Served
    token: str
    env: dict[str, str]
    signing_key: SigningKey  # the identity provider's, for JWTs the server accepts

    @property
    def url(self) -> str:
        return self.served.base_url + "/"


@dataclass
class Watched:
    """A browser tab, and what went wrong in it: uncaught errors, what the CSP refused."""

    page: Page
    errors: list[str]

    async def shoot(self, name: str) -> Path:
        """A screenshot of the whole page, named after the view and the viewport."""
        size = self.page.viewport_size
        assert size is not None
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"
        await self.page.screenshot(path=target, full_page=True)
        return target


async def watched_page(context: BrowserContext) -> Watched:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))

    def on_console(message: object) -> None:
        text = str(getattr(message, "text", ""))
        if "Content Security Policy" in text:
            errors.append(f"CSP: {text}")

    page.on("console", on_console)
    return Watched(page=page, errors=errors)


async def sign_in(tab: Watched, console: Console, token: str | None = None) -> None:
    page = tab.page
    if not page.url.startswith(console.url):
        await page.goto(console.url)
    await page.get_by_label("API key or JWT").fill(token or console.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def open_route(page: Page, route: str) -> None:
    """Go to a view by its fragment, in the same document (as a link does)."""
    await page.evaluate("(route) => { location.hash = route; }", route)


async def settled(page: Page) -> None:
    """Until the current view has loaded (the shell marks <main> busy while it loads)."""
    await expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
