"""The subscription service (a platform service like reporting, not a registered domain): managed
subscriptions of municipal systems to the bureau's events, with its own event store (schema
`subscriptions`). docs/subscriptions.md."""
