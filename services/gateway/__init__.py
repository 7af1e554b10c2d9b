"""The HTTP gateway: the platform's commands and queries over HTTP, with JWT identity and the
bureau's permission policy (docs/gateway.md). Not a registered domain: it has no event store and
no read model; it calls the domains' Nameko services over RPC.

Interface layer. Eventlet is never monkey-patched here: nothing in this package imports
shared.nameko_support or shared.rpc; `services.gateway.rpc` uses Nameko's standalone
`ClusterRpcProxy` (one per worker thread), which works in plain threads."""
