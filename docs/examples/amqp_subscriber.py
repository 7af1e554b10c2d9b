#!/usr/bin/env python3
"""Example subscriber for a subscription with protocol AMQP (docs/asyncapi.yaml, channel
`subscriptionQueue`). Needs only `pika` (pip install pika==1.4.4); copy it and replace
`handle()` with your own processing.

    python amqp_subscriber.py --url 'amqp://<user>:<password>@rabbitmq.example:5672/<vhost>' \
        --queue <the queue name shown at creation> [--state position.json]

What it does, as the bureau's platform expects of a consumer:
- consumes the subscription's own queue with manual acknowledgements (prefetch bounded): a
  message is acknowledged only after `handle()` returned, so nothing is lost if it crashes;
- reads each message as a structured-mode CloudEvent (`application/cloudevents+json`); a message
  that is not one is rejected without requeue (it goes to the subscription's dead-letter queue);
- de-duplicates on (`source`, `sequence`): delivery is at least once, so it keeps, per source,
  the highest sequence handled and skips (acknowledges) anything at or below it. `sequence` is a
  20-digit zero-padded string; compare it as an integer. With `--state` the positions survive a
  restart (a production consumer keeps them in its own database, in the same transaction as its
  own change);
- reconnects after the connection drops (broker restart, network, a closed connection), with
  back-off, and carries on where the queue is: the unacknowledged messages come again and the
  positions drop the ones already handled;
- prints one JSON line per event handled (stdout); reconnects and skips are logged on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import pika
from pika.exceptions import AMQPChannelError, AMQPConnectionError

CONTENT_TYPE = "application/cloudevents+json"
CONNECTION_NAME = "example-amqp-subscriber"
MAX_BACKOFF = 30.0  # seconds between reconnection attempts, at most


def log(**fields) -> None:
    print(json.dumps(fields, ensure_ascii=False), file=sys.stderr, flush=True)


def handle(event: dict) -> None:
    """Your processing goes here. The example prints the event's position and type."""
    print(json.dumps({"id": event.get("id"), "source": event.get("source"), "type": event.get("type"),
                      "sequence": event.get("sequence"), "data": event.get("data")},
                     ensure_ascii=False), flush=True)


class Positions:
    """The highest sequence handled per source, optionally kept in a JSON file."""

    def __init__(self, path: Path | None):
        self.path = path
        self.highest: dict[str, int] = {}
        if path and path.is_file():
            self.highest = {k: int(v) for k, v in json.loads(path.read_text()).items()}

    def is_new(self, source: str, sequence: int) -> bool:
        return sequence > self.highest.get(source, 0)

    def advance(self, source: str, sequence: int) -> None:
        self.highest[source] = sequence
        if self.path:
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.highest))
            os.replace(temporary, self.path)


class Subscriber:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.positions = Positions(args.state)
        self.handled = 0

    def on_message(self, channel, method, properties, body: bytes) -> None:
        event = self._cloudevent(properties, body)
        if event is None:
            channel.basic_nack(method.delivery_tag, requeue=False)
            return
        source, sequence = event["source"], int(event["sequence"])
        if self.positions.is_new(source, sequence):
            handle(event)
            self.positions.advance(source, sequence)
            self.handled += 1
        else:
            log(skipped=event["id"], source=source, sequence=event["sequence"], reason="duplicate")
        channel.basic_ack(method.delivery_tag)
        if self.args.max_events and self.handled >= self.args.max_events:
            channel.stop_consuming()

    @staticmethod
    def _cloudevent(properties, body: bytes) -> dict | None:
        if (properties.content_type or "").split(";")[0].strip() != CONTENT_TYPE:
            log(rejected=properties.message_id, reason=f"content type {properties.content_type!r}")
            return None
        try:
            event = json.loads(body)
            if not (isinstance(event, dict) and event.get("specversion") == "1.0"
                    and isinstance(event.get("source"), str) and str(event.get("sequence", "")).isdigit()):
                raise ValueError("not a CloudEvent with source and sequence")
        except ValueError as error:
            log(rejected=properties.message_id, reason=str(error))
            return None
        return event

    def consume_once(self) -> None:
        """One connection's life: consume until it drops or max_events is reached."""
        parameters = pika.URLParameters(self.args.url)
        parameters.client_properties = {"connection_name": CONNECTION_NAME}
        connection = pika.BlockingConnection(parameters)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self.args.prefetch)
            channel.basic_consume(self.args.queue, self.on_message, auto_ack=False)
            log(consuming=self.args.queue)
            channel.start_consuming()
        finally:
            if connection.is_open:
                connection.close()

    def run(self) -> int:
        backoff = 1.0
        while True:
            try:
                self.consume_once()
                if self.args.max_events and self.handled >= self.args.max_events:
                    return 0
            except (AMQPConnectionError, AMQPChannelError) as error:
                # AMQPChannelError: e.g. the queue is not there (yet); retried like a lost connection.
                log(disconnected=type(error).__name__, detail=str(error), retry_in=round(backoff, 1))
                time.sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Example consumer of a subscription's AMQP queue")
    parser.add_argument("--url", default=os.environ.get("SUBSCRIPTION_AMQP_URL"),
                        help="amqp://user:password@host:port/vhost (default: SUBSCRIPTION_AMQP_URL)")
    parser.add_argument("--queue", default=os.environ.get("SUBSCRIPTION_QUEUE"),
                        help="the subscription's queue (default: SUBSCRIPTION_QUEUE)")
    parser.add_argument("--prefetch", type=int, default=50, help="unacknowledged messages at most (1..1000)")
    parser.add_argument("--state", type=Path, help="JSON file keeping the position per source")
    parser.add_argument("--max-events", type=int, default=0, help="stop after this many handled (0: never)")
    args = parser.parse_args(argv)
    if not args.url or not args.queue:
        parser.error("--url and --queue are required")
    if not 1 <= args.prefetch <= 1000:
        parser.error("--prefetch must be 1..1000")
    if args.max_events < 0:
        parser.error("--max-events must be 0 or positive")
    return args


if __name__ == "__main__":
    sys.exit(Subscriber(arguments()).run())
