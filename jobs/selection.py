"""Which stores a run processes: an explicit list (`1-50,72`) or a shard (`3/10`) of stores.csv."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.errors import BadArgumentError


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`, 1-based: `--shard 2/8`."""

    index: int
    count: int


def parse_store_list(text: str) -> tuple[int, ...]:
    """`1-50,72,80-81` -> (1, ..., 50, 72, 80, 81); sorted, without repeats."""
    stores: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        try:
            if "-" in part:
                low_text, high_text = part.split("-", 1)
                low, high = int(low_text), int(high_text)
                if low > high:
                    raise ValueError
                stores.update(range(low, high + 1))
            else:
                stores.add(int(part))
        except ValueError:
            raise BadArgumentError(
                f"--stores: '{part}' is not a store id or a range like 1-50"
            ) from None
    if not stores or min(stores) < 1:
        raise BadArgumentError(f"--stores: '{text}' names no positive store id")
    return tuple(sorted(stores))


def parse_shard(text: str) -> Shard:
    """`I/N` with 1 <= I <= N."""
    try:
        index_text, count_text = text.split("/")
        shard = Shard(int(index_text), int(count_text))
    except ValueError:
        raise BadArgumentError(f"--shard: '{text}' is not of the form I/N, e.g. 2/8") from None
    if not 1 <= shard.index <= shard.count:
        raise BadArgumentError(f"--shard: '{text}' needs 1 <= I <= N")
    return shard


def stores_of_shard(all_stores: list[int], shard: Shard) -> tuple[int, ...]:
    """Contiguous ranges of the sorted store ids, as even as possible, so that names read `1-50`."""
    ordered = sorted(all_stores)
    size, extra = divmod(len(ordered), shard.count)
    start = (shard.index - 1) * size + min(shard.index - 1, extra)
    end = start + size + (1 if shard.index <= extra else 0)
    return tuple(ordered[start:end])


def shard_ranges(all_stores: list[int], stores_per_shard: int) -> list[tuple[int, ...]]:
    """The shards conf asks for: consecutive groups of at most stores_per_shard stores."""
    ordered = sorted(all_stores)
    return [
        tuple(ordered[i : i + stores_per_shard]) for i in range(0, len(ordered), stores_per_shard)
    ]


def describe(stores: tuple[int, ...]) -> str:
    """A compact label, `1-50,72`, for logs, task map indexes and alerts."""
    if not stores:
        return "none"
    parts: list[str] = []
    first = previous = stores[0]
    for store in (*stores[1:], None):
        if store is not None and store == previous + 1:
            previous = store
            continue
        parts.append(str(first) if first == previous else f"{first}-{previous}")
        if store is not None:
            first = previous = store
    return ",".join(parts)
