"""Store lists, shards and their labels."""

from __future__ import annotations

import pytest

from jobs.errors import BadArgumentError
from jobs.selection import (
    Shard,
    describe,
    parse_shard,
    parse_store_list,
    shard_ranges,
    stores_of_shard,
)


def test_store_list_expands_ranges_sorted_without_repeats() -> None:
    assert parse_store_list("5,1-3,3,10-11") == (1, 2, 3, 5, 10, 11)


@pytest.mark.parametrize("text", ["", "a", "3-1", "1-", "0", "-2"])
def test_bad_store_list_is_one_line(text: str) -> None:
    with pytest.raises(BadArgumentError) as caught:
        parse_store_list(text)
    assert str(caught.value).startswith("--stores:")
    assert "\n" not in str(caught.value)


def test_shard_parses_and_checks_bounds() -> None:
    assert parse_shard("2/8") == Shard(2, 8)
    for text in ("0/8", "9/8", "2", "a/b"):
        with pytest.raises(BadArgumentError, match="--shard"):
            parse_shard(text)


def test_shards_are_contiguous_and_cover_every_store_once() -> None:
    stores = list(range(1, 11))  # 10 stores in 3 shards: 4 + 3 + 3
    shards = [stores_of_shard(stores, Shard(i, 3)) for i in (1, 2, 3)]
    assert shards == [(1, 2, 3, 4), (5, 6, 7), (8, 9, 10)]


def test_more_shards_than_stores_leaves_empty_shards() -> None:
    assert [stores_of_shard([1, 2], Shard(i, 3)) for i in (1, 2, 3)] == [(1,), (2,), ()]


def test_shard_ranges_follow_stores_per_shard() -> None:
    assert shard_ranges([3, 1, 2, 7, 9], 2) == [(1, 2), (3, 7), (9,)]


def test_describe_compacts_runs() -> None:
    assert describe((1, 2, 3, 5, 7, 8)) == "1-3,5,7-8"
    assert describe((4,)) == "4"
    assert describe(()) == "none"
