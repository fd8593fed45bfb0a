"""gRPC API: the BillingService servicer and the server that hosts it."""
