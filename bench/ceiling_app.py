"""The throughput ceiling: the least work a FastAPI endpoint can do per KMS call.

kms_http.py serves this app with the uvicorn settings that `keyledger serve`
uses, and sends it the same signed requests that KeyLedger gets. The endpoint
parses the JSON body and returns a 32-byte random value in base64, so its
rate is what the HTTP stack alone allows on the machine, with no SigV4
verification, validation, key lookup or cryptography.
"""

import base64
import json
import os

from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/")
async def handle_kms_request(request: Request) -> Response:
    """Parse the request body as JSON and return a random 32-byte Plaintext."""
    await request.json()
    payload = {"Plaintext": base64.b64encode(os.urandom(32)).decode("ascii")}
    return Response(
        content=json.dumps(payload),
        media_type="application/x-amz-json-1.1",
    )
