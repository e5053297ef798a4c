"""Schemathesis against a real ``perfapi serve`` on a fresh database.

    .venv/bin/python -m tests.fuzz.run                 # 5 minutes, every check, every phase
    .venv/bin/python -m tests.fuzz.run --ci            # the CI run: 1 minute, the CI checks
    .venv/bin/python -m tests.fuzz.run --minutes 15 --seed 7 --workers 2

The database server is ``PERFAPI_TEST_DATABASE_URL``, else the embedded
PostgreSQL in ``.perfapi/test`` that the tests use. A run creates its own
database there, starts ``perfapi serve`` on it on a free loopback port, takes
the admin key (every scope) printed on first start, adds a little data, runs
schemathesis against the served ``/openapi.json`` (identical to the committed
``openapi/openapi.json``, a test makes sure) with the examples, coverage,
fuzzing and stateful phases for the given time and seed, then stops the
server and drops the database.

Everything lands in ``.perfapi/fuzz/<time>-<label>-seed<seed>/`` (or
``--report-dir``): ``schemathesis.txt`` (the console output: each failure with
its check and a curl line to reproduce it), ``junit.xml``, ``server.log`` (the
server's JSON log, tracebacks of 500s included, each with its request id) and,
with ``--events``, ``events.ndjson`` (every request and response).

Exits 0 when no check failed and the server stopped cleanly, else 1.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

from perfapi.config import Settings
from perfapi.db.embedded import embedded_postgres
from tests.cli.processes import (
    READY_MARK,
    STARTUP_TIMEOUT,
    TOKEN_PATTERN,
    free_port,
    perfapi_env,
)
from tests.support import bearer, fresh_database

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
REPORTS = REPO_ROOT / ".perfapi" / "fuzz"
# Longest line read from a subprocess: a curl line or a logged traceback can be long.
LINE_LIMIT = 16 * 1024 * 1024

PHASES = ("examples", "coverage", "fuzzing", "stateful")
SEED = 20260101
# What CI holds the API to: no 5xx, no request that breaks the schema accepted, every
# response as documented. `positive_data_acceptance` (a schema-valid request rejected)
# has known exceptions, the rules no schema can express; the full run reports them.
CI_CHECKS = ("not_a_server_error", "negative_data_rejection", "response_schema_conformance")


@dataclass(frozen=True)
class Plan:
    """What schemathesis runs: for how long, with which seed and checks."""

    seconds: int
    seed: int = SEED
    checks: tuple[str, ...] = ("all",)
    workers: int = 1
    label: str = "full"
    # Every request and response in events.ndjson: some 20 MB a minute.
    events: bool = False

    def arguments(self, schema_url: str, report_dir: Path) -> list[str]:
        reports = ["--report-junit-path", str(report_dir / "junit.xml")]
        if self.events:
            reports += ["--report-ndjson-path", str(report_dir / "events.ndjson")]
        return [
            *("--config-file", str(CONFIG), "--no-color", "run", schema_url),
            *("--checks", ",".join(self.checks), "--phases", ",".join(PHASES)),
            *("--max-time", str(self.seconds), "--seed", str(self.seed)),
            *("--workers", str(self.workers)),
            # A stream never ends, so a fuzzer's request would never return; its parameters
            # are tested by hand (tests/events).
            *("--exclude-operation-id", "streamEvents"),
            *("--report", "junit,ndjson" if self.events else "junit"),
            *("--report-dir", str(report_dir), *reports),
        ]


FULL = Plan(seconds=300)
CI = Plan(seconds=60, checks=CI_CHECKS, label="ci")


@dataclass(frozen=True)
class Outcome:
    schemathesis_exit_code: int
    server_exit_code: int
    report_dir: Path
    output: str
    server_errors: Counter[str]

    @property
    def passed(self) -> bool:
        return self.schemathesis_exit_code == 0 and self.server_exit_code == 0

    def summary(self, *, with_output: bool = True, limit: int = 30_000) -> str:
        """The failures as schemathesis printed them, the server's exceptions, where to look."""
        lines = []
        if with_output:
            # From the start of schemathesis's FAILURES banner line, when there is one.
            banner = self.output.find(" FAILURES ")
            start = self.output.rfind("\n", 0, banner) + 1 if banner >= 0 else 0
            shown = self.output[start:]
            if len(shown) > limit:
                shown = shown[:limit] + f"\n[... cut; all of it in {self.report_dir}]\n"
            lines.append(shown)
        lines.append(
            f"schemathesis exit code {self.schemathesis_exit_code}, "
            f"perfapi serve exit code {self.server_exit_code}"
        )
        if self.server_errors:
            lines.append("exceptions in the server log (count, last line):")
            lines += [f"  {count:5}  {error}" for error, count in self.server_errors.most_common()]
        lines.append(f"reports: {self.report_dir}")
        return "\n".join(lines)


@dataclass
class LiveServer:
    base_url: str
    database_url: str
    token: str
    exit_code: int | None = None


async def _pump(stream: asyncio.StreamReader, sink: TextIO, watch: Callable[[str], None]) -> None:
    while line := (await stream.readline()).decode(errors="replace"):
        sink.write(line)
        watch(line)


@asynccontextmanager
async def live_server(server_url: str, log_path: Path) -> AsyncIterator[LiveServer]:
    """``perfapi serve`` on a new database of ``server_url``, its whole output in ``log_path``.

    Its output is read all along (a full pipe would block the server); on exit the
    server gets SIGTERM and the database is dropped.
    """
    async with fresh_database(server_url, "fuzz") as database_url:
        port = free_port()
        env = perfapi_env(PERFAPI_DATABASE_URL=database_url, PERFAPI_PORT=str(port))
        env["PERFAPI_LOG_JSON"] = "true"
        # One key sends it all: at the default limit most answers would be 429s.
        env["PERFAPI_RATE_LIMIT_PER_MINUTE"] = "1000000"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "perfapi", "serve"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        tokens: list[str] = []
        ready = asyncio.Event()

        def watch(line: str) -> None:
            if not tokens and (match := TOKEN_PATTERN.search(line)):
                tokens.append(match.group(0))
            if READY_MARK in line:
                ready.set()

        with log_path.open("w") as log:
            assert process.stdout is not None
            assert process.stderr is not None
            pumps = [
                asyncio.create_task(_pump(process.stdout, log, watch)),
                asyncio.create_task(_pump(process.stderr, log, watch)),
            ]
            exited = asyncio.create_task(process.wait())
            try:
                listening = asyncio.create_task(ready.wait())
                await asyncio.wait(
                    {listening, exited},
                    timeout=STARTUP_TIMEOUT,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                listening.cancel()
                if not ready.is_set() or not tokens:
                    raise RuntimeError(f"perfapi serve did not start; see {log_path}")
                server = LiveServer(f"http://127.0.0.1:{port}", database_url, tokens[0])
                yield server
            finally:
                # Never signal a process that has exited: that would reap it behind
                # asyncio's back and lose its exit code.
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(asyncio.gather(exited, *pumps), 60)
            server.exit_code = process.returncode


async def seed_data(server: LiveServer) -> None:
    """A little of everything, so reads find data and the stateful phase has ids."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=bearer(server.token), trust_env=False
    ) as http:

        async def created(path: str, body: dict[str, object]) -> str:
            response = await http.post(path, json=body)
            assert response.status_code == 201, (path, response.text)
            identifier: str = response.json()["id"]
            return identifier

        kpi = await created(
            "/v1/kpis",
            {"key": "sales.new_arr", "name": "New ARR", "unit": "EUR", "tags": ["sales"]},
        )
        await created(
            f"/v1/kpis/{kpi}/targets",
            {"period_start": "2026-01-01", "period_end": "2026-12-31", "value": 1200000},
        )
        year = {"start_date": "2026-01-01", "due_date": "2026-12-31"}
        root = await created("/v1/objectives", {"key": "grow-2026", "title": "Grow", **year})
        child = await created(
            "/v1/objectives", {"title": "Win EMEA", "parent_id": root, "team": "emea", **year}
        )
        await created(
            f"/v1/objectives/{root}/key-results",
            {
                "title": "1.2M new ARR",
                "direction": "increase",
                "start_value": 0,
                "target_value": 1200000,
                "kpi_id": kpi,
            },
        )
        manual = await created(
            f"/v1/objectives/{child}/key-results",
            {"title": "Signed partners", "direction": "at_least", "target_value": 5},
        )
        await created(f"/v1/key-results/{manual}/check-ins", {"value": 2, "confidence": 0.7})
        linked = await http.put(f"/v1/objectives/{root}/kpis/{kpi}", json={"weight": 2})
        assert linked.status_code == 201, linked.text
        point = {"kpi": "sales.new_arr", "ts": "2026-02-03T10:00:00Z", "value": 42000}
        sent = await http.post("/v1/points", json={"points": [point]})
        assert sent.status_code == 200, sent.text
        await created(
            "/v1/webhook-sources",
            {
                "name": "crm",
                "scheme": "hmac_sha256",
                "mappings": [{"kpi": "'sales.new_arr'", "ts": "ts", "value": "amount"}],
            },
        )


async def run_schemathesis(
    plan: Plan, server: LiveServer, report_dir: Path, *, echo: bool
) -> tuple[int, str]:
    """Run the schemathesis CLI against the server; its exit code and console output."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PERFAPI_")}
    env.update(
        PERFAPI_FUZZ_API_KEY=server.token,
        PERFAPI_FUZZ_DATABASE_URL=server.database_url,
        NO_COLOR="1",
        COLUMNS="120",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "schemathesis.cli"),
        *plan.arguments(f"{server.base_url}/openapi.json", report_dir),
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=LINE_LIMIT,
    )
    assert process.stdout is not None
    output: list[str] = []
    with (report_dir / "schemathesis.txt").open("w") as sink:

        async def copy() -> None:
            assert process.stdout is not None
            while line := (await process.stdout.readline()).decode(errors="replace"):
                output.append(line)
                sink.write(line)
                if echo:
                    sys.stdout.write(line)
                    sys.stdout.flush()

        try:
            # The time budget, plus shrinking the last failures and writing reports.
            await asyncio.wait_for(copy(), plan.seconds * 2 + 300)
            exit_code = await asyncio.wait_for(process.wait(), 120)
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
    return exit_code, "".join(output)


def server_exceptions(log_path: Path) -> Counter[str]:
    """Unhandled exceptions in the server's JSON log, by the last line of their traceback."""
    found: Counter[str] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "exception" in entry:
            found[str(entry["exception"]).strip().splitlines()[-1]] += 1
    return found


async def fuzz(
    plan: Plan, server_url: str, report_dir: Path | None = None, *, echo: bool = False
) -> Outcome:
    """One schemathesis run against a fresh ``perfapi serve`` on ``server_url``."""
    if report_dir is None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        report_dir = REPORTS / f"{stamp}-{plan.label}-seed{plan.seed}"
    report_dir.mkdir(parents=True, exist_ok=True)
    log_path = report_dir / "server.log"
    async with live_server(server_url, log_path) as server:
        await seed_data(server)
        exit_code, output = await run_schemathesis(plan, server, report_dir, echo=echo)
    # Leaving the context stopped the server and collected its exit code.
    server_exit = 1 if server.exit_code is None else server.exit_code
    return Outcome(exit_code, server_exit, report_dir, output, server_exceptions(log_path))


def database_server_url(stack: ExitStack) -> str:
    """PERFAPI_TEST_DATABASE_URL, else the tests' embedded PostgreSQL (started here)."""
    configured = os.environ.get("PERFAPI_TEST_DATABASE_URL")
    if configured:
        url = Settings(database_url=configured).database_url
        assert url is not None
        return url
    return stack.enter_context(embedded_postgres(REPO_ROOT / ".perfapi" / "test"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz.run",
        description="Schemathesis against a live perfapi serve on a fresh database.",
    )
    parser.add_argument("--ci", action="store_true", help="the CI run: 1 minute, the CI checks")
    parser.add_argument("--minutes", type=float, help="time budget (default 5; 1 with --ci)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"default {SEED}")
    parser.add_argument(
        "--checks", help="comma-separated schemathesis checks (default: all; with --ci: the CI's)"
    )
    parser.add_argument("--workers", type=int, default=1, help="concurrent requests (default 1)")
    parser.add_argument("--report-dir", type=Path, help="default .perfapi/fuzz/<time>-<label>")
    parser.add_argument(
        "--events", action="store_true", help="also record every request in events.ndjson (large)"
    )
    args = parser.parse_args(argv)

    base = CI if args.ci else FULL
    plan = Plan(
        seconds=round(args.minutes * 60) if args.minutes else base.seconds,
        seed=args.seed,
        checks=tuple(args.checks.split(",")) if args.checks else base.checks,
        workers=args.workers,
        label=base.label,
        events=args.events,
    )
    with ExitStack() as stack:
        server_url = database_server_url(stack)
        outcome = asyncio.run(fuzz(plan, server_url, args.report_dir, echo=True))
    print()
    # Schemathesis's output, failures included, has been shown as it came.
    print(outcome.summary(with_output=False))
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
