"""HTTP routers: thin handlers that parse, call one domain function, and shape the answer."""
