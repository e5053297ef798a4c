"""The identity provider's signing keys: a JSON Web Key Set from a URL or a file.

Only keys a token could be accepted with are kept: RSA (RS256), EC on P-256 (ES256)
and Ed25519 (EdDSA), each with a ``kid``. Symmetric (``oct``) keys, encryption keys and
keys for other algorithms are dropped when the set is read, so no token can ever be
checked against them.
"""

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
from jwt import PyJWK, PyJWTError

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256", "EdDSA")

DEFAULT_LIFETIME_SECONDS = 600.0
MIN_LIFETIME_SECONDS = 60.0
MAX_LIFETIME_SECONDS = 86_400.0
# At most one fetch for unknown kids per this many seconds, and no retry sooner after a
# failed fetch: tokens with made-up kids must not make perfapi hammer the provider.
REFETCH_COOLDOWN_SECONDS = 10.0
# While the provider is unreachable, keys past their cache lifetime stay in use this long.
STALE_GRACE_SECONDS = 3_600.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_KEY_SET_BYTES = 1024 * 1024


class UnknownKeyError(Exception):
    """No usable key has the token's ``kid``."""


class KeysUnavailableError(Exception):
    """The key set cannot be fetched and no cached key fits."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the key set is unavailable; retry in {retry_after} s")
        self.retry_after = retry_after


class KeySource(Protocol):
    async def key_for(self, kid: str) -> PyJWK: ...

    async def aclose(self) -> None: ...


def parse_key_set(document: object) -> dict[str, PyJWK]:
    """The usable keys of a JWKS document by ``kid``; ValueError when there are none."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JSON Web Key Set: no 'keys' list")
    keys: dict[str, PyJWK] = {}
    for entry in document["keys"]:
        key = _usable_key(entry)
        if key is not None and key.key_id is not None:
            keys[key.key_id] = key
    if not keys:
        raise ValueError(
            "the JSON Web Key Set has no usable key (RS256, ES256 or EdDSA signing key with a kid)"
        )
    return keys


def _usable_key(entry: object) -> PyJWK | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
        return None
    if entry.get("kty") not in ("RSA", "EC", "OKP") or entry.get("use", "sig") != "sig":
        return None
    try:
        key = PyJWK.from_dict(entry)
    except (PyJWTError, TypeError, ValueError, KeyError, AttributeError):
        # A malformed entry is skipped like an unusable one; the other keys still count.
        return None
    return key if key.algorithm_name in ALGORITHMS else None


def cache_lifetime(cache_control: str | None) -> float:
    """Seconds to keep a fetched key set: its ``max-age``, within sane bounds."""
    if cache_control is None:
        return DEFAULT_LIFETIME_SECONDS
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return MIN_LIFETIME_SECONDS
        if name == "max-age":
            try:
                seconds = float(value.strip().strip('"'))
            except ValueError:
                return DEFAULT_LIFETIME_SECONDS
            if not math.isfinite(seconds):
                return DEFAULT_LIFETIME_SECONDS
            return min(max(seconds, MIN_LIFETIME_SECONDS), MAX_LIFETIME_SECONDS)
    return DEFAULT_LIFETIME_SECONDS


class FileKeys:
    """A key set in a file, read at start; a changed file is read again when a token
    names an unknown kid, so a rotated file (a mounted secret, say) needs no restart."""

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            self._mtime = path.stat().st_mtime_ns
            self._keys = parse_key_set(json.loads(path.read_bytes()))
        except (OSError, ValueError, RecursionError) as exc:
            raise ValueError(f"PERFAPI_JWT_JWKS_FILE {path}: {exc}") from exc

    async def key_for(self, kid: str) -> PyJWK:
        key = self._keys.get(kid)
        if key is None:
            await self._reload_if_changed()
            key = self._keys.get(kid)
        if key is None:
            raise UnknownKeyError(kid)
        return key

    async def _reload_if_changed(self) -> None:
        try:
            mtime = (await asyncio.to_thread(self._path.stat)).st_mtime_ns
            if mtime == self._mtime:
                return
            content = await asyncio.to_thread(self._path.read_bytes)
            self._keys = parse_key_set(json.loads(content))
            self._mtime = mtime
        except (OSError, ValueError, RecursionError) as exc:
            # A file caught half-written, or broken: the keys read before stay in use.
            log.warning("cannot read the JWKS file %s: %s", self._path, exc)

    async def aclose(self) -> None:
        return None


class UrlKeys:
    """A key set fetched from the provider and cached for its ``max-age``.

    A token naming a kid the cache lacks triggers one refetch (the provider rotated its
    keys), at most once per REFETCH_COOLDOWN_SECONDS. The cooldown counts from the last
    refetch for an unknown kid, not from the last regular fetch, so a key rotated just
    after a regular fetch is still picked up at once. If the provider cannot be reached,
    the keys fetched before stay in use for STALE_GRACE_SECONDS past their lifetime.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._client = client or httpx.AsyncClient(
            timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False
        )
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fresh_until = -math.inf
        self._last_failure: str | None = None
        self._retry_at = -math.inf
        self._last_kid_refetch = -math.inf
        self._attempts = 0  # finished fetches, failed ones included
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> PyJWK:
        attempts = self._attempts
        if self._clock() >= self._fresh_until:
            await self._refresh()
        key = self._usable().get(kid)
        if key is not None:
            return key
        now = self._clock()
        fetched_just_now = self._attempts != attempts
        if not fetched_just_now and now - self._last_kid_refetch >= REFETCH_COOLDOWN_SECONDS:
            self._last_kid_refetch = now
            await self._refresh()
            key = self._usable().get(kid)
            if key is not None:
                return key
        if self._last_failure is not None:
            raise KeysUnavailableError(max(1, math.ceil(self._retry_at - self._clock())))
        raise UnknownKeyError(kid)

    def _usable(self) -> Mapping[str, PyJWK]:
        if self._clock() < self._fresh_until + STALE_GRACE_SECONDS:
            return self._keys
        return {}

    async def _refresh(self) -> None:
        """Fetch the key set, unless a request queued before did, or a fetch failed
        moments ago."""
        attempts = self._attempts
        async with self._lock:
            now = self._clock()
            if self._attempts != attempts or now < self._retry_at:
                return
            try:
                async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
                    keys, lifetime = await self._fetch()
            except (httpx.HTTPError, ValueError, RecursionError, TimeoutError) as exc:
                self._last_failure = str(exc) or type(exc).__name__
                self._retry_at = now + REFETCH_COOLDOWN_SECONDS
                log.warning("cannot fetch the JWKS from %s: %s", self._url, self._last_failure)
            else:
                self._keys = keys
                self._fresh_until = now + lifetime
                self._last_failure = None
                self._retry_at = -math.inf
            finally:
                # Counted once finished: whoever queued behind this fetch then skips its own.
                self._attempts += 1

    async def _fetch(self) -> tuple[dict[str, PyJWK], float]:
        headers = {"Accept": "application/json"}
        async with self._client.stream("GET", self._url, headers=headers) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_KEY_SET_BYTES:
                    raise ValueError("the JSON Web Key Set is larger than 1 MiB")
            document: Any = json.loads(body)
            return parse_key_set(document), cache_lifetime(response.headers.get("cache-control"))

    async def aclose(self) -> None:
        await self._client.aclose()
