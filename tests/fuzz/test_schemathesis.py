"""Schemathesis against a real ``perfapi serve``, the short run CI keeps (about 70 s).

One minute of every phase (examples, coverage, fuzzing, stateful) with a fixed
seed, failing on any server error, any schema-violating request accepted and
any response that is not as documented. The five-minute run with every check is
``python -m tests.fuzz.run`` (see its docstring).
"""

from pathlib import Path

import pytest

from tests.fuzz.run import CI, fuzz


async def test_no_server_error_no_invalid_request_accepted_every_response_documented(
    database_server_url: str, tmp_path: Path
) -> None:
    outcome = await fuzz(CI, database_server_url, tmp_path / "fuzz")
    if not outcome.passed:
        pytest.fail(outcome.summary(), pytrace=False)
