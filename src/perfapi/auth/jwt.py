"""JWT bearer tokens from the organisation's identity provider.

:class:`JwtVerifier` checks a token's signature against the provider's key set, then
its issuer, audience, ``exp`` and ``nbf`` (with LEEWAY_SECONDS for clock skew), and
reads who is calling. Every failure raises :class:`TokenRejectedError` naming the
failed check for the log; callers answer them all with one and the same 401, so a
caller learns nothing about which check failed.

Only asymmetric algorithms are accepted, decided here and never by the token: ``none``
and HS* are refused before any key is looked at, which also defeats the key-confusion
attack of an HS256 token "signed" with the provider's public key.
"""

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWK

from perfapi.auth.jwks import ALGORITHMS, FileKeys, KeySource, UnknownKeyError, UrlKeys
from perfapi.auth.tokens import Scope
from perfapi.config import Settings, check_jwt_settings

LEEWAY_SECONDS = 60
REMEMBERED_TOKENS = 10_000
REMEMBERED_SECONDS = 300.0
"""How long a verified token is taken without checking it again: a key the provider
withdraws stops being honoured for tokens already seen after at most this long."""
# Far above any real token; anything longer is refused before it is parsed.
MAX_TOKEN_CHARS = 16_384
MAX_SUBJECT_CHARS = 255
MAX_ORG_NAME_CHARS = 200

_PERFAPI_SCOPES = {scope.value: scope for scope in Scope}

# PyJWT's exceptions, most specific first, by the name of the check in the log.
_CHECKS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not-yet-valid"),
    (jwt.InvalidIssuerError, "issuer"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.InvalidSignatureError, "signature"),
    (jwt.InvalidAlgorithmError, "algorithm"),
    (jwt.InvalidKeyError, "key"),
    (jwt.DecodeError, "malformed"),
)


class TokenRejectedError(Exception):
    """The token is not accepted; ``check`` names the check it failed."""

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


@dataclass(frozen=True)
class VerifiedToken:
    subject: str
    org_name: str
    scopes: frozenset[Scope]


class JwtVerifier:
    def __init__(self, *, issuer: str, audience: str, org_claim: str, keys: KeySource) -> None:
        self._issuer = issuer
        self._audience = audience
        self._org_claim = org_claim
        self._keys = keys
        self._verified: OrderedDict[str, tuple[VerifiedToken, float]] = OrderedDict()

    async def verify(self, token: str) -> VerifiedToken:
        """The token's identity; raises TokenRejectedError, or KeysUnavailableError when
        the provider's keys cannot be had."""
        now = time.time()
        remembered = self._verified.get(token)
        if remembered is not None and remembered[1] > now:
            self._verified.move_to_end(token)
            return remembered[0]
        kid = self._kid_if_plausible(token)
        try:
            key = await self._keys.key_for(kid)
        except UnknownKeyError:
            raise TokenRejectedError("unknown-kid") from None
        claims = self._decode(token, key)
        verified = self._identity(claims)
        # A UI sends its token with every request until it expires: checked once, it is
        # remembered for a while (never past its expiry), not checked again each time.
        until = min(float(claims["exp"]) + LEEWAY_SECONDS, now + REMEMBERED_SECONDS)
        self._verified[token] = (verified, until)
        if len(self._verified) > REMEMBERED_TOKENS:
            self._verified.popitem(last=False)
        return verified

    def _kid_if_plausible(self, token: str) -> str:
        """The token's ``kid``, once the unverified header and issuer look right.

        Checked before any key is looked up, so tokens that cannot be the provider's
        (another issuer, a refused algorithm) never trigger a key set fetch.
        """
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRejectedError("malformed")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenRejectedError("malformed") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejectedError("algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejectedError("kid-missing")
        if unverified.get("iss") != self._issuer:
            raise TokenRejectedError("issuer")
        return kid

    def _decode(self, token: str, key: PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                # The key's own algorithm: a token cannot ask for another one.
                algorithms=[key.algorithm_name],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={
                    "require": ["exp", "iss", "aud", "sub"],
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejectedError(f"missing-{exc.claim}") from None
        except jwt.PyJWTError as exc:
            check = next((name for kind, name in _CHECKS if isinstance(exc, kind)), "invalid")
            raise TokenRejectedError(check) from None

    def _identity(self, claims: dict[str, Any]) -> VerifiedToken:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_CHARS:
            raise TokenRejectedError("subject")
        org_name = claims.get(self._org_claim)
        if not isinstance(org_name, str) or not 0 < len(org_name) <= MAX_ORG_NAME_CHARS:
            raise TokenRejectedError("org-claim")
        scope = claims.get("scope")
        # Providers put their own scopes (openid, profile, ...) beside perfapi's.
        scopes = frozenset(
            _PERFAPI_SCOPES[name]
            for name in (scope.split() if isinstance(scope, str) else ())
            if name in _PERFAPI_SCOPES
        )
        if not scopes:
            raise TokenRejectedError("no-scope")
        return VerifiedToken(subject=subject, org_name=org_name, scopes=scopes)

    async def aclose(self) -> None:
        await self._keys.aclose()


def verifier_from_settings(settings: Settings) -> JwtVerifier | None:
    """The verifier the settings describe, or None when JWTs are not configured.

    Raises ValueError for incomplete settings or an unreadable key set file.
    """
    check_jwt_settings(settings)
    if settings.jwt_issuer is None or settings.jwt_audience is None:
        return None
    keys: KeySource
    if settings.jwt_jwks_file is not None:
        keys = FileKeys(settings.jwt_jwks_file)
    else:
        assert settings.jwt_jwks_url is not None  # check_jwt_settings made sure
        keys = UrlKeys(settings.jwt_jwks_url)
    return JwtVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        org_claim=settings.jwt_org_claim,
        keys=keys,
    )
