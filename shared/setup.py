"""Creates the database, every registered domain's schema and tables, the subscription
service's (schema `subscriptions`) and the read model,
idempotently: `python -m shared.setup`."""
from __future__ import annotations

import sys

from shared import domains
from shared.config import ConfigurationError, settings
from shared.logs import configure_logging


def prepare(domain: domains.Domain) -> str:
    """Open the domain's event store (creating its schema and tables) and run its `prepare`."""
    app = domain.build_application()
    try:
        done = getattr(app, domain.prepare)() if domain.prepare else None
    finally:
        app.close()
    return domain.name if done is None else f"{domain.name} ({domain.prepare}: {done})"


def prepare_subscriptions() -> str:
    """The subscription service's event store (schema `subscriptions`, its tables)."""
    from services.subscriptions.application import Subscriptions
    Subscriptions().close()
    return Subscriptions.name


def main() -> int:
    configure_logging()
    try:
        cfg = settings()
        from services.projection.readmodel import ReadModel
        prepared = [prepare(domain) for domain in domains.registered()]
        prepared.append(prepare_subscriptions())
        ReadModel.connect(cfg)
    except ConfigurationError as error:
        print(f"setup: {error}", file=sys.stderr)
        return 2
    print(f"setup: database {cfg.pg_dbname} on {cfg.pg_host}:{cfg.pg_port} ready "
          f"(schemas {', '.join(prepared)}, read_model)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
