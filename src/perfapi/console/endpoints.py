"""``GET /`` and ``GET /console/{asset}``: the console's page and its files.

Not part of the API document: the console is a client of the API, like any other.
"""

from importlib.resources import files

from fastapi import APIRouter, Request, Response
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

ASSETS_PATH = "/console"
ASSETS_DIR = str(files("perfapi.console") / "static")

# The page runs only its own files and talks only to its own origin: a script injected
# through data would have nowhere to load from and nowhere to send a key. Text from the
# API is rendered as text (textContent), never parsed as markup.
SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # The files change with perfapi's version and carry no fingerprint in their names:
    # a browser keeps them but asks (with their ETag) before each use.
    "Cache-Control": "no-cache",
}

# StaticFiles resolves names inside the directory only (no `..` escapes), answers
# If-None-Match with 304, and raises a 404 the problem handler turns into problem+json.
_static = StaticFiles(directory=ASSETS_DIR)


async def _serve(name: str, request: Request) -> Response:
    response = await _static.get_response(name, request.scope)
    response.headers.update(SECURITY_HEADERS)
    return response


# HEAD as well: uptime checks and link checkers ask for the headers only.
@router.api_route("/", methods=["GET", "HEAD"])
async def console_page(request: Request) -> Response:
    return await _serve("index.html", request)


@router.api_route(ASSETS_PATH + "/{asset:path}", methods=["GET", "HEAD"])
async def console_asset(asset: str, request: Request) -> Response:
    return await _serve(asset, request)
