"""The rate-limit settings as read from the environment, and the ones refused."""

import pytest
from pydantic import ValidationError

from perfapi.config import Settings

NAMES = ("PERFAPI_RATE_LIMIT_PER_MINUTE", "PERFAPI_REDIS_URL", "PERFAPI_REDIS_KEY_PREFIX")


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    defaults = Settings()
    assert (defaults.rate_limit_per_minute, defaults.redis_url) == (6000, None)
    assert defaults.redis_key_prefix == "perfapi:"
    monkeypatch.setenv("PERFAPI_RATE_LIMIT_PER_MINUTE", "120")
    monkeypatch.setenv("PERFAPI_REDIS_URL", "redis://127.0.0.1:6379/2")
    monkeypatch.setenv("PERFAPI_REDIS_KEY_PREFIX", "staging:")
    configured = Settings()
    assert configured.rate_limit_per_minute == 120
    assert configured.redis_url == "redis://127.0.0.1:6379/2"
    assert configured.redis_key_prefix == "staging:"
    monkeypatch.setenv("PERFAPI_REDIS_URL", "")
    assert Settings().redis_url is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PERFAPI_RATE_LIMIT_PER_MINUTE", "0"),
        ("PERFAPI_RATE_LIMIT_PER_MINUTE", "1000001"),
        ("PERFAPI_RATE_LIMIT_PER_MINUTE", "lots"),
        ("PERFAPI_REDIS_URL", "http://127.0.0.1:6379"),
        ("PERFAPI_REDIS_URL", "127.0.0.1:6379"),
        ("PERFAPI_REDIS_KEY_PREFIX", ""),
    ],
)
def test_bad_values_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert variable.removeprefix("PERFAPI_").lower() in str(raised.value)
