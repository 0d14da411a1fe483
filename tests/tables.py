"""Lake tables read back without Spark (deltalake), for comparisons in tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from deltalake import DeltaTable


def table(
    lake: Path | str, name: str, storage_options: dict[str, str] | None = None
) -> pd.DataFrame:
    """`silver.sales_lines` -> the table at <lake>/silver/sales_lines (a folder, or s3://
    with `storage_options`), as pandas."""
    layer, table_name = name.split(".")
    return DeltaTable(f"{lake}/{layer}/{table_name}", storage_options=storage_options).to_pandas()


def snapshot(lake: Path, name: str) -> pd.DataFrame:
    """The table's content in a comparable order, without the lineage-only ingested_at."""
    df = table(lake, name).drop(columns=["ingested_at"], errors="ignore")
    df = df.astype({c: str for c in df.columns})
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def delta_tables(lake: Path) -> set[str]:
    """The Delta tables under a lake root, as `layer.name` (a folder with a _delta_log)."""
    return {f"{log.parent.parent.name}.{log.parent.name}" for log in lake.glob("*/*/_delta_log")}
