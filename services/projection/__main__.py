"""Interface layer of the projection service: its process and its operator commands.

  python -m services.projection            consume the bus into the read model (a long-running process)
  python -m services.projection rebuild    wipe the read model and replay every source's event store
  python -m services.projection status     show each source's applied position and head, and the
                                           events skipped because they could not be applied
  python -m services.projection dead-letters          list the messages the projection refused
  python -m services.projection dead-letters requeue  put them back on its queue (after a fix)
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from prometheus_client import start_http_server

from services.projection.readmodel import ReadModel
from shared import domains
from shared.config import ConfigurationError, service_url, settings
from shared.consumer import DeadLetters, EventConsumer, FeedClient
from shared.logs import configure_logging
from shared.watchdog import Watchdog

QUEUE = "projection.read_model"


def feeds() -> dict[str, FeedClient]:
    """The feed of every registered domain (its `<NAME>_URL`)."""
    return {source: FeedClient(service_url(source)) for source in domains.names()}


def validator():
    from shared.schemas import validate
    return validate


def consume(args) -> None:
    model = ReadModel.connect(settings())
    consumer = EventConsumer(settings().amqp_uri, QUEUE, feeds(), model.apply_batch, model.position,
                             validator())
    signal.signal(signal.SIGTERM, consumer.stop)
    signal.signal(signal.SIGINT, consumer.stop)
    port = int(os.environ.get("METRICS_PORT", "9102"))
    start_http_server(port)
    print(f"projection: consuming {QUEUE} into schema read_model; metrics on :{port}/metrics", flush=True)
    consumer.run_forever(Watchdog("projection"))


def rebuild(args) -> None:
    from tqdm import tqdm

    model = ReadModel.connect(settings())
    sources = feeds()
    heads = {name: feed.head() for name, feed in sources.items()}
    with tqdm(total=sum(heads.values()), unit="event", desc="replaying", file=sys.stderr) as bar:
        done = [0]

        def progress(total: int) -> None:
            bar.update(total - done[0])
            done[0] = total
        positions = model.rebuild(list(sources), lambda s: sources[s].pages(), progress)
    for source, position in positions.items():
        print(f"{source}: rebuilt up to sequence {position}")


def status(args) -> None:
    model = ReadModel.connect(settings())
    for source, feed in feeds().items():
        try:
            head = feed.head()
        except OSError as error:  # the status of the others is still worth showing
            head = f"unknown ({source}'s /events feed: {error})"
        print(f"{source}: applied {model.position(source)}, head {head}")
    skipped = model.skipped()
    for row in skipped:
        print(f"skipped: {row['source']} sequence {row['sequence']} {row['type']} "
              f"({row['reason']}, {row['at']:%Y-%m-%d %H:%M:%S}): {row['detail']}")
    if skipped:
        print(f"{len(skipped)} events skipped (read_model.skipped_events); their messages are in the "
              f"dead letters: python -m services.projection dead-letters; after fixing the cause, "
              f"dead-letters requeue (or a rebuild) applies them")


def dead_letters(args) -> None:
    letters = DeadLetters(settings().amqp_uri, QUEUE)
    if args.action == "requeue":
        print(f"re-queued {letters.requeue()} dead letters onto {QUEUE}")
        return
    found = letters.list()
    for letter in found:
        print(f"{letter['reason']}: {letter['routing_key']}: {letter['detail']}\n    {letter['body']!r}")
    print(f"{len(found)} dead letters in {letters.dead_letter_queue}"
          + ("; after fixing the cause: python -m services.projection dead-letters requeue" if found else ""))


def main(argv=None) -> int:
    configure_logging()
    parser = argparse.ArgumentParser(prog="python -m services.projection", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="consume",
                        choices=["consume", "rebuild", "status", "dead-letters"])
    parser.add_argument("action", nargs="?", default="list", choices=["list", "requeue"],
                        help="for dead-letters: list (default) or requeue")
    args = parser.parse_args(argv)
    try:
        {"consume": consume, "rebuild": rebuild, "status": status,
         "dead-letters": dead_letters}[args.command](args)
    except ConfigurationError as error:
        print(f"projection: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
