"""Infrastructure: the disaster relief outbox relay process (see shared/relay.py)."""
import os

from shared.relay import main


def build_application():
    from services.disaster_relief.application import DisasterRelief
    return DisasterRelief()


if __name__ == "__main__":
    main(build_application, int(os.environ.get("METRICS_PORT", "9104")))
