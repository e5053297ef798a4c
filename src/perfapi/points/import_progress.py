"""The terminal side of ``perfapi import``: a progress bar and the closing summary."""

from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from perfapi.points.importer import ImportSummary, import_file


async def run_import(
    path: Path, size_bytes: int, url: str, key: str, batch_size: int, parallel: int
) -> ImportSummary:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[points]:,} points, {task.fields[rate]:,.0f} points/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )

    def advance(size_bytes: int, summary: ImportSummary) -> None:
        rate = summary.received / max(summary.seconds, 1e-6)
        progress.update(task, advance=size_bytes, points=summary.received, rate=rate)

    headers = {"Authorization": f"Bearer {key}"}
    with progress:
        task = progress.add_task(path.name, total=size_bytes, points=0, rate=0.0)
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as client:
            return await import_file(
                client, path, batch_size=batch_size, parallel=parallel, on_progress=advance
            )


def print_import_summary(console: Console, path: Path, summary: ImportSummary) -> None:
    seconds = summary.seconds
    table = Table(title=f"imported {path.name}", show_header=False)
    for name in ("received", "inserted", "updated", "unchanged", "batches", "retries"):
        table.add_row(name, f"{getattr(summary, name):,}")
    table.add_row("seconds", f"{seconds:.1f}")
    table.add_row("points/s", f"{summary.received / max(seconds, 1e-6):,.0f}")
    console.print(table)
