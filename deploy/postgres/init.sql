-- One database and one role per service (DESIGN §1): no service can read another's tables.
-- Run once by the postgres image on an empty data volume. The passwords are for the local
-- compose demo only; a real deployment provisions its own roles and secrets.
CREATE ROLE auth LOGIN PASSWORD 'auth-dev-only';
CREATE ROLE orders LOGIN PASSWORD 'orders-dev-only';
CREATE ROLE billing LOGIN PASSWORD 'billing-dev-only';

CREATE DATABASE auth OWNER auth;
CREATE DATABASE orders OWNER orders;
CREATE DATABASE billing OWNER billing;

REVOKE ALL ON DATABASE auth FROM PUBLIC;
REVOKE ALL ON DATABASE orders FROM PUBLIC;
REVOKE ALL ON DATABASE billing FROM PUBLIC;
