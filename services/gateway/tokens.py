"""Development identity: a key pair and JWKS, and tokens signed with it (no identity server).

    python -m services.gateway.tokens keys DIR          # DIR/private.pem, DIR/jwks.json
    python -m services.gateway.tokens issue --sub officer-li --roles social_assistance.officer \
        --areas beigang,xilin [--keys DIR] [--minutes 60]     # prints a token

`--areas '*'` gives the whole district. Issuer and audience default to the gateway's defaults
(GATEWAY_ISSUER / GATEWAY_AUDIENCE override). For development and tests only.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.gateway.auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER

DEFAULT_DIR = ".gateway-keys"
KID = "dev-1"


def new_key(algorithm: str = "RS256"):
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(private_key, kid: str = KID, algorithm: str = "RS256") -> dict:
    public = json.loads(jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(private_key.public_key()))
    return {"keys": [{**public, "kid": kid, "alg": algorithm, "use": "sig"}]}


def write_keys(directory: Path, algorithm: str = "RS256") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    key = new_key(algorithm)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    (directory / "private.pem").write_bytes(pem)
    os.chmod(directory / "private.pem", 0o600)
    (directory / "jwks.json").write_text(json.dumps(jwks(key, algorithm=algorithm), indent=2) + "\n")
    return directory / "jwks.json"


def load_key(directory: Path):
    return serialization.load_pem_private_key((directory / "private.pem").read_bytes(), None)


def issue(private_key, sub: str | None, roles=(), areas=(), *, minutes: float = 60,
          issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE, kid: str = KID,
          **extra) -> str:
    """A signed token (the algorithm follows the key). `sub=None` leaves the claim out."""
    algorithm = "ES256" if isinstance(private_key, ec.EllipticCurvePrivateKey) else "RS256"
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "iat": now, "exp": now + int(minutes * 60),
              "roles": list(roles), "areas": areas if areas == "*" else list(areas), **extra}
    if sub is not None:
        claims["sub"] = sub
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": kid})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway.tokens", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    keys = sub.add_parser("keys", help="write a dev key pair and jwks.json into DIR")
    keys.add_argument("dir", nargs="?", default=DEFAULT_DIR)
    keys.add_argument("--algorithm", choices=["RS256", "ES256"], default="RS256")
    tok = sub.add_parser("issue", help="print a token signed with DIR/private.pem")
    tok.add_argument("--sub", required=True)
    tok.add_argument("--roles", default="", help="comma-separated")
    tok.add_argument("--areas", default="", help='comma-separated area codes, or "*"')
    tok.add_argument("--keys", default=DEFAULT_DIR)
    tok.add_argument("--minutes", type=float, default=60)
    tok.add_argument("--client", default=None,
                     help="the OAuth client (azp claim); an internal system's token has sub = client")
    args = parser.parse_args(argv)
    if args.action == "keys":
        path = write_keys(Path(args.dir), args.algorithm)
        print(f"wrote {Path(args.dir) / 'private.pem'} and {path}; "
              f"run the gateway with GATEWAY_JWKS={path}", file=sys.stderr)
        return 0
    areas = "*" if args.areas.strip() == "*" else [a.strip() for a in args.areas.split(",") if a.strip()]
    print(issue(load_key(Path(args.keys)), args.sub, [r.strip() for r in args.roles.split(",") if r.strip()],
                areas, minutes=args.minutes, issuer=os.environ.get("GATEWAY_ISSUER", DEFAULT_ISSUER),
                audience=os.environ.get("GATEWAY_AUDIENCE", DEFAULT_AUDIENCE), azp=args.client))
    return 0


if __name__ == "__main__":
    sys.exit(main())
