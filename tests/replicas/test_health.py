"""The replica's state and its log lines: one per change, none per request."""

import logging

import pytest

from perfapi.replicas.health import ReplicaHealth, ReplicaState


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="perfapi.replicas")
    return caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "perfapi.replicas"]


def test_a_measured_lag_over_the_limit_is_logged_once_with_its_size(
    logged: pytest.LogCaptureFixture,
) -> None:
    health = ReplicaHealth(max_lag_seconds=5)
    assert health.measured(6.3) is ReplicaState.LAGGING
    assert health.measured(7.5) is ReplicaState.LAGGING
    assert health.measured(5.0) is ReplicaState.HEALTHY
    assert health.measured(0.0) is ReplicaState.HEALTHY
    assert _lines(logged) == [
        (
            logging.WARNING,
            "read replica behind the primary by 6.3 s, more than the 5 s allowed: "
            "the primary serves its reads",
        ),
        (logging.INFO, "read replica usable again: its reads go to it"),
    ]


def test_down_then_lagging_then_back_is_three_lines(logged: pytest.LogCaptureFixture) -> None:
    health = ReplicaHealth(max_lag_seconds=0.5)
    assert health.unreachable(ConnectionRefusedError(111, "Connect call failed")) is (
        ReplicaState.DOWN
    )
    assert health.unreachable(ConnectionRefusedError(111, "Connect call failed")) is (
        ReplicaState.DOWN
    )
    assert health.measured(None) is ReplicaState.LAGGING
    assert health.measured(0.5) is ReplicaState.HEALTHY
    assert [level for level, _ in _lines(logged)] == [
        logging.WARNING,
        logging.WARNING,
        logging.INFO,
    ]
    assert _lines(logged)[0][1] == (
        "read replica unreachable ([Errno 111] Connect call failed): the primary serves its reads"
    )
    assert "by an unknown time" in _lines(logged)[1][1]
