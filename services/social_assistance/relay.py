"""Infrastructure: the social assistance outbox relay process (see shared/relay.py)."""
import os

from shared.relay import main


def build_application():
    from services.social_assistance.application import SocialAssistance
    return SocialAssistance()


if __name__ == "__main__":
    main(build_application, int(os.environ.get("METRICS_PORT", "9101")))
