"""Developer tooling for Tessera: launcher, dev gateway, test harness. Not for services."""
