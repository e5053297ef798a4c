"""Lag from WAL positions: right on a primary nobody writes to, bounded by the checks'
spacing on a busy one, and unknown (so too much) when the replica is behind them all."""

import pytest

from perfapi.replicas.lag import WalHistory


def test_a_replica_of_an_idle_primary_never_lags_however_long_it_is_idle() -> None:
    history = WalHistory(keep_seconds=10)
    for second in range(0, 3_600, 60):
        history.record(position=500, at=float(second))
        assert history.lag(replayed=500) == 0


def test_lag_is_the_time_since_the_newest_position_the_replica_has() -> None:
    history = WalHistory(keep_seconds=10)
    for second, position in enumerate((100, 200, 300, 400)):
        history.record(position, at=float(second))
    assert history.lag(replayed=400) == 0
    assert history.lag(replayed=399) == 1
    assert history.lag(replayed=250) == 2
    assert history.lag(replayed=100) == 3


def test_a_replica_behind_every_kept_position_has_an_unknown_lag() -> None:
    history = WalHistory(keep_seconds=10)
    history.record(100, at=0.0)
    assert history.lag(replayed=99) is None
    assert history.lag(replayed=None) is None


def test_positions_older_than_kept_are_forgotten() -> None:
    history = WalHistory(keep_seconds=5)
    history.record(100, at=0.0)
    history.record(200, at=4.0)
    assert history.lag(replayed=150) == 4
    history.record(300, at=6.0)  # the sample at 0 is now more than 5 s old
    assert history.lag(replayed=150) is None
    assert history.lag(replayed=200) == 2


def test_no_lag_before_a_position_was_recorded() -> None:
    with pytest.raises(ValueError, match="no position"):
        WalHistory(keep_seconds=5).lag(replayed=1)
