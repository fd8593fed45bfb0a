"""Developer tooling for Tessera: launcher, dev gateway, test harness. Never imported by services."""
