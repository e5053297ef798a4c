"""Text PostgreSQL can store: no NUL character and no unpaired UTF-16 surrogate.

PostgreSQL's text and jsonb cannot hold U+0000, and a lone surrogate (JSON lets
a client write ``"\\ud800"``) cannot be encoded as UTF-8 at all. Either would fail
deep inside a query as a 500, so every string perfapi reads is checked here
before anything else sees it: path, query and headers by
:class:`perfapi.ops.text_guard.TextGuardMiddleware`, JSON bodies by
:class:`perfapi.kit.routing.JsonBodyRoute`, streamed point bodies and webhook
payloads by their own parsers through :func:`text_problem`.
"""

from collections.abc import Iterator

NUL_MESSAGE = "must not contain the NUL character (U+0000)"
SURROGATE_MESSAGE = "must not contain an unpaired UTF-16 surrogate (U+D800 to U+DFFF)"
UNSTORABLE_TYPE = "unstorable_text"

Loc = tuple[str | int, ...]


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def unstorable_strings(value: object, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """Every string in a parsed JSON value (object keys too) that cannot be stored."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            yield loc, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            key_problem = text_problem(key) if isinstance(key, str) else None
            if key_problem is not None:
                yield (*loc, printable(key)), "the member name " + key_problem
            else:
                yield from unstorable_strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_strings(item, (*loc, index))


def printable(text: str) -> str:
    """``text``, or when it cannot be stored, its escaped form, safe to echo and log."""
    if text_problem(text) is None:
        return text
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return escaped.replace("\x00", "\\x00")
