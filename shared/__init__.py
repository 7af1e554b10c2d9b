"""Code every service of the platform shares: errors, identity numbers, money, the event
store set-up, the CloudEvents contract, the outbox relay, the bus consumer and metrics."""
