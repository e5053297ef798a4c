"""Schemathesis hooks, loaded into the schemathesis process by ``schemathesis.toml``.

Authentication: every request carries an admin key with every scope. The run
starts with the key ``perfapi serve`` printed on its first start
(``PERFAPI_FUZZ_API_KEY``). The fuzzer may well revoke that key (it lists keys
and calls ``POST /v1/api-keys/{id}/revoke`` with what it found); the next
request then answers 401, schemathesis invalidates the cached key, calls
:meth:`ApiKey.get` again and replays the request, and ``get`` issues a new key
with ``perfapi keys create`` on the run's database (``PERFAPI_FUZZ_DATABASE_URL``),
which the fuzzer cannot revoke before it has learnt it.
"""

import os
import subprocess
import sys
import threading

import schemathesis
from schemathesis import AuthContext, Case

# get() runs only at the start and after a 401; never refresh on a timer.
NEVER = 10**9
SCOPES = ("read", "write", "ingest", "admin")


def issue_key() -> str:
    """A new admin key of org `default`, created with the CLI on the run's database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PERFAPI_")}
    env["PERFAPI_DATABASE_URL"] = os.environ["PERFAPI_FUZZ_DATABASE_URL"]
    scopes = [argument for scope in SCOPES for argument in ("--scope", scope)]
    command = [sys.executable, "-m", "perfapi", "keys", "create", "--org", "default", *scopes]
    done = subprocess.run(
        [*command, "--name", "schemathesis (the previous key was revoked)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


# The webhook receiver takes no API key: its 401s are about signatures, not keys.
@schemathesis.auth(refresh_interval=NEVER).skip_for(operation_id="receiveWebhook")
class ApiKey:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued = 0

    def get(self, case: Case, context: AuthContext) -> str:
        with self._lock:
            self._issued += 1
            if self._issued == 1:
                return os.environ["PERFAPI_FUZZ_API_KEY"]
            print(f"perfapi fuzz: the key got a 401; issuing key {self._issued}", file=sys.stderr)
            return issue_key()

    def set(self, case: Case, data: str, context: AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
