"""Bearer JWT authentication: RS256/ES256 tokens verified offline against a JWKS.

Settings (environment): `GATEWAY_JWKS` (a file path or an http(s) URL of a JSON Web Key Set),
`GATEWAY_ISSUER`, `GATEWAY_AUDIENCE`. Required claims: `exp`, `sub`, `iss`, `aud`; the bureau's
claims are `roles` (a list of role names, docs/gateway.md) and `areas` (a list of area codes, or
"*" for the whole district). Any failure is `Unauthorized` (the app answers 401 with
`WWW-Authenticate: Bearer`). No web framework here.
"""
from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import jwt

ALGORITHMS = ["RS256", "ES256"]
REQUIRED_CLAIMS = ["exp", "sub", "iss", "aud"]
DEFAULT_ISSUER = "https://id.zhonglou.example/"
DEFAULT_AUDIENCE = "civil-affairs-gateway"


class Unauthorized(Exception):
    """No token, or a token that does not verify; `code` is stable (auth.<reason>)."""

    def __init__(self, detail: str, code: str):
        super().__init__(detail)
        self.detail, self.code = detail, code


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: tuple[str, ...]
    areas: object            # tuple of area codes, or "*"
    client: str | None = None  # the OAuth client the token was issued to (azp / client_id)


def load_jwks(source: str) -> jwt.PyJWKSet:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:
            data = json.loads(response.read())
    else:
        data = json.loads(Path(source).read_text())
    return jwt.PyJWKSet.from_dict(data)


class Verifier:
    def __init__(self, jwks: jwt.PyJWKSet, issuer: str, audience: str, leeway: float = 0):
        self.jwks, self.issuer, self.audience, self.leeway = jwks, issuer, audience, leeway

    @classmethod
    def from_env(cls, env=None) -> "Verifier":
        env = os.environ if env is None else env
        source = env.get("GATEWAY_JWKS")
        if not source:
            raise RuntimeError("GATEWAY_JWKS is not set: a JWKS file path or URL "
                               "(`python -m services.gateway.tokens keys DIR` writes a dev one)")
        return cls(load_jwks(source), env.get("GATEWAY_ISSUER", DEFAULT_ISSUER),
                   env.get("GATEWAY_AUDIENCE", DEFAULT_AUDIENCE))

    def _key(self, token: str):
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the token is not a JWT", "auth.malformed_token") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(f"the token must be signed with {' or '.join(ALGORITHMS)}",
                               "auth.bad_algorithm")
        kid = header.get("kid")
        keys = self.jwks.keys
        if kid is None and len(keys) == 1:
            return keys[0].key
        for key in keys:
            if key.key_id == kid:
                return key.key
        raise Unauthorized("the token's key is not in the key set", "auth.unknown_key")

    def verify(self, token: str) -> Principal:
        key = self._key(token)
        try:
            claims = jwt.decode(token, key=key, algorithms=ALGORITHMS, audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway,
                                options={"require": REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired", "auth.expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("the token is not for this audience", "auth.wrong_audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the token is not from the trusted issuer", "auth.wrong_issuer") from None
        except jwt.MissingRequiredClaimError as error:
            raise Unauthorized(f"the token lacks the {error.claim} claim", "auth.missing_claim") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify", "auth.bad_signature") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"the token is invalid ({type(error).__name__})", "auth.invalid_token") from None
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub.strip() or len(sub) > 50:
            raise Unauthorized("sub must be an officer name of 1 to 50 characters", "auth.bad_claim")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized("roles must be a list of role names", "auth.bad_claim")
        areas = claims.get("areas", [])
        if areas != "*" and (not isinstance(areas, list) or not all(isinstance(a, str) for a in areas)):
            raise Unauthorized('areas must be a list of area codes or "*"', "auth.bad_claim")
        client = claims.get("azp", claims.get("client_id"))
        if client is not None and (not isinstance(client, str) or not 0 < len(client) <= 100):
            raise Unauthorized("azp / client_id must be a client id of 1 to 100 characters", "auth.bad_claim")
        return Principal(sub.strip(), tuple(roles), "*" if areas == "*" else tuple(areas), client)


def bearer(header: str | None) -> str:
    if not header:
        raise Unauthorized("an Authorization: Bearer token is required", "auth.no_token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be `Bearer <token>`", "auth.no_token")
    return token.strip()
