"""Tags through boto3: TagResource, UntagResource, ListResourceTags, and the
Tags parameter of CreateKey.

Expected values come from the AWS KMS API reference pages of each action
(API_TagResource, API_ListResourceTags, ...) and the developer guide's "Key
states of AWS KMS keys" table. Tag keys have 1 to 128 characters and values 0
to 256, as the service model's Tag shape states, and a tag key must not begin
with "aws:" (CloudFormation reference, AWS::KMS::Key Tag). A key has at most
50 tags, AWS's usual limit per resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return the error's code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def tag(key: str, value: str) -> dict[str, str]:
    return {"TagKey": key, "TagValue": value}


def new_key(kms: Any, **params: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key(**params)["KeyMetadata"]
    return metadata


def tags_of(kms: Any, key_id: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for page in kms.get_paginator("list_resource_tags").paginate(KeyId=key_id):
        tags.update({entry["TagKey"]: entry["TagValue"] for entry in page["Tags"]})
    return tags


def all_key_ids(kms: Any) -> list[str]:
    key_ids: list[str] = []
    for page in kms.get_paginator("list_keys").paginate():
        key_ids.extend(entry["KeyId"] for entry in page["Keys"])
    return key_ids


# TagResource, UntagResource and ListResourceTags


@pytest.mark.parametrize("form", ["key id", "key ARN"])
def test_tag_list_and_untag_round_trip(kms: Any, form: str) -> None:
    key = new_key(kms)
    key_id = key["KeyId"] if form == "key id" else key["Arn"]

    tagged = kms.tag_resource(KeyId=key_id, Tags=[tag("a", "1"), tag("b", "2")])
    listed = kms.list_resource_tags(KeyId=key_id)
    untagged = kms.untag_resource(KeyId=key_id, TagKeys=["a"])
    after = kms.list_resource_tags(KeyId=key_id)

    assert set(tagged) == {"ResponseMetadata"}
    assert set(untagged) == {"ResponseMetadata"}
    assert set(listed) == {"Tags", "Truncated", "ResponseMetadata"}
    assert sorted(listed["Tags"], key=lambda entry: entry["TagKey"]) == [
        tag("a", "1"),
        tag("b", "2"),
    ]
    assert listed["Truncated"] is False
    assert after["Tags"] == [tag("b", "2")]
    assert after["Truncated"] is False


def test_list_resource_tags_of_untagged_key_is_empty(kms: Any) -> None:
    key = new_key(kms)

    response = kms.list_resource_tags(KeyId=key["KeyId"])

    assert response["Tags"] == []
    assert response["Truncated"] is False
    assert "NextMarker" not in response


def test_tag_resource_overwrites_an_existing_value(kms: Any) -> None:
    key = new_key(kms, Tags=[tag("env", "test")])

    kms.tag_resource(KeyId=key["KeyId"], Tags=[tag("env", "prod")])

    assert tags_of(kms, key["KeyId"]) == {"env": "prod"}


def test_tag_resource_accepts_empty_value(kms: Any) -> None:
    key = new_key(kms)

    kms.tag_resource(KeyId=key["KeyId"], Tags=[tag("flag", "")])

    assert tags_of(kms, key["KeyId"]) == {"flag": ""}


def test_tag_keys_are_case_sensitive(kms: Any) -> None:
    key = new_key(kms)

    kms.tag_resource(KeyId=key["KeyId"], Tags=[tag("Env", "a"), tag("env", "b")])

    assert tags_of(kms, key["KeyId"]) == {"Env": "a", "env": "b"}


def test_concurrent_tag_resource_keeps_every_tag(server: Any) -> None:
    key = new_key(server.client())
    clients = [server.client() for _ in range(8)]

    def tag_once(index: int) -> None:
        clients[index].tag_resource(
            KeyId=key["KeyId"], Tags=[tag(f"writer-{index}", str(index))]
        )

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(tag_once, range(len(clients))))

    assert tags_of(server.client(), key["KeyId"]) == {
        f"writer-{index}": str(index) for index in range(len(clients))
    }


def test_untag_resource_ignores_absent_tag_keys(kms: Any) -> None:
    key = new_key(kms, Tags=[tag("keep", "1")])

    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["never-set"])

    assert tags_of(kms, key["KeyId"]) == {"keep": "1"}


@pytest.mark.parametrize(
    "action", ["tag_resource", "untag_resource", "list_resource_tags"]
)
@pytest.mark.parametrize("form", ["alias name", "alias ARN"])
def test_tag_actions_reject_alias_forms(
    kms: Any, request: pytest.FixtureRequest, action: str, form: str
) -> None:
    # The API reference pages of the tag actions accept only a key ID or key ARN.
    key = new_key(kms, Tags=[tag("t", "v")])
    suffix = re.sub(r"[^a-zA-Z0-9_-]", "-", request.node.name)[-60:]
    alias_name = f"alias/tags-{suffix}"
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])
    key_id = (
        alias_name
        if form == "alias name"
        else f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias_name}"
    )
    params: dict[str, Any] = {
        "tag_resource": {"Tags": [tag("t", "changed")]},
        "untag_resource": {"TagKeys": ["t"]},
        "list_resource_tags": {},
    }[action]

    error = error_of(getattr(kms, action), KeyId=key_id, **params)

    assert error["Code"] == "NotFoundException"
    assert key_id in error["Message"]
    assert tags_of(kms, key["KeyId"]) == {"t": "v"}


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("tag_resource", {"Tags": [tag("t", "v")]}),
        ("untag_resource", {"TagKeys": ["t"]}),
        ("list_resource_tags", {}),
    ],
)
def test_tag_actions_on_unknown_key_are_not_found(
    kms: Any, action: str, params: dict[str, Any]
) -> None:
    missing = "8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"

    error = error_of(getattr(kms, action), KeyId=missing, **params)

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == (
        f"Key 'arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{missing}' does not exist"
    )


# Key states


def test_tag_and_untag_of_disabled_key_succeed(kms: Any) -> None:
    key = new_key(kms, Tags=[tag("old", "1")])
    kms.disable_key(KeyId=key["KeyId"])

    kms.tag_resource(KeyId=key["KeyId"], Tags=[tag("new", "2")])
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["old"])

    assert tags_of(kms, key["KeyId"]) == {"new": "2"}


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("tag_resource", {"Tags": [tag("new", "2")]}),
        ("untag_resource", {"TagKeys": ["old"]}),
    ],
)
def test_tag_changes_on_pending_key_are_invalid_state(
    kms: Any, action: str, params: dict[str, Any]
) -> None:
    key = new_key(kms, Tags=[tag("old", "1")])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)

    error = error_of(getattr(kms, action), KeyId=key["KeyId"], **params)

    # Key states table, footnote 3.
    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{key['Arn']} is pending deletion."
    assert tags_of(kms, key["KeyId"]) == {"old": "1"}


def test_list_resource_tags_of_pending_key_succeeds(kms: Any) -> None:
    # Key states table: ListResourceTags succeeds in every key state.
    key = new_key(kms, Tags=[tag("old", "1")])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)

    response = kms.list_resource_tags(KeyId=key["KeyId"])

    assert response["Tags"] == [tag("old", "1")]
    assert response["Truncated"] is False


# Validation


@pytest.mark.parametrize("tag_key", ["aws:x", "AWS:x", "Aws:created-by", "aWs:"])
def test_reserved_aws_prefix_is_rejected_in_any_case(kms: Any, tag_key: str) -> None:
    key = new_key(kms)

    tag_error = error_of(kms.tag_resource, KeyId=key["KeyId"], Tags=[tag(tag_key, "v")])
    create_error = error_of(kms.create_key, Tags=[tag(tag_key, "v")])

    # API_TagResource: TagException for a tag key that is not valid.
    assert tag_error["Code"] == "TagException"
    assert tag_key in tag_error["Message"]
    assert create_error["Code"] == "TagException"
    assert tags_of(kms, key["KeyId"]) == {}


def test_aws_inside_a_tag_key_is_allowed(kms: Any) -> None:
    key = new_key(kms)

    kms.tag_resource(KeyId=key["KeyId"], Tags=[tag("my-aws:x", "v"), tag("awsx", "v")])

    assert tags_of(kms, key["KeyId"]) == {"my-aws:x": "v", "awsx": "v"}


def test_duplicate_tag_keys_in_one_request_are_rejected(kms: Any) -> None:
    key = new_key(kms)

    tag_error = error_of(
        kms.tag_resource, KeyId=key["KeyId"], Tags=[tag("d", "1"), tag("d", "2")]
    )
    create_error = error_of(kms.create_key, Tags=[tag("d", "1"), tag("d", "2")])

    assert tag_error["Code"] == "TagException"
    assert "d" in tag_error["Message"]
    assert create_error["Code"] == "TagException"
    assert tags_of(kms, key["KeyId"]) == {}


def test_create_key_with_fifty_tags_succeeds(kms: Any) -> None:
    tags = [tag(f"k{i}", "v") for i in range(50)]

    key = new_key(kms, Tags=tags)

    assert tags_of(kms, key["KeyId"]) == {f"k{i}": "v" for i in range(50)}


def test_create_key_with_fifty_one_tags_creates_nothing(kms: Any) -> None:
    key_ids_before = all_key_ids(kms)

    error = error_of(kms.create_key, Tags=[tag(f"k{i}", "v") for i in range(51)])

    # NOTE: AWS's exception for too many tags is not documented per case;
    # KeyLedger returns TagException, the model's error for invalid tags.
    assert error["Code"] == "TagException"
    assert all_key_ids(kms) == key_ids_before


def test_tag_resource_past_fifty_tags_changes_nothing(kms: Any) -> None:
    key = new_key(kms, Tags=[tag(f"k{i}", "v") for i in range(49)])

    error = error_of(
        kms.tag_resource, KeyId=key["KeyId"], Tags=[tag("x", "1"), tag("y", "2")]
    )
    kms.tag_resource(KeyId=key["KeyId"], Tags=[tag("k0", "new"), tag("x", "1")])

    assert error["Code"] == "TagException"
    tags = tags_of(kms, key["KeyId"])
    assert len(tags) == 50
    assert tags["k0"] == "new"
    assert "y" not in tags


def test_tag_key_of_128_characters_and_value_of_256_succeed(kms: Any) -> None:
    key = new_key(kms)

    kms.tag_resource(KeyId=key["KeyId"], Tags=[tag("k" * 128, "v" * 256)])

    assert tags_of(kms, key["KeyId"]) == {"k" * 128: "v" * 256}


@pytest.mark.parametrize(
    ("tag_key", "tag_value"),
    [("k" * 129, "v"), ("k", "v" * 257), ("", "v")],
    ids=["key-129", "value-257", "empty-key"],
)
def test_tag_outside_model_lengths_is_rejected(
    server: Any, tag_key: str, tag_value: str
) -> None:
    kms = server.client(parameter_validation=False)
    key = new_key(kms)

    tag_error = error_of(
        kms.tag_resource, KeyId=key["KeyId"], Tags=[tag(tag_key, tag_value)]
    )
    create_error = error_of(kms.create_key, Tags=[tag(tag_key, tag_value)])

    assert tag_error["Code"] == "ValidationException"
    assert create_error["Code"] == "ValidationException"
    assert tags_of(kms, key["KeyId"]) == {}
