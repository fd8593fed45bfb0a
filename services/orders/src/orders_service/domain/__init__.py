"""Order rules, free of any web, RPC or storage framework."""
