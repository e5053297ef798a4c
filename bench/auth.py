"""What signing in through an identity provider and shared rate limits cost a request.

    python -m bench.auth [--requests 600] [--batch 50]

Two `perfapi serve` processes, each on a fresh database, both accepting JWTs
(RS256, the key set from a file) and both rate limiting every caller:
  (a) an API key, limits counted in the process (the embedded default);
  (b) a JWT for the same org, limits counted in the process;
  (c) an API key, limits counted in Redis (PERFAPI_REDIS_URL, 127.0.0.1:6379).
One request at a time (`GET /v1/kpis?limit=1`, keep-alive), the three kinds in
turn by batches, so drift on a noisy machine falls on all three alike. Prints the
median request time of each and the ratios (b)/(a) and (c)/(a).
Target: each <= 1.2.
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import jwt
import redis
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bench.common import fresh_database, running_server

ISSUER = "https://idp.example/realms/perfapi"
AUDIENCE = "perfapi"
KID = "bench-rs256"
REDIS_URL = "redis://127.0.0.1:6379/0"
PATH = "/v1/kpis?limit=1"
TARGET = 1.2


def _key_set(directory: Path) -> tuple[rsa.RSAPrivateKey, Path]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": KID, "alg": "RS256"}
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return private, path


def _token(private: rsa.RSAPrivateKey) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "bench-user",
        "org": "default",  # the org a first start creates
        "scope": "read write",
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": KID})


def _timed(client: httpx.Client, headers: dict[str, str], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(PATH, headers=headers)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="timed requests of each kind")
    parser.add_argument("--batch", type=int, default=50, help="requests of a kind in a row")
    args = parser.parse_args()
    redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()  # fails clearly without Redis

    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        private, key_set = _key_set(directory)
        common = {
            "PERFAPI_JWT_ISSUER": ISSUER,
            "PERFAPI_JWT_AUDIENCE": AUDIENCE,
            "PERFAPI_JWT_JWKS_FILE": str(key_set),
            "PERFAPI_RATE_LIMIT_PER_MINUTE": "1000000",
        }
        local = stack.enter_context(running_server(stack.enter_context(fresh_database()), common))
        shared_settings = {
            **common,
            "PERFAPI_REDIS_URL": REDIS_URL,
            "PERFAPI_REDIS_KEY_PREFIX": f"perfapi-bench:{uuid.uuid4().hex}:",
        }
        shared = stack.enter_context(
            running_server(stack.enter_context(fresh_database()), shared_settings)
        )
        jwt_headers = {"Authorization": f"Bearer {_token(private)}"}
        kinds = {
            "(a) API key, limits in the process": (local.base_url, local.headers),
            "(b) JWT, limits in the process": (local.base_url, jwt_headers),
            "(c) API key, limits in Redis": (shared.base_url, shared.headers),
        }
        clients = {
            name: stack.enter_context(httpx.Client(base_url=url, trust_env=False))
            for name, (url, _) in kinds.items()
        }
        for name, (_, headers) in kinds.items():
            _timed(clients[name], headers, args.batch)  # warm up: connections, caches
        times: dict[str, list[float]] = {name: [] for name in kinds}
        while any(len(taken) < args.requests for taken in times.values()):
            for name, (_, headers) in kinds.items():
                times[name] += _timed(clients[name], headers, args.batch)

    medians = {name: statistics.median(taken) for name, taken in times.items()}
    base = medians["(a) API key, limits in the process"]
    print(f"{args.requests} timed requests of each kind, GET {PATH}, one at a time")
    for name, median in medians.items():
        print(f"{name:<40} median {median * 1e3:7.3f} ms   ({median / base:.2f}x)")
    for label, name in (
        ("JWT", "(b) JWT, limits in the process"),
        ("rate limited in Redis", "(c) API key, limits in Redis"),
    ):
        ratio = medians[name] / base
        verdict = "met" if ratio <= TARGET else "missed"
        print(f"{label}: {ratio:.2f}x an API-key request (target <= {TARGET}: {verdict})")


if __name__ == "__main__":
    main()
