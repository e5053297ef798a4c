"""Properties every forecast, one-step prediction and outlook keeps, whatever the history."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perfapi.domain.forecasting import Method, fit
from perfapi.domain.objective_outlook import expectation
from perfapi.domain.outlook import outlook

# A fit takes milliseconds: fewer examples than hypothesis's default, no deadline.
FITS = settings(max_examples=40, deadline=None)

magnitudes = st.sampled_from([1.0, 1e3, 1e6])
histories = st.tuples(
    st.lists(st.floats(min_value=-1.0, max_value=1.0, allow_nan=False), min_size=3, max_size=40),
    magnitudes,
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
).map(lambda drawn: [drawn[2] + drawn[1] * value for value in drawn[0]])
levels = st.floats(min_value=0.05, max_value=0.95)
methods = st.sampled_from([None, Method.NAIVE])


@FITS
@given(history=histories, level=levels, method=methods)
def test_an_interval_holds_its_forecast_and_every_number_is_finite(
    history: list[float], level: float, method: Method | None
) -> None:
    forecast = fit(history, 7, method).forecast(6, level)
    for lower, value, upper in zip(forecast.lower, forecast.mean, forecast.upper, strict=True):
        assert math.isfinite(lower)
        assert math.isfinite(upper)
        assert lower <= value <= upper


@FITS
@given(history=histories, levels=st.tuples(levels, levels).map(sorted), method=methods)
def test_a_higher_level_gives_an_interval_at_least_as_wide(
    history: list[float], levels: list[float], method: Method | None
) -> None:
    model = fit(history, 7, method)
    narrow, wide = (model.forecast(4, level) for level in levels)
    for n_low, n_high, w_low, w_high in zip(
        narrow.lower, narrow.upper, wide.lower, wide.upper, strict=True
    ):
        assert w_high - w_low >= (n_high - n_low) * (1 - 1e-9) - 1e-9


@FITS
@given(history=histories)
def test_a_one_step_interval_holds_what_was_expected(history: list[float]) -> None:
    for step in fit(history, 7).one_step_ahead(0.99)[1:]:
        assert step is not None
        assert step.lower <= step.expected <= step.upper
        assert step.sigma >= 0


samples = st.lists(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=200
).map(lambda values: np.asarray(values, dtype=np.float64))


@given(
    drawn=samples,
    target=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    direction=st.sampled_from(["higher_is_better", "lower_is_better"]),
)
def test_an_outlook_gives_a_probability_and_an_ordered_interval(
    drawn: np.ndarray, target: float, direction: str
) -> None:
    found = outlook(drawn, target, direction)
    assert found is not None
    assert 0.0 <= found.probability <= 1.0
    assert found.lower <= found.upper
    assert math.isfinite(found.value)


@given(
    drawn=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=200),
    threshold=st.floats(min_value=0.01, max_value=1),
)
def test_an_objective_expectation_gives_a_probability_and_an_ordered_interval(
    drawn: list[float], threshold: float
) -> None:
    found = expectation(np.asarray(drawn, dtype=np.float64), threshold)
    assert 0.0 <= found.probability <= 1.0
    assert found.lower <= found.upper
    assert 0.0 <= found.expected <= 1.0
