"""The floor of `bench.refresh`: a FastAPI endpoint that signs one RS256 access token.

No database, no middleware, no log: what any token endpoint must spend per request (HTTP in
and out, JSON, one RSA-2048 signature), served the way auth is (uvicorn, uvloop, httptools).

    python -m bench.sign_only --port 8100
"""

from __future__ import annotations

import argparse
import time
import uuid

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/sign")
async def sign() -> dict[str, str | int]:
    now = int(time.time())
    claims = {
        "iss": "https://auth.bench.test",
        "sub": str(uuid.uuid4()),
        "aud": ["orders", "billing"],
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k", "typ": "at+jwt"})
    return {"access_token": token, "token_type": "Bearer", "expires_in": 300}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.sign_only")
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False)
