"""Logging set-up shared by every process: one line per record, level from LOG_LEVEL."""
import logging
import os
import warnings


def configure_logging() -> None:
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO: the delivery process reads each source's feed several
    # times a second, which would bury everything else.
    logging.getLogger("httpx").setLevel(logging.WARNING)
