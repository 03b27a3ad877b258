"""No plaintext, data key, secret access key or root key reaches the disk or the log.

The test sends real traffic with distinctive canary values, through success
and error paths. Then it scans everything KeyLedger wrote: the raw SQLite
files (database, write-ahead log, shared memory), every row of every table in
either backend, the stored events, the server's log and the error bodies. Key material
itself cannot be seen from outside, so the scans look for what a leak of it
would carry along: the data keys and plaintexts it protects.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "111122223333"


def canary(kind: str) -> bytes:
    return f"{kind}-CANARY-{os.urandom(8).hex()}".encode()


def encodings(secret: bytes) -> dict[str, bytes]:
    """The forms in which a secret could leak: raw, base64 and hex."""
    return {
        "raw": secret,
        "base64": base64.b64encode(secret),
        "base64url": base64.urlsafe_b64encode(secret).rstrip(b"="),
        "hex": secret.hex().encode(),
    }


def find_leaks(
    secrets: dict[str, bytes], places: dict[str, bytes]
) -> list[tuple[str, str, str]]:
    """List (secret, encoding, place) for every secret found in any place."""
    leaks = []
    for secret_name, secret in secrets.items():
        for form, encoded in encodings(secret).items():
            for place_name, content in places.items():
                if encoded in content:
                    leaks.append((secret_name, form, place_name))
    return leaks


def client_error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return response


def credentials_file(tmp_path: Path, secret: str, token: str) -> Path:
    path = tmp_path / "credentials.toml"
    path.write_text(
        "[[principals]]\n"
        'access_key_id = "AKIASECRETSTEST"\n'
        f'secret_access_key = "{secret}"\n'
        f'session_token = "{token}"\n'
        f'account_id = "{ACCOUNT}"\n'
    )
    path.chmod(0o600)
    return path


def joined(parts: Iterable[bytes]) -> bytes:
    return b"\n".join(parts)


def test_no_secret_reaches_store_log_or_responses(
    fresh_server_factory: Any,
    tmp_path: Path,
    store_reader: Any,
    raw_for: Any,
) -> None:
    secret_access_key = canary("SECRET").decode()
    session_token = canary("TOKEN").decode()
    path = credentials_file(tmp_path, secret_access_key, session_token)
    server = fresh_server_factory(extra_args=["--credentials-file", str(path)])
    kms = boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIASECRETSTEST",
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    raw = raw_for(server).with_credentials(
        "AKIASECRETSTEST", secret_access_key, session_token
    )
    plaintext = canary("PLAINTEXT")
    secrets: dict[str, bytes] = {"plaintext": plaintext}
    public_blobs: list[bytes] = []
    error_bodies: list[bytes] = []

    # Successful cryptographic traffic.
    key = kms.create_key(Description="secrets")["KeyMetadata"]
    other_key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/secrets", TargetKeyId=key["KeyId"])
    context = {"tenant": "canary-test"}
    blob = kms.encrypt(
        KeyId="alias/secrets", Plaintext=plaintext, EncryptionContext=context
    )["CiphertextBlob"]
    public_blobs.append(blob)
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == (
        plaintext
    )
    re_encrypted = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=context,
        DestinationKeyId=other_key["KeyId"],
    )["CiphertextBlob"]
    public_blobs.append(re_encrypted)
    for number, params in enumerate(
        [{"KeySpec": "AES_256"}, {"KeySpec": "AES_128"}, {"NumberOfBytes": 64}]
    ):
        data_key = kms.generate_data_key(KeyId=key["KeyId"], **params)
        secrets[f"data key {number}"] = data_key["Plaintext"]
        public_blobs.append(data_key["CiphertextBlob"])
        reopened = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
        assert reopened["Plaintext"] == data_key["Plaintext"]
    without_plaintext = kms.generate_data_key_without_plaintext(
        KeyId=key["KeyId"], KeySpec="AES_256"
    )["CiphertextBlob"]
    secrets["data key made without plaintext"] = kms.decrypt(
        CiphertextBlob=without_plaintext
    )["Plaintext"]
    secrets["random bytes"] = kms.generate_random(NumberOfBytes=32)["Plaintext"]

    # Error paths that carry the plaintext canary in the request.
    too_long = plaintext * (4097 // len(plaintext) + 1)
    failures = [
        (
            "plaintext over 4096 bytes",
            kms.encrypt,
            {"KeyId": key["KeyId"], "Plaintext": too_long},
        ),
        (
            "unknown key",
            kms.encrypt,
            {"KeyId": "11111111-2222-3333-4444-555555555555", "Plaintext": plaintext},
        ),
        (
            "unknown alias",
            kms.encrypt,
            {"KeyId": "alias/absent", "Plaintext": plaintext},
        ),
        (
            "another account's key",
            kms.encrypt,
            {
                "KeyId": key["Arn"].replace(ACCOUNT, "999999999999"),
                "Plaintext": plaintext,
            },
        ),
        (
            "wrong key for the blob",
            kms.decrypt,
            {
                "CiphertextBlob": blob,
                "KeyId": other_key["KeyId"],
                "EncryptionContext": context,
            },
        ),
        (
            "changed context",
            kms.decrypt,
            {"CiphertextBlob": blob, "EncryptionContext": {"tenant": "x"}},
        ),
        (
            "flipped bit",
            kms.decrypt,
            {
                "CiphertextBlob": blob[:-1] + bytes([blob[-1] ^ 1]),
                "EncryptionContext": context,
            },
        ),
        ("truncated blob", kms.decrypt, {"CiphertextBlob": blob[:40]}),
    ]
    for description, call, params in failures:
        response = client_error(call, **params)
        assert response["Error"]["Code"], description
    kms.disable_key(KeyId=other_key["KeyId"])
    client_error(kms.encrypt, KeyId=other_key["KeyId"], Plaintext=plaintext)
    client_error(kms.decrypt, CiphertextBlob=re_encrypted)
    plaintext_b64 = base64.b64encode(plaintext).decode()
    for body in [
        b'{"KeyId": "alias/secrets", "Plaintext": "' + plaintext + b'"}',
        b'{"KeyId": "alias/secrets", "Plaintext": "' + plaintext_b64.encode() + b'",',
        b'{"KeyId": 1, "Plaintext": "' + plaintext_b64.encode() + b'"}',
        b'{"KeyId": "alias/secrets", "Plaintext": "'
        + plaintext_b64.encode()
        + b'", "EncryptionContext": []}',
    ]:
        response = raw.call("Encrypt", body)
        assert response.status == 400, response.body
        error_bodies.append(response.body)
    error_bodies += [r.body for r in raw.responses]
    raw_secret_body = raw.with_credentials("AKIASECRETSTEST", "wrong").call(
        "Encrypt", {"KeyId": "alias/secrets", "Plaintext": plaintext_b64}
    )
    error_bodies.append(raw_secret_body.body)

    # The scans: once while the server runs, once after it stopped and
    # checkpointed.
    credential_secrets = {
        "secret access key": secret_access_key.encode(),
        "session token": session_token.encode(),
    }
    root_key = (server.data_dir / "root.key").read_bytes()
    everything_secret = {
        **secrets,
        **credential_secrets,
        "root key": root_key,
    }
    reader = store_reader(server)

    def places() -> dict[str, bytes]:
        found = {
            "log": server.log_text().encode(),
            "rows": joined(reader.all_cell_bytes()),
            "events": joined(
                bytes(row[0])
                for row in reader.query(f"SELECT state FROM {reader.events_table}")
            ),
            "error responses": joined(error_bodies),
        }
        found.update(reader.raw_files())
        return found

    running = places()
    assert running["events"], "the scan read no events"
    assert b"KeyCreated" in joined(
        row[0].encode()
        for row in reader.query(f"SELECT topic FROM {reader.events_table}")
    )
    assert find_leaks(everything_secret, running) == []
    # Ciphertext blobs are not secret, but logging them is forbidden too.
    assert (
        find_leaks(
            {f"blob {n}": b for n, b in enumerate(public_blobs)},
            {"log": running["log"]},
        )
        == []
    )

    server.stop()

    stopped = places()
    assert find_leaks(everything_secret, stopped) == []


def test_error_messages_do_not_echo_plaintext(raw: Any) -> None:
    plaintext = canary("PLAINTEXT")
    plaintext_b64 = base64.b64encode(plaintext).decode()
    key_id = raw.ok("CreateKey", {})["KeyMetadata"]["KeyId"]
    too_long_b64 = base64.b64encode(plaintext * 300).decode()
    requests = [
        ("Encrypt", {"KeyId": key_id, "Plaintext": too_long_b64}),
        ("Encrypt", {"KeyId": key_id, "Plaintext": ""}),
        ("Encrypt", {"KeyId": "alias/absent", "Plaintext": plaintext_b64}),
        ("Encrypt", {"KeyId": key_id, "Plaintext": plaintext.decode() + "!"}),
        ("Decrypt", {"CiphertextBlob": plaintext_b64}),
        (
            "Decrypt",
            {"CiphertextBlob": base64.b64encode(b"\x00" * 100 + plaintext).decode()},
        ),
        (
            "GenerateDataKey",
            {"KeyId": key_id, "KeySpec": "AES_256", "NumberOfBytes": 32},
        ),
    ]

    for action, payload in requests:
        response = raw.call(action, payload)

        assert response.status == 400, (action, response.body)
        for form, encoded in encodings(plaintext).items():
            assert encoded not in response.body, (action, form, response.body)
        assert plaintext_b64.encode()[:16] not in response.body
