"""Posting one delivery to a receiver, guarded (DESIGN 9: protection of the sender).

The URL is checked again at every attempt (a name may resolve elsewhere since the
endpoint was saved) and the request goes to an address the check approved, not
to what the name resolves to a moment later. The whole attempt, resolving
included, has ``PERFAPI_WEBHOOK_TIMEOUT_SECONDS``; redirects are not followed; at
most 64 KB of the answer is read, uncompressed, and its first kilobyte kept.
Connections are not reused: one opened for one host name is never handed a
request for another that shares its address.
"""

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from perfapi import __version__
from perfapi.webhook_endpoints.targets import (
    IpAddress,
    Resolver,
    Target,
    TargetRefusedError,
    check_target,
    system_resolver,
)

READ_LIMIT = 64 * 1024
KEPT_BODY_CHARS = 1024


@dataclass(frozen=True)
class Answer:
    status: int | None
    body: str | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _text(raw: bytes) -> str:
    # PostgreSQL text holds no NUL.
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")[:KEPT_BODY_CHARS]


def _pinned_url(url: str, target: Target, address: IpAddress) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    return urlunsplit((target.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


class Sender:
    def __init__(
        self,
        *,
        timeout_seconds: float,
        allow_private: bool,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._timeout = timeout_seconds
        self._allow_private = allow_private
        self._resolve = resolve
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # no proxy or netrc from the environment
            timeout=timeout_seconds,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        started = time.monotonic()

        def answer(status: int | None, raw: bytes | None, error: str | None) -> Answer:
            elapsed = round((time.monotonic() - started) * 1000)
            return Answer(status, None if raw is None else _text(raw), error, elapsed)

        try:
            async with asyncio.timeout(self._timeout):
                target = await check_target(
                    url, allow_private=self._allow_private, resolve=self._resolve
                )
                status, raw = await self._post_to_any(target, url, headers, body)
        except TargetRefusedError as exc:
            return answer(None, None, f"refused: {exc}")
        except TimeoutError:
            return answer(None, None, f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as exc:
            return answer(None, None, _described(exc))
        error = None
        if 300 <= status < 400:
            error = "redirects are not followed"
        elif not 200 <= status < 300:
            error = f"the receiver answered {status}"
        return answer(status, raw, error)

    async def _post_to_any(
        self, target: Target, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Post to the first approved address that accepts a connection."""
        request_headers = {
            **headers,
            "Host": _host_header(target),
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
            "User-Agent": f"perfapi-webhooks/{__version__}",
        }
        extensions: dict[str, str] = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        for index, address in enumerate(target.addresses):
            try:
                async with self._client.stream(
                    "POST",
                    _pinned_url(url, target, address),
                    content=body,
                    headers=request_headers,
                    extensions=extensions,
                ) as response:
                    raw = bytearray()
                    async for chunk in response.aiter_raw():
                        raw += chunk
                        if len(raw) >= READ_LIMIT:
                            break
                    return response.status_code, bytes(raw[:READ_LIMIT])
            except httpx.ConnectError:
                if index == len(target.addresses) - 1:
                    raise
        raise AssertionError("a target has at least one address")


def _described(exc: httpx.HTTPError) -> str:
    detail = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {detail}"[:500].replace("\x00", "")
