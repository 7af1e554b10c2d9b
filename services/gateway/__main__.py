"""`python -m services.gateway` runs the gateway (uvicorn, port GATEWAY_PORT, default 8010,
host GATEWAY_HOST, default 127.0.0.1); `python -m services.gateway openapi` prints the OpenAPI
document (docs/gateway.openapi.json is this output)."""
from __future__ import annotations

import json
import logging
import os
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["openapi"]:
        from services.gateway.openapi import document
        print(json.dumps(document(), indent=2, ensure_ascii=False))
        return 0
    import uvicorn

    from services.gateway.app import create_app
    from services.gateway.auth import Verifier
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(verifier=Verifier.from_env())     # a bad GATEWAY_JWKS fails at start
    uvicorn.run(app, host=os.environ.get("GATEWAY_HOST", "127.0.0.1"),
                port=int(os.environ.get("GATEWAY_PORT", "8010")), log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
