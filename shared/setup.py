"""Creates the database, every service's schema and tables, idempotently: `python -m shared.setup`."""
from __future__ import annotations

import sys

from shared.config import ConfigurationError, settings
from shared.logs import configure_logging


def main() -> int:
    configure_logging()
    try:
        cfg = settings()
    except ConfigurationError as error:
        print(f"setup: {error}", file=sys.stderr)
        return 2
    from services.projection.readmodel import ReadModel
    from services.disaster_relief.application import DisasterRelief
    from services.social_assistance.application import SocialAssistance
    from services.welfare.application import Welfare

    app = SocialAssistance()  # creates its schema and event tables
    added = app.load_reference_standards()
    app.close()
    DisasterRelief().close()  # creates its schema and event tables
    Welfare().close()  # creates its schema and event tables
    ReadModel.connect(cfg)
    print(f"setup: database {cfg.pg_dbname} on {cfg.pg_host}:{cfg.pg_port} ready "
          f"(schemas social_assistance, disaster_relief, welfare, read_model; {added} reference standards recorded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
