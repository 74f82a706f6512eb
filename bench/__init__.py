"""make bench: our server beside node-oidc-provider (bench/README.md)."""
