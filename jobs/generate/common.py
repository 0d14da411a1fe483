"""Shared helpers of the generator: seeded random streams, vectorised formatting, file output."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STORE_TIME_ZONE = ZoneInfo("Europe/Paris")


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent, reproducible random stream for (seed, component, day, ...)."""
    return np.random.default_rng([seed, *stream])


@dataclass(frozen=True)
class GeneratedDay:
    """One business day of a generation: the run's seed, the day's index from the start, and
    its date."""

    seed: int
    index: int
    date: date

    def rng(self, component: int, *more: int) -> np.random.Generator:
        """The day's random stream of one component (rng_for(seed, component, index, ...))."""
        return rng_for(self.seed, component, self.index, *more)


def utc_offset(day: date) -> str:
    """The +HH:MM offset of the stores' local time at noon on that day (CET or CEST)."""
    offset = datetime.combine(day, time(12), STORE_TIME_ZONE).utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local_ts_strings(day: date, seconds_of_day: np.ndarray) -> pa.Array:
    """ISO-8601 local timestamps with offset, e.g. 2024-03-05T14:23:11+01:00, vectorised."""
    midnight = np.datetime64(day.isoformat(), "s")
    stamps = pa.array(midnight + seconds_of_day.astype("timedelta64[s]"), pa.timestamp("s"))
    text = pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S")
    return pc.binary_join_element_wise(text, utc_offset(day), "")


def cents_to_text(cents: np.ndarray) -> pa.Array:
    """Exact decimal text with two places ("12.34", "-0.50") from integer cents, vectorised."""
    magnitude = np.abs(cents)
    whole = pc.cast(pa.array(magnitude // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(magnitude % 100), pa.string()), width=2, padding="0")
    text = pc.binary_join_element_wise(whole, frac, ".")
    sign = pa.array(np.where(cents < 0, "-", ""))
    return pc.binary_join_element_wise(sign, text, "")


def zero_padded(values: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    """prefix + the integers left-padded with zeros, vectorised (e.g. SKU000123)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "") if prefix else digits


def zipf_weights(count: int, exponent: float) -> np.ndarray:
    """Normalised Zipf-like popularity weights for ranks 1..count."""
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def sample_weighted(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    """Vectorised draws of indices from a cumulative distribution."""
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


def csv_field(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """RFC 4180 field text: quoted (quotes doubled) only where a value needs it; null is empty."""
    text = pc.cast(values, pa.string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    needs = pc.match_substring_regex(text, '[",\r\n]')
    if pc.any(needs).as_py():
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        text = pc.if_else(needs, quoted, text)
    return pc.fill_null(text, "")


def csv_lines(table: pa.Table) -> pa.Array:
    """One CSV line (without its newline) per row of the table, vectorised."""
    fields = [csv_field(table.column(name)) for name in table.column_names]
    return pc.binary_join_element_wise(*fields, ",")


def join_lines(lines: pa.Array, offsets: np.ndarray) -> pa.Array:
    """Joins consecutive runs of lines (runs given by offsets) into one text per run."""
    runs = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), lines)
    return pc.binary_join(runs, "\n")


def csv_bytes(table: pa.Table, header: tuple[str, ...] | None = None) -> bytes:
    """A whole CSV file: a plain header line, then one line per row, each ending in a newline."""
    names = header or tuple(table.column_names)
    head = ",".join(names) + "\n"
    if table.num_rows == 0:
        return head.encode()
    body = join_lines(csv_lines(table), np.array([0, table.num_rows]))[0].as_py()
    return (head + body + "\n").encode()


def write_bytes(path: Path, payload: bytes) -> None:
    """Writes a file (gzip with a fixed mtime for .gz, so that the bytes are reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1) as gz,
        ):
            gz.write(payload)
    else:
        path.write_bytes(payload)


def json_string(values: pa.Array) -> pa.Array:
    """JSON text of a string column ("..." or null); values are ids and codes without quotes."""
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    return pc.fill_null(quoted, "null")


def json_raw(values: pa.Array) -> pa.Array:
    """JSON text of an already formatted number column, null as null."""
    return pc.fill_null(pc.cast(values, pa.string()), "null")
