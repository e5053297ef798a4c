"""The console as served: its page and files, their headers, and what they may load and call."""

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx

from perfapi.app import create_app
from perfapi.config import Settings
from perfapi.console.endpoints import ASSETS_DIR
from tests.console.browsing import REPO_ROOT
from tests.support import assert_problem

STATIC = Path(ASSETS_DIR)
OWN_FILES = [
    path
    for path in STATIC.rglob("*")
    if path.is_file() and "vendor" not in path.relative_to(STATIC).parts
]
SCRIPTS = [path for path in OWN_FILES if path.suffix == ".js"]


class _Links(HTMLParser):
    """The URLs a page loads: script src, link href."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("src") if tag == "script" else found.get("href") if tag == "link" else None
        if url is not None:
            self.urls.append(url)


def _loaded_by_the_page() -> list[str]:
    parser = _Links()
    parser.feed((STATIC / "index.html").read_text())
    return parser.urls


def _assert_secured(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_page_is_served_at_the_root_with_strict_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>perfapi console</title>" in response.text
    _assert_secured(response)
    head = await client.head("/")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == response.headers["content-length"]


async def test_every_file_the_page_loads_comes_from_perfapi_with_the_same_headers(
    client: httpx.AsyncClient,
) -> None:
    urls = _loaded_by_the_page()
    assert len(urls) >= 5  # icon, two style sheets, uPlot, the app
    for url in urls:
        # Relative to the page, so a proxy's path prefix keeps working; never another host.
        assert url.startswith("console/"), url
        response = await client.get("/" + url)
        assert response.status_code == 200, url
        _assert_secured(response)
        expected = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        assert expected[Path(url).suffix] in response.headers["content-type"], url


async def test_a_file_is_revalidated_by_its_etag(client: httpx.AsyncClient) -> None:
    first = await client.get("/console/js/main.js")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-cache"
    tag = first.headers["etag"]
    again = await client.get("/console/js/main.js", headers={"If-None-Match": tag})
    assert again.status_code == 304


async def test_unknown_and_escaping_paths_are_404_problems(client: httpx.AsyncClient) -> None:
    for path in (
        "/console/nothing-here.js",
        "/console/",
        "/console/js",
        "/console/%2e%2e/endpoints.py",
        "/console/..%2f__init__.py",
        "/console/%2e%2e/%2e%2e/config.py",
    ):
        assert_problem(await client.get(path), 404)
    assert_problem(await client.post("/"), 405)


def test_the_console_is_not_part_of_the_api_document() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/console")]


def test_the_console_loads_nothing_from_elsewhere() -> None:
    for path in OWN_FILES:
        if path.suffix not in {".js", ".css", ".html"}:
            continue
        text = path.read_text()
        assert not re.search(r"https?://|//cdn|@import", text), path
    for script in SCRIPTS:
        for specifier in re.findall(r'^import .* from "([^"]+)";$', script.read_text(), re.M):
            assert specifier.startswith(("./", "../")), (script, specifier)


def test_api_text_is_never_parsed_as_markup() -> None:
    """Text from the API reaches the page through textContent and text nodes only."""
    for script in SCRIPTS:
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, (script, sink)
        assert "new Function" not in text, script


def _documented_paths() -> set[str]:
    paths = create_app(Settings()).openapi()["paths"]
    return {re.sub(r"\{[^}]+\}", "{}", path.lstrip("/")) for path in paths}


def test_the_console_calls_only_documented_operations() -> None:
    """The console is built on the public API: every path it calls is in the OpenAPI
    document (no private endpoint exists for it)."""
    called = set()
    for script in SCRIPTS:
        for literal in re.findall(r"[`\"'](v1/[^`\"'?]*)[`\"']", script.read_text()):
            called.add(re.sub(r"\$\{[^}]+\}", "{}", literal))
    assert called <= _documented_paths(), called - _documented_paths()
    # The views' reads, each at least once: a renamed path would fail above, a dropped view here.
    assert {
        "v1/objectives",
        "v1/objectives/{}/key-results",
        "v1/key-results/{}/check-ins",
        "v1/kpis/{}/series",
        "v1/kpis/{}/forecast",
        "v1/kpis/{}/anomalies",
        "v1/kpis/{}/attainment",
        "v1/reports/goal-achievement",
        "v1/reports/alignment",
        "v1/insights",
        "v1/events/stream",
    } <= called


def test_the_vendored_uplot_is_the_version_the_makefile_pins() -> None:
    pinned = re.search(r"^UPLOT_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert pinned is not None
    vendored = STATIC / "vendor" / "uplot"
    banner = (vendored / "uPlot.iife.min.js").read_text()[:200]
    assert f"(v{pinned.group(1)})" in banner
    assert (vendored / "uPlot.min.css").stat().st_size > 0
    assert "MIT License" in (vendored / "LICENSE").read_text()
