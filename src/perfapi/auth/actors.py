"""Who is acting: an API key, a user signed in through the org's identity provider
(a JWT's ``sub``), or an operator at the command line.

The request's actor is set once authenticated and read where a write is recorded
(the audit log), so services need not pass it down.
"""

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

ActorType = Literal["api_key", "jwt", "cli"]


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: str


CLI = Actor("cli", "cli")

actor_var: ContextVar[Actor | None] = ContextVar("perfapi_actor", default=None)
