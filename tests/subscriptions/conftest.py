"""The gateway fixtures (generated keys, minted tokens, the app with a recording fake RPC) for the
subscription routes' app tests."""
from tests.gateway.conftest import auth, client, key, rpc, token, verifier  # noqa: F401 (fixtures)
