"""The encryption context encoding: one byte string per context, and only one.

Each pair below is two different contexts that a naive encoding (joining
``key=value`` with separators, concatenating, JSON without escaping rules,
normalising Unicode or case) would turn into the same bytes. Any two that
encode alike would let a blob made under one context decrypt under the other.
"""

from __future__ import annotations

import itertools
import struct

import pytest

from domain.encryption_context import encode_encryption_context


def length_prefixed(text: str) -> str:
    """``text`` behind the 4-byte length prefix the encoding itself uses."""
    return struct.pack(">I", len(text.encode())).decode("latin-1") + text


CONFUSABLE_PAIRS = {
    "separator inside value": ({"a": "b=c"}, {"a=b": "c"}),
    "concatenation boundary": ({"ab": "c"}, {"a": "bc"}),
    "pair separator inside value": ({"a": "b,c=d"}, {"a": "b", "c": "d"}),
    "query string separator": ({"a": "b&c=d"}, {"a": "b", "c": "d"}),
    "newline separator": ({"a": "b\nc: d"}, {"a": "b", "c": "d"}),
    "nul separator": ({"a": "b\x00c\x00d"}, {"a": "b", "c": "d"}),
    "json fragment": ({"a": 'b","c":"d'}, {"a": "b", "c": "d"}),
    "empty value against no pair": ({"a": ""}, {}),
    "empty key against empty value": ({"": "a"}, {"a": ""}),
    "empty pair against no pair": ({"": ""}, {}),
    "values swapped between keys": ({"a": "1", "b": "2"}, {"a": "2", "b": "1"}),
    "key and value swapped": ({"a": "b"}, {"b": "a"}),
    "key case": ({"Purpose": "x"}, {"purpose": "x"}),
    "value case": ({"purpose": "Backup"}, {"purpose": "backup"}),
    "composed against decomposed": ({"caf\u00e9": "x"}, {"cafe\u0301": "x"}),
    "utf-8 against latin-1 reading": ({"k": "\u00e9"}, {"k": "\u00c3\u00a9"}),
    "length prefix smuggled in value": (
        {"a": "b" + length_prefixed("c") + length_prefixed("d")},
        {"a": "b", "c": "d"},
    ),
    "trailing space": ({"a": "b "}, {"a": "b"}),
    "one pair split over two": ({"ab": "cd"}, {"a": "", "b": "cd"}),
}


@pytest.mark.parametrize("case", list(CONFUSABLE_PAIRS))
def test_confusable_contexts_encode_differently(case: str) -> None:
    first, second = CONFUSABLE_PAIRS[case]
    assert first != second

    assert encode_encryption_context(first) != encode_encryption_context(second)


def test_all_table_contexts_are_pairwise_distinct() -> None:
    contexts = [context for pair in CONFUSABLE_PAIRS.values() for context in pair]
    distinct = []
    for context in contexts:
        if context not in distinct:
            distinct.append(context)

    encodings = {encode_encryption_context(context): context for context in distinct}

    assert len(encodings) == len(distinct)


def test_insertion_order_does_not_change_the_encoding() -> None:
    pairs = [("Department", "Finance"), ("Project", "Alpha"), ("Stage", "prod")]

    encodings = {
        encode_encryption_context(dict(order))
        for order in itertools.permutations(pairs)
    }

    assert len(encodings) == 1


def test_empty_context_and_none_encode_alike() -> None:
    # Decrypt (AWS KMS API reference): the encryption context is optional, so
    # a blob made with none decrypts with none or an empty one.
    assert encode_encryption_context(None) == encode_encryption_context({})


def test_encoding_layout_is_length_prefixed() -> None:
    encoded = encode_encryption_context({"b": "\u00e9", "a": "xy"})

    assert encoded == (
        b"\x00\x00\x00\x02"
        + b"\x00\x00\x00\x01a"
        + b"\x00\x00\x00\x02xy"
        + b"\x00\x00\x00\x01b"
        + b"\x00\x00\x00\x02\xc3\xa9"
    )


def test_keys_sort_by_utf8_bytes_not_utf16_units() -> None:
    # By UTF-8 bytes U+FF21 (EF BC A1) comes before U+10000 (F0 90 80 80);
    # by UTF-16 code units, as Java and JavaScript sort, U+10000 (D800 DC00)
    # comes first. A client that re-encodes a context must know which rule.
    encoded = encode_encryption_context({"\U00010000": "1", "\uff21": "2"})

    first_key = encoded[8 : 8 + 3]
    assert first_key == "\uff21".encode()
