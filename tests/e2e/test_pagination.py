"""Pagination of ListKeys, ListAliases and ListResourceTags through boto3.

API_ListKeys: Limit 1 to 1000, default 100. API_ListAliases: Limit 1 to 100,
default 50. API_ListResourceTags: Limit 1 to 50, default 50. A truncated page
has Truncated true and a NextMarker; the last page has Truncated false and no
NextMarker. A Marker the service did not issue gets InvalidMarkerException.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

BULK_KEY_COUNT = 10_000
BULK_THREADS = 16


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return the error's code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def walk(
    operation: Callable[..., dict[str, Any]], entries_name: str, **params: Any
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Follow NextMarker to the last page; return all entries and every page."""
    entries: list[Any] = []
    pages: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page_params = dict(params)
        if marker is not None:
            page_params["Marker"] = marker
        page = operation(**page_params)
        pages.append(page)
        entries.extend(page[entries_name])
        if not page["Truncated"]:
            assert "NextMarker" not in page
            return entries, pages
        marker = page["NextMarker"]
        assert marker


def key_ids_of(entries: list[dict[str, str]]) -> list[str]:
    return [entry["KeyId"] for entry in entries]


def create_keys(kms: Any, count: int) -> list[str]:
    return [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(count)]


# ListKeys


def test_list_keys_pages_follow_creation_order(fresh_server_factory: Any) -> None:
    kms = fresh_server_factory().client()
    created = create_keys(kms, 7)

    entries, pages = walk(kms.list_keys, "Keys", Limit=3)

    assert key_ids_of(entries) == created
    assert [len(page["Keys"]) for page in pages] == [3, 3, 1]
    assert [page["Truncated"] for page in pages] == [True, True, False]
    assert all(set(entry) == {"KeyId", "KeyArn"} for entry in entries)


def test_list_keys_last_full_page_is_not_truncated(fresh_server_factory: Any) -> None:
    kms = fresh_server_factory().client()
    created = create_keys(kms, 6)

    entries, pages = walk(kms.list_keys, "Keys", Limit=3)

    assert key_ids_of(entries) == created
    assert [len(page["Keys"]) for page in pages] == [3, 3]
    assert pages[-1]["Truncated"] is False


def test_list_keys_of_empty_region_is_one_empty_page(fresh_server_factory: Any) -> None:
    kms = fresh_server_factory().client()

    response = kms.list_keys()

    assert response["Keys"] == []
    assert response["Truncated"] is False
    assert "NextMarker" not in response


def test_list_keys_lists_a_new_key_in_the_very_next_call(
    fresh_server_factory: Any,
) -> None:
    kms = fresh_server_factory().client()
    created: list[str] = []

    for _ in range(20):
        created.append(kms.create_key()["KeyMetadata"]["KeyId"])
        entries, _ = walk(kms.list_keys, "Keys", Limit=7)

        assert key_ids_of(entries) == created


def test_list_keys_marker_outlives_keys_created_after_it(
    fresh_server_factory: Any,
) -> None:
    kms = fresh_server_factory().client()
    first = create_keys(kms, 4)
    page = kms.list_keys(Limit=2)

    later = create_keys(kms, 3)
    rest, _ = walk(kms.list_keys, "Keys", Limit=2, Marker=page["NextMarker"])

    assert key_ids_of(page["Keys"]) == first[:2]
    assert key_ids_of(rest) == first[2:] + later


def test_list_keys_keeps_pending_keys_in_place(
    fresh_server_factory: Any,
) -> None:
    kms = fresh_server_factory().client()
    created = create_keys(kms, 5)
    kms.schedule_key_deletion(KeyId=created[2], PendingWindowInDays=7)
    kms.disable_key(KeyId=created[3])

    entries, _ = walk(kms.list_keys, "Keys", Limit=2)

    assert key_ids_of(entries) == created


@pytest.mark.parametrize(
    "marker",
    [
        "not-a-marker",
        base64.urlsafe_b64encode(b"keys:not-a-number").decode(),
        base64.urlsafe_b64encode(b"aliases:alias/x").decode(),
        "\u00ff\u00fe",
    ],
    ids=["garbage", "bad-position", "other-list", "latin-1"],
)
def test_list_keys_with_invalid_marker_is_invalid_marker(kms: Any, marker: str) -> None:
    error = error_of(kms.list_keys, Marker=marker)

    assert error["Code"] == "InvalidMarkerException"


def test_list_keys_rejects_marker_of_list_aliases(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for suffix in ("one", "two"):
        kms.create_alias(
            AliasName=f"alias/pagination-{suffix}-{key_id}", TargetKeyId=key_id
        )
    aliases_marker = kms.list_aliases(KeyId=key_id, Limit=1)["NextMarker"]

    error = error_of(kms.list_keys, Marker=aliases_marker)

    assert error["Code"] == "InvalidMarkerException"


@pytest.mark.parametrize("limit", [0, 1001])
def test_list_keys_limit_outside_range(server: Any, limit: int) -> None:
    kms = server.client(parameter_validation=False)

    error = error_of(kms.list_keys, Limit=limit)

    assert error["Code"] == "ValidationException"
    assert "limit" in error["Message"]


def create_bulk_keys(server: Any, count: int) -> list[str]:
    """Create ``count`` keys from several clients at once; return their ids."""
    clients = [server.client() for _ in range(BULK_THREADS)]

    def create_share(index: int) -> list[str]:
        kms = clients[index]
        share = range(index, count, BULK_THREADS)
        return [kms.create_key()["KeyMetadata"]["KeyId"] for _ in share]

    with ThreadPoolExecutor(max_workers=BULK_THREADS) as pool:
        shares = list(pool.map(create_share, range(BULK_THREADS)))
    return [key_id for share in shares for key_id in share]


def test_list_keys_walks_ten_thousand_keys(
    fresh_server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # One log line per request would cost more than the 10,000 appends.
    server = fresh_server_factory(extra_args=["--log-level", "warning"])
    kms = server.client()
    started = time.perf_counter()
    bulk = create_bulk_keys(server, BULK_KEY_COUNT)
    created_seconds = time.perf_counter() - started
    tail = create_keys(kms, 3)

    by_thousand, thousand_pages = walk(kms.list_keys, "Keys", Limit=1000)
    by_default, default_pages = walk(kms.list_keys, "Keys")

    walked_seconds = time.perf_counter() - started - created_seconds
    with capsys.disabled():
        print(
            f"\n[{fresh_server_factory.backend}] created {BULK_KEY_COUNT} keys in "
            f"{created_seconds:.1f} s with {BULK_THREADS} clients; "
            f"both ListKeys walks took {walked_seconds:.1f} s"
        )
    thousand_ids = key_ids_of(by_thousand)
    default_ids = key_ids_of(by_default)
    assert len(thousand_ids) == BULK_KEY_COUNT + 3
    assert len(set(thousand_ids)) == len(thousand_ids)
    assert set(thousand_ids) == set(bulk) | set(tail)
    assert default_ids == thousand_ids
    assert thousand_ids[-3:] == tail
    assert [len(page["Keys"]) for page in thousand_pages] == [1000] * 10 + [3]
    assert [len(page["Keys"]) for page in default_pages] == [100] * 100 + [3]


# ListAliases


def test_list_aliases_pages_in_name_order(fresh_server_factory: Any) -> None:
    kms = fresh_server_factory().client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    names = [f"alias/page-{letter}" for letter in "gcaefdb"]
    for alias_name in names:
        kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)

    entries, pages = walk(kms.list_aliases, "Aliases", Limit=3)

    assert [entry["AliasName"] for entry in entries] == sorted(names)
    assert [len(page["Aliases"]) for page in pages] == [3, 3, 1]
    assert all(entry["TargetKeyId"] == key_id for entry in entries)


def test_list_aliases_filtered_by_key_pages(fresh_server_factory: Any) -> None:
    kms = fresh_server_factory().client()
    mine = kms.create_key()["KeyMetadata"]["KeyId"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    for index in range(5):
        kms.create_alias(AliasName=f"alias/mine-{index}", TargetKeyId=mine)
        kms.create_alias(AliasName=f"alias/other-{index}", TargetKeyId=other)

    entries, pages = walk(kms.list_aliases, "Aliases", KeyId=mine, Limit=2)

    assert [entry["AliasName"] for entry in entries] == [
        f"alias/mine-{index}" for index in range(5)
    ]
    assert [len(page["Aliases"]) for page in pages] == [2, 2, 1]


def test_list_aliases_default_and_maximum_page_sizes(
    fresh_server_factory: Any,
) -> None:
    kms = fresh_server_factory().client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    names = sorted(f"alias/many-{index:03d}" for index in range(105))
    for alias_name in names:
        kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)

    default_page = kms.list_aliases()
    largest_page = kms.list_aliases(Limit=1000)
    by_default, _ = walk(kms.list_aliases, "Aliases")

    # API_ListAliases: the default Limit is 50 and the maximum 100.
    assert [entry["AliasName"] for entry in default_page["Aliases"]] == names[:50]
    assert default_page["Truncated"] is True
    assert [entry["AliasName"] for entry in largest_page["Aliases"]] == names[:100]
    assert largest_page["Truncated"] is True
    assert [entry["AliasName"] for entry in by_default] == names


def test_list_aliases_with_invalid_marker_is_invalid_marker(kms: Any) -> None:
    error = error_of(kms.list_aliases, Marker="not-a-marker")

    assert error["Code"] == "InvalidMarkerException"


# ListResourceTags


def test_list_resource_tags_pages_through_fifty_tags(kms: Any) -> None:
    tags = [
        {"TagKey": f"tag-{index:02d}", "TagValue": str(index)} for index in range(50)
    ]
    key_id = kms.create_key(Tags=tags)["KeyMetadata"]["KeyId"]

    entries, pages = walk(kms.list_resource_tags, "Tags", KeyId=key_id, Limit=7)
    default_page = kms.list_resource_tags(KeyId=key_id)

    assert entries == tags
    assert [len(page["Tags"]) for page in pages] == [7] * 7 + [1]
    assert default_page["Tags"] == tags
    assert default_page["Truncated"] is False


def test_list_resource_tags_marker_survives_untag(kms: Any) -> None:
    tags = [{"TagKey": f"t{index}", "TagValue": "v"} for index in range(6)]
    key_id = kms.create_key(Tags=tags)["KeyMetadata"]["KeyId"]
    first = kms.list_resource_tags(KeyId=key_id, Limit=3)

    kms.untag_resource(KeyId=key_id, TagKeys=["t2"])
    rest, _ = walk(
        kms.list_resource_tags,
        "Tags",
        KeyId=key_id,
        Limit=3,
        Marker=first["NextMarker"],
    )

    assert first["Tags"] == tags[:3]
    assert rest == tags[3:]


def test_list_resource_tags_with_invalid_marker_is_invalid_marker(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]

    error = error_of(kms.list_resource_tags, KeyId=key_id, Marker="not-a-marker")

    assert error["Code"] == "InvalidMarkerException"


# Forged markers: a client can base64-encode any position.


def forged_marker(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


@pytest.mark.parametrize(
    "position",
    [
        "9" * 20,
        str(2**63),
        "-1",
        " 5",
        "5 ",
        "+5",
        "1_0",
        "\u0661\u0662",
        "1" * 700,
        "",
    ],
    ids=[
        "past-64-bits",
        "two-to-the-63",
        "negative",
        "leading-space",
        "trailing-space",
        "plus-sign",
        "underscore",
        "arabic-indic-digits",
        "700-digits",
        "empty",
    ],
)
def test_list_keys_with_forged_position_is_invalid_marker(
    kms: Any, position: str
) -> None:
    error = error_of(kms.list_keys, Marker=forged_marker(f"keys:{position}"))

    assert error["Code"] == "InvalidMarkerException"
    assert error["Message"] == "The marker is not valid."


def test_list_keys_after_largest_position_is_empty(kms: Any) -> None:
    page = kms.list_keys(Marker=forged_marker(f"keys:{2**63 - 1}"))

    assert page["Keys"] == []
    assert page["Truncated"] is False


@pytest.mark.parametrize(
    "position",
    ["a\x00b", "alias/a\x00b", "no-prefix", "alias/", "alias/" + "a" * 251, ""],
    ids=["nul", "alias-with-nul", "no-prefix", "prefix-only", "257-chars", "empty"],
)
def test_list_aliases_with_forged_position_is_invalid_marker(
    kms: Any, position: str
) -> None:
    error = error_of(kms.list_aliases, Marker=forged_marker(f"aliases:{position}"))

    assert error["Code"] == "InvalidMarkerException"
    assert error["Message"] == "The marker is not valid."


def test_list_aliases_after_forged_alias_name_lists_later_names(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    names = [f"alias/forged-marker-{suffix}-{key_id}" for suffix in ("a", "b")]
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)

    # A position that is a possible alias name is as good as an issued one.
    page = kms.list_aliases(KeyId=key_id, Marker=forged_marker(f"aliases:{names[0]}"))

    assert [entry["AliasName"] for entry in page["Aliases"]] == names[1:]


@pytest.mark.parametrize("position", ["", "t" * 129], ids=["empty", "129-chars"])
def test_list_resource_tags_with_forged_position_is_invalid_marker(
    kms: Any, position: str
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]

    # API_Tag: a tag key has 1 to 128 characters, so no page ends on these.
    error = error_of(
        kms.list_resource_tags,
        KeyId=key_id,
        Marker=forged_marker(f"tags:{position}"),
    )

    assert error["Code"] == "InvalidMarkerException"
    assert error["Message"] == "The marker is not valid."
