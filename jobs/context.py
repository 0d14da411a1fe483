"""What every job's `run` receives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from jobs.selection import Shard, describe, stores_of_shard
from jobs.settings import Settings


@dataclass(frozen=True)
class RunContext:
    """Settings, the business date, the stores to process, and when the run started."""

    settings: Settings
    run_date: date
    stores: tuple[int, ...] | None = None  # an explicit store list
    shard: Shard | None = None  # or shard I/N of all stores
    started_at: datetime | None = None  # lineage only (bronze.ingested_at), never logic
    # Intraday batches (inventory): movements with since <= movement_ts < until, UTC.
    since: datetime | None = None
    until: datetime | None = None
    request: str | None = None  # customers-erase: the erasure request file

    @property
    def is_whole_date(self) -> bool:
        """True when no store list or shard narrows the run: every store, then the gold step."""
        return self.stores is None and self.shard is None

    def scope(self, all_stores: list[int]) -> list[int]:
        """The stores of this run among all_stores (stores.csv plus folders found)."""
        if self.stores is not None:
            return sorted(self.stores)
        if self.shard is not None:
            return list(stores_of_shard(all_stores, self.shard))
        return sorted(all_stores)

    def describe_scope(self) -> str:
        """For logs: `stores 1-50`, `shard 2/8` or `all stores`."""
        if self.stores is not None:
            return f"stores {describe(self.stores)}"
        if self.shard is not None:
            return f"shard {self.shard.index}/{self.shard.count}"
        return "all stores"
