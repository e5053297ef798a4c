"""``make screenshot``: docs/console.png, the README's picture of the console.

Starts a real ``perfapi serve --demo`` (on a fresh database of PERFAPI_TEST_DATABASE_URL's
server, else an embedded PostgreSQL in a temporary directory), signs in with the key it
prints, opens the New ARR KPI and photographs it with Debian's Chromium at 1280x800.

    python -m tests.console.screenshot [output.png]
"""

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import async_playwright, expect

from perfapi.config import Settings
from tests.cli.processes import perfapi_env
from tests.console.browsing import DESKTOP, REPO_ROOT, settled
from tests.console.server import serving
from tests.support import fresh_database

DEFAULT_OUTPUT = REPO_ROOT / "docs" / "console.png"


@asynccontextmanager
async def _demo_environment() -> AsyncIterator[dict[str, str]]:
    configured = os.environ.get("PERFAPI_TEST_DATABASE_URL")
    if configured:
        server = Settings(database_url=configured).database_url
        assert server is not None
        async with fresh_database(server, "screenshot") as url:
            yield perfapi_env(PERFAPI_DATABASE_URL=url)
        return
    with tempfile.TemporaryDirectory(prefix="perfapi-screenshot-") as data_dir:
        yield perfapi_env(PERFAPI_DATA_DIR=data_dir)


async def shoot(output: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Chromium is not installed: apt-get install chromium")
    async with _demo_environment() as env, serving(env, "--demo") as served:
        token = await served.token()
        await served.until_ready()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium)
            page = await browser.new_page(viewport=DESKTOP)  # type: ignore[arg-type]
            await page.goto(served.base_url + "/")
            await page.get_by_label("API key or JWT").fill(token)
            await page.get_by_role("button", name="Sign in").click()
            await (
                page.get_by_role("navigation", name="Main").get_by_role("link", name="KPIs").click()
            )
            await page.get_by_role("table").get_by_role("link", name="New ARR").click()
            await expect(page.locator("figure.chart canvas").first).to_be_visible(timeout=60_000)
            await expect(page.get_by_role("heading", name="Anomalies")).to_be_visible()
            await settled(page)
            await page.locator(":focus").evaluate("(element) => element.blur()")
            await page.screenshot(path=output)
            await browser.close()


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(output))
    print(f"wrote {output} ({output.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
