"""The auth domain: users, passwords, signing keys and access tokens, free of web and SQL code."""
