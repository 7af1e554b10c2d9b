"""Interface layer of the projection service: its process and its operator commands.

  python -m services.projection            consume the bus into the read model (a long-running process):
                                           one worker thread per source (PROJECTION_WORKERS=per-source,
                                           the default), each consuming its source's queue
                                           projection.read_model.<source> in order, the sources in
                                           parallel; PROJECTION_WORKERS=1: one worker for all of them
  python -m services.projection rebuild    wipe the read model and replay every source's event store
  python -m services.projection status     show each source's applied position and head, and the
                                           events skipped because they could not be applied
  python -m services.projection dead-letters          list the messages the projection refused
  python -m services.projection dead-letters requeue  put them back on its queue (after a fix)
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from prometheus_client import start_http_server

from services.projection.readmodel import ReadModel
from shared import domains
from shared.config import ConfigurationError, service_url, settings
from shared.consumer import DeadLetters, EventConsumer, FeedClient
from shared.logs import configure_logging
from shared.watchdog import Watchdog

QUEUE = "projection.read_model"   # the family: per-source queues QUEUE.<source>, dead letters QUEUE.dead-letter
WORKER_MODES = ("per-source", "1")
log = logging.getLogger("projection")


def source_queues(sources) -> dict[str, str]:
    """Each source's own queue, bound with # to its exchange only."""
    return {source: f"{QUEUE}.{source}" for source in sources}


def feeds() -> dict[str, FeedClient]:
    """The feed of every registered domain (its `<NAME>_URL`)."""
    return {source: FeedClient(service_url(source)) for source in domains.names()}


def validator():
    from shared.schemas import validate
    return validate


def workers_mode() -> str:
    mode = os.environ.get("PROJECTION_WORKERS", "per-source").strip() or "per-source"
    if mode not in WORKER_MODES:
        raise ConfigurationError(f"PROJECTION_WORKERS={mode!r}: must be one of {', '.join(WORKER_MODES)}")
    return mode


def consumers(model: ReadModel, amqp_uri: str, mode: str) -> list[EventConsumer]:
    """The workers: one per source (its feed, its queue), or one for every source's queue."""
    sources = feeds()
    queues = source_queues(sources)
    validate = validator()
    if mode == "1":
        return [EventConsumer(amqp_uri, QUEUE, sources, model.apply_batch, model.position, validate,
                              queues=queues, worker="all")]
    return [EventConsumer(amqp_uri, QUEUE, {source: feed}, model.apply_batch, model.position, validate,
                          queues={source: queues[source]}, worker=source)
            for source, feed in sources.items()]


def retire_shared_queue(amqp_uri: str, sources) -> None:
    """Before the per-source queues, one queue QUEUE took every source's events. Unbind and
    delete it if it is still there, so that it stops filling: what it held is in the event stores,
    and each worker fetches whatever its source's queue never had from the source's feed (the gap
    fill, or the head check)."""
    import amqp

    from shared.bus import AmqpAddress
    connection = amqp.Connection(**AmqpAddress.parse(amqp_uri).connection_kwargs())
    connection.connect()
    try:
        channel = connection.channel()
        try:
            _, waiting, _ = channel.queue_declare(QUEUE, passive=True)
        except amqp.exceptions.NotFound:
            return
        for source in sources:
            try:
                channel.queue_unbind(QUEUE, f"{source}.events", "#")
            except amqp.exceptions.NotFound:
                channel = connection.channel()
        channel.queue_delete(QUEUE)
        log.warning("projection: deleted the shared queue %s (%d messages) of the single-consumer "
                    "topology; its events are in the event stores and are caught up from the feeds",
                    QUEUE, waiting)
    finally:
        connection.close()


def consume(args) -> None:
    mode = workers_mode()
    sources = list(domains.names())
    workers_count = 1 if mode == "1" else len(sources)
    # One connection per worker in a transaction at a time, and one for the operator's reads.
    model = ReadModel.connect(settings(), pool_size=workers_count + 1)
    amqp_uri = settings().amqp_uri
    retire_shared_queue(amqp_uri, sources)
    workers = consumers(model, amqp_uri, mode)
    stopping = threading.Event()

    def stop(*_args) -> None:
        stopping.set()
        for worker in workers:
            worker.stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = int(os.environ.get("METRICS_PORT", "9102"))
    start_http_server(port)
    threads = [threading.Thread(target=worker.run_forever, args=(Watchdog(f"projection worker {worker.worker}"),),
                                name=f"projection-{worker.worker}", daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    print(f"projection: {len(workers)} worker(s) ({mode}) consuming "
          f"{', '.join(sorted(q for w in workers for q in w.queues.values()))} into schema read_model; "
          f"metrics on :{port}/metrics", flush=True)
    while not stopping.wait(1.0):
        dead = [t.name for t in threads if not t.is_alive()]
        if dead:  # a worker ended by an error nobody caught: start the whole process again
            log.critical("projection: worker(s) %s stopped unexpectedly; exiting so that the supervisor "
                         "starts the projection again (every worker resumes from its position)", ", ".join(dead))
            stop()
            for thread in threads:
                thread.join(10)
            sys.exit(3)
    for thread in threads:
        thread.join(30)


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
    letters = DeadLetters(settings().amqp_uri, QUEUE, source_queues(domains.names()))
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
