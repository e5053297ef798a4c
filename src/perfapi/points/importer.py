"""``perfapi import``: stream a CSV or NDJSON file to a running perfapi in batches.

Each batch is one ``POST /v1/points`` with its own ``Idempotency-Key``; a batch
that fails on the way (network, 5xx, 409 while a first try is still running)
is sent again under the same key, so it is stored exactly once. A file with a
bad point stops at the first bad batch with the file's line number and the
reason. Batches before it stay stored; running the import again is safe,
because points are upserted.
"""

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

MEDIA_TYPES = {
    ".csv": "text/csv",
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
}
RETRYABLE_STATUSES = {409, 429, 500, 502, 503, 504}


class ImportFailedError(Exception):
    pass


@dataclass
class Batch:
    first_line: int  # file line of the batch's first point
    lines: list[str]
    size_bytes: int


@dataclass
class ImportSummary:
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    batches: int = 0
    retries: int = 0
    seconds: float = 0.0


def media_type_for(path: Path) -> str:
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None:
        raise ImportFailedError(f"{path}: use a .csv, .ndjson or .jsonl file")
    return media_type


def batches(handle: TextIO, media_type: str, batch_size: int) -> Iterator[tuple[str, Batch]]:
    """(header, batch) pairs; the header is the CSV header line ('' for NDJSON)."""
    header = ""
    if media_type == "text/csv":
        header = handle.readline()
        if not header.strip():
            raise ImportFailedError("line 1: the CSV file has no header line")
    line_number = 2 if header else 1
    current = Batch(first_line=line_number, lines=[], size_bytes=len(header))
    for line in handle:
        current.lines.append(line if line.endswith("\n") else line + "\n")
        current.size_bytes += len(line)
        line_number += 1
        if len(current.lines) == batch_size:
            yield header, current
            current = Batch(first_line=line_number, lines=[], size_bytes=0)
    if current.lines:
        yield header, current


def _file_line(batch: Batch, header: str, loc: list[Any]) -> int | None:
    """Map a problem's ``["body", "line", n, ...]`` back to the line of the file."""
    if len(loc) >= 3 and loc[:2] == ["body", "line"] and isinstance(loc[2], int):
        return batch.first_line + loc[2] - (2 if header else 1)
    return None


def _failure(batch: Batch, header: str, response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    errors = problem.get("errors") or []
    if errors:
        first = errors[0]
        line = _file_line(batch, header, first.get("loc", []))
        where = f"line {line}" if line is not None else "/".join(map(str, first.get("loc", [])))
        more = problem.get("errors_total", len(errors)) - 1
        extra = f" (and {more} more problem(s) in this batch)" if more > 0 else ""
        return f"{where}: {first.get('message')}{extra}"
    return f"HTTP {response.status_code}: {problem.get('detail')}"


async def send_batch(
    client: httpx.AsyncClient,
    header: str,
    batch: Batch,
    media_type: str,
    summary: ImportSummary,
    max_attempts: int,
    backoff_seconds: float,
) -> None:
    body = (header + "".join(batch.lines)).encode()
    headers = {"Content-Type": media_type, "Idempotency-Key": str(uuid.uuid4())}
    for attempt in range(1, max_attempts + 1):
        try:
            response = await client.post("/v1/points", content=body, headers=headers)
        except httpx.TransportError as exc:
            failure = f"network error: {exc}"
        else:
            if response.is_success:
                result = response.json()
                for name in ("received", "inserted", "updated", "unchanged"):
                    setattr(summary, name, getattr(summary, name) + result[name])
                summary.batches += 1
                return
            if response.status_code not in RETRYABLE_STATUSES:
                raise ImportFailedError(_failure(batch, header, response))
            failure = _failure(batch, header, response)
        if attempt == max_attempts:
            raise ImportFailedError(f"gave up after {attempt} attempts: {failure}")
        summary.retries += 1
        await asyncio.sleep(backoff_seconds * 2 ** (attempt - 1))


async def import_file(
    client: httpx.AsyncClient,
    path: Path,
    *,
    batch_size: int = 5000,
    max_attempts: int = 5,
    backoff_seconds: float = 0.5,
    parallel: int = 1,
    on_progress: Callable[[int, ImportSummary], None] = lambda _bytes, _summary: None,
) -> ImportSummary:
    """Send the file, ``parallel`` batches in flight; return what the server reported.

    Raises ImportFailedError for the first failing batch (by line), once the
    batches already in flight have finished.
    """
    media_type = media_type_for(path)
    summary = ImportSummary()
    started = time.monotonic()
    in_flight: set[asyncio.Task[None]] = set()
    failures: list[tuple[int, ImportFailedError]] = []

    async def send(header: str, batch: Batch) -> None:
        try:
            await send_batch(
                client, header, batch, media_type, summary, max_attempts, backoff_seconds
            )
        except ImportFailedError as exc:
            failures.append((batch.first_line, exc))
            return
        summary.seconds = time.monotonic() - started
        on_progress(batch.size_bytes, summary)

    with path.open(encoding="utf-8", newline="") as handle:
        for header, batch in batches(handle, media_type, batch_size):
            if len(in_flight) >= parallel:
                _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            if failures:
                break
            in_flight.add(asyncio.create_task(send(header, batch)))
        if in_flight:
            await asyncio.wait(in_flight)
    if failures:
        raise min(failures, key=lambda failure: failure[0])[1]
    return summary
