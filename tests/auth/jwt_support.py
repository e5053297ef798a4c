"""A stand-in identity provider for tests: signing keys generated in the test, tokens
signed with them, and a JSON Web Key Set served over HTTP from 127.0.0.1."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt import InsecureKeyLengthWarning
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://idp.example/realms/perfapi"
AUDIENCE = "perfapi"
ALGORITHMS = ("RS256", "ES256", "EdDSA")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: PrivateKeyTypes

    @classmethod
    def generate(
        cls, alg: str = "RS256", kid: str | None = None, *, rsa_bits: int = 2048
    ) -> "SigningKey":
        private: PrivateKeyTypes
        if alg == "RS256":
            private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(alg)
        return cls(kid=kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}", alg=alg, private=private)

    def public_jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        jwk: dict[str, Any]
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ed25519.Ed25519PublicKey):
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        else:
            raise TypeError(type(public))
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        with warnings.catch_warnings():
            # Short RSA keys are made on purpose, to see perfapi refuse them.
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.encode(
                claims,
                self.private,  # type: ignore[arg-type]
                algorithm=self.alg,
                headers={"kid": kid or self.kid},
            )


def claims(**overrides: Any) -> dict[str, Any]:
    """A token's claims as the provider would issue them; ``None`` drops a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "org": "acme",
        "scope": "openid profile read write",
        "iat": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token built without a JOSE library, for the forgeries a library refuses to make:
    ``alg: none`` (no secret) and HS256 with any secret, such as a public key."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def with_payload(token: str, payload: dict[str, Any]) -> str:
    """The token with its payload swapped and its signature kept: a tampered token."""
    header, _, signature = token.split(".")
    return f"{header}.{_b64(json.dumps(payload).encode())}.{signature}"


@dataclass
class KeySetServer:
    """Serves ``{"keys": [...]}`` of ``keys`` at any path and counts the requests."""

    keys: list[SigningKey] = field(default_factory=list)
    cache_control: str | None = "max-age=600"
    fetches: int = 0
    url: str = ""
    _stop: Callable[[], Awaitable[None]] | None = None

    def document(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.keys]}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.fetches += 1
        headers = [(b"content-type", b"application/json")]
        if self.cache_control is not None:
            headers.append((b"cache-control", self.cache_control.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(self.document()).encode()})

    async def stop(self) -> None:
        """Take the server down (the provider is unreachable from then on); idempotent."""
        stop, self._stop = self._stop, None
        if stop is not None:
            await stop()


@asynccontextmanager
async def serving(server: KeySetServer) -> AsyncIterator[KeySetServer]:
    """The key set on a real HTTP server at 127.0.0.1 until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    http = uvicorn.Server(
        uvicorn.Config(server, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(http.serve(sockets=[sock]))

    async def stop() -> None:
        http.should_exit = True
        await task
        sock.close()

    server.url = f"http://127.0.0.1:{sock.getsockname()[1]}/realms/perfapi/certs"
    server._stop = stop
    try:
        yield server
    finally:
        await server.stop()


def write_key_set(path: Path, keys: list[SigningKey]) -> None:
    """Write the key set file, with a modification time later than the file had."""
    old_mtime = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(json.dumps(KeySetServer(keys=keys).document()))
    # Coarse file system clocks could give the rewrite the old time: move it on.
    mtime = max(path.stat().st_mtime_ns, old_mtime + 1_000_000_000)
    os.utime(path, ns=(mtime, mtime))
