"""Access-token verification: the policy of DESIGN §2, the JWKS cache and the Principal."""
