"""Unit tier: Bearer JWT verification against a JWKS (no server)."""
from __future__ import annotations

import json

import jwt
import pytest

from services.gateway import tokens
from services.gateway.auth import Unauthorized, Verifier, bearer, load_jwks


def test_a_good_token_gives_the_principal(verifier, token):
    principal = verifier.verify(token(sub="officer-li", roles=["social_assistance.officer"],
                                      areas=["beigang", "xilin"]))
    assert principal.sub == "officer-li"
    assert principal.roles == ("social_assistance.officer",)
    assert principal.areas == ("beigang", "xilin")
    assert verifier.verify(token(areas="*")).areas == "*"


@pytest.mark.parametrize("change, code", [
    (dict(minutes=-5), "auth.expired"),
    (dict(audience="someone-else"), "auth.wrong_audience"),
    (dict(issuer="https://evil.example/"), "auth.wrong_issuer"),
    (dict(sub=None), "auth.missing_claim"),
    (dict(minutes=None), "auth.missing_claim"),          # no exp at all
])
def test_bad_claims_are_refused_with_a_code(verifier, key, change, code):
    args = dict(sub="officer-li", roles=["social_assistance.officer"], areas=["beigang"])
    if change.get("minutes", 0) is None:
        import time
        claims = {"sub": "officer-li", "iss": verifier.issuer, "aud": verifier.audience,
                  "iat": int(time.time()), "roles": [], "areas": []}
        bad = jwt.encode(claims, key, algorithm="RS256", headers={"kid": tokens.KID})
    else:
        bad = tokens.issue(key, **{**args, **change})
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(bad)
    assert refused.value.code == code


def test_a_token_signed_by_another_key_is_refused(verifier):
    other = tokens.issue(tokens.new_key(), "officer-li", ["social_assistance.officer"], ["beigang"])
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(other)
    assert refused.value.code == "auth.bad_signature"


def test_a_tampered_token_is_refused(verifier, token):
    header, payload, signature = token().split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["roles"] = ["auditor", "administrator"]
    forged = ".".join([header, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), signature])
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(forged)
    assert refused.value.code == "auth.bad_signature"


def test_unsigned_and_hs256_tokens_are_refused(verifier):
    for alg, secret in (("none", None), ("HS256", "a-shared-secret-of-at-least-32-bytes!")):
        forged = jwt.encode({"sub": "x", "iss": verifier.issuer, "aud": verifier.audience,
                             "exp": 2**31}, secret, algorithm=alg)
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(forged)
        assert refused.value.code == "auth.bad_algorithm"


def test_es256_keys_verify_too_and_the_cli_writes_a_usable_jwks(tmp_path):
    path = tokens.write_keys(tmp_path, "ES256")
    verifier = Verifier(load_jwks(str(path)), "https://id.zhonglou.example/", "civil-affairs-gateway")
    token = tokens.issue(tokens.load_key(tmp_path), "officer-wang", ["social_assistance.approver"], "*")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert verifier.verify(token).sub == "officer-wang"


@pytest.mark.parametrize("claims", [{"roles": "auditor"}, {"areas": "beigang"}, {"sub": ""}])
def test_badly_shaped_bureau_claims_are_refused(verifier, key, claims):
    import time
    base = {"sub": "officer-li", "iss": verifier.issuer, "aud": verifier.audience,
            "exp": int(time.time()) + 60, "roles": [], "areas": []}
    bad = jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": tokens.KID})
    with pytest.raises(Unauthorized):
        verifier.verify(bad)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer"])
def test_the_header_must_be_bearer(header):
    with pytest.raises(Unauthorized) as refused:
        bearer(header)
    assert refused.value.code == "auth.no_token"


def test_the_cli_writes_keys_and_issues_a_token_the_jwks_verifies(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "services.gateway.tokens", "keys", str(tmp_path)],
                   cwd=root, check=True, capture_output=True)
    issued = subprocess.run([sys.executable, "-m", "services.gateway.tokens", "issue", "--keys", str(tmp_path),
                             "--sub", "officer-li", "--roles", "social_assistance.officer",
                             "--areas", "beigang,xilin"], cwd=root, check=True, capture_output=True, text=True)
    verifier = Verifier.from_env({"GATEWAY_JWKS": str(tmp_path / "jwks.json")})
    principal = verifier.verify(issued.stdout.strip())
    assert (principal.sub, principal.roles, principal.areas) == (
        "officer-li", ("social_assistance.officer",), ("beigang", "xilin"))


def test_the_jwks_can_come_from_a_url(tmp_path, key):
    """Served by a separate process: other unit tests may leave eventlet's patches in this one."""
    import subprocess
    import sys
    import time
    from tests.e2e.platform import free_port
    (tmp_path / "jwks.json").write_text(json.dumps(tokens.jwks(key)))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(tmp_path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/jwks.json"
        deadline = time.monotonic() + 20
        while True:
            try:
                verifier = Verifier.from_env({"GATEWAY_JWKS": url})
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert verifier.verify(tokens.issue(key, "officer-li", [], "*")).sub == "officer-li"
    finally:
        server.terminate()
        server.wait(10)


def test_without_gateway_jwks_the_gateway_does_not_start():
    with pytest.raises(RuntimeError, match="GATEWAY_JWKS"):
        Verifier.from_env({})
