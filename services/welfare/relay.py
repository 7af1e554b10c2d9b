"""Infrastructure: the social welfare outbox relay process (see shared/relay.py)."""
import os

from shared.relay import main


def build_application():
    from services.welfare.application import Welfare
    return Welfare()


if __name__ == "__main__":
    main(build_application, int(os.environ.get("METRICS_PORT", "9105")))
