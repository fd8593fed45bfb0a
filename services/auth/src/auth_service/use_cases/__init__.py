"""auth's use cases: one class per area, built once at start-up with its ports (bootstrap.py).

Each method is one use case: it opens its own unit of work (one transaction), applies the
domain's rules, commits once, and raises `errors.py`'s errors; the HTTP handlers only parse,
call one method and shape the answer. Nothing here imports a web framework or SQLAlchemy.

- `Accounts` (accounts.py): register, the caller's profile, create or promote an admin.
- `Logins` (login.py): password login, rate limited per IP and per account.
- `RefreshTokens` (refresh.py): rotation with reuse detection and the grace window.
- `Sessions` (sessions.py): list, revoke, log out (everywhere), change the password.
- `Administration` (administration.py): an admin's session revocation and role changes.
- `ServiceGrants` (service_grants.py): client authentication, client_credentials, exchange.
- `ServiceClients` (service_clients.py): register, rotate and provision service clients.
- `RevocationFeed` (revocation_feed.py): list + watch of the revocation events, pruning.
"""
