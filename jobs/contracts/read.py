"""How every landing file is read, once for all jobs (docs/data-contracts.md, "Common rules").

- CSV is RFC 4180: a header line, fields quoted only when needed, quotes doubled inside a
  quoted field, line breaks allowed inside one, CRLF or LF line ends, an optional UTF-8 BOM.
- Transactional files (POS, orders, movements, opening stock, CRM, loyalty, consents) are read
  as text, so that no value can fail the read: each value is then parsed by `typed_value`, and
  a line whose value does not parse, or holds bytes that are not UTF-8, is quarantined with the
  rule `bad_type` while the other lines are applied.
- Reference snapshots (stores, products, warehouses, campaigns) are checked line by line first;
  a value that does not parse stops the run with one line that names the file, the line number
  and the column: `reference/products.csv line 7: unit_cost 'abc' is not a decimal`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.errors import RetailMaxError

# Spark's CSV options for RFC 4180. Spark's default escape is a backslash, which splits
# `"a ""b"", c"`; multiLine lets a quoted field hold a line break (and skips a BOM). Records
# end at LF: left to detect the line end from the first line, the parser would glue together
# the LF lines of a file whose header ends in CRLF; the CR of a CRLF line end is then cut
# from the line's last field (`without_cr`).
CSV_OPTIONS = {
    "header": "true",
    "quote": '"',
    "escape": '"',
    "multiLine": "true",
    "lineSep": "\n",
    "encoding": "UTF-8",
    "mode": "PERMISSIVE",
}
RAW_LINE = "raw_line"
# What the UTF-8 decoder puts where bytes are not UTF-8.
REPLACEMENT_CHARACTER = "\ufffd"

INT_PATTERN = r"^-?[0-9]{1,9}$"
MONEY_PATTERN = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TS_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?[+-][0-9]{2}:[0-9]{2}$"
)


class BadSourceFileError(RetailMaxError):
    """A landing file cannot be read as its contract says (a wrong header, a reference value
    that does not parse): the run cannot go on."""


def text(name: str) -> Column:
    """A raw field: empty means null (the contract), so both read as null."""
    return F.when(F.col(name) != "", F.col(name))


def typed_value(name: str, data_type: T.DataType) -> Column:
    """The field's value as the contract's type; null when empty or when it does not parse."""
    raw = text(name)
    if isinstance(data_type, T.IntegerType):
        return F.when(raw.rlike(INT_PATTERN), raw.cast("int"))
    if isinstance(data_type, T.DecimalType):
        return F.when(raw.rlike(MONEY_PATTERN), raw.cast(data_type))
    if isinstance(data_type, T.TimestampType):
        return F.when(raw.rlike(TS_PATTERN), F.try_to_timestamp(raw))
    if isinstance(data_type, T.DateType):
        return F.when(raw.rlike(DATE_PATTERN), F.try_to_date(raw, "yyyy-MM-dd"))
    if isinstance(data_type, T.BooleanType):
        return F.when(raw == "true", F.lit(True)).when(raw == "false", F.lit(False))
    return raw


def has_bad_type(schema: T.StructType) -> Column:
    """True when a field of the line is not empty but does not parse as its type, or holds
    bytes that are not UTF-8 (read as U+FFFD)."""
    checks = [F.col(f.name).contains(REPLACEMENT_CHARACTER) for f in schema]
    checks += [
        text(f.name).isNotNull() & typed_value(f.name, f.dataType).isNull()
        for f in schema
        if not isinstance(f.dataType, T.StringType)
    ]
    return F.coalesce(F.greatest(*checks), F.lit(False))


def rule_names(checks: Sequence[tuple[str, Column]]) -> Column:
    """The names of the rules whose check is true, in their order; empty when none is (a null
    check is not broken). array_remove of a placeholder, not array_compact or filter: those
    take a lambda, which Spark evaluates outside the stage's generated code, row by row (on
    the POS lines, 7.2 s with `filter` against 3.4 s without, docs/performance.md)."""
    return F.array_remove(
        F.array(
            *[
                F.when(F.coalesce(check, F.lit(False)), F.lit(rule)).otherwise(F.lit(""))
                for rule, check in checks
            ]
        ),
        "",
    )


def text_schema(schema: T.StructType, raw_line: bool = True) -> T.StructType:
    """The contract's columns as nullable strings, plus `raw_line` for a line that does not
    split into them."""
    fields = [T.StructField(f.name, T.StringType(), True) for f in schema]
    if raw_line:
        fields.append(T.StructField(RAW_LINE, T.StringType(), True))
    return T.StructType(fields)


def without_cr(name: str) -> Column:
    """The field without the CR of a CRLF line end (records end at LF, see CSV_OPTIONS).

    The regex runs only on the values that hold a CR (the same result: it changes no other):
    run on every field of every line, it was half of a POS file's parse (docs/performance.md)."""
    value = F.col(name)
    return F.when(value.contains("\r"), F.regexp_replace(value, "\r$", "")).otherwise(value)


def read_csv_text(
    spark: SparkSession,
    paths: str | Sequence[str],
    schema: T.StructType,
    *,
    check_header: bool = False,
) -> DataFrame:
    """Every line of the CSV files as text in the contract's columns, plus `raw_line` (the
    line's text when it does not split into them) and `source_file`.

    `check_header` first checks that every file's header names the contract's columns, in
    order (a file that does not is refused in one line, `check_headers`).
    """
    folders = [paths] if isinstance(paths, str) else list(paths)
    if check_header:
        for folder in folders:
            check_headers(folder, schema)
    frame = (
        spark.read.schema(text_schema(schema))
        .options(**CSV_OPTIONS)
        .option("columnNameOfCorruptRecord", RAW_LINE)
        .csv(folders)
    )
    return frame.select(
        *[without_cr(f.name).alias(f.name) for f in schema],
        F.col(RAW_LINE),
        F.col("_metadata.file_path").alias("source_file"),
    )


HEADER_BYTES = 64 * 1024


def check_headers(folder: str, schema: T.StructType) -> None:
    """Every CSV file of the folder starts with the contract's header (a BOM and CRLF
    allowed); else BadSourceFileError, one line naming the file."""
    import pyarrow.fs as pa_fs

    from jobs.orchestration.plan import filesystem

    fs, root = filesystem(folder)
    names = [f.name for f in schema]
    for info in fs.get_file_info(pa_fs.FileSelector(root, allow_not_found=True)):
        if info.type != pa_fs.FileType.File or info.base_name.startswith(("_", ".")):
            continue
        with fs.open_input_stream(info.path) as stream:
            head = bytes(stream.read(HEADER_BYTES)).decode("utf-8-sig", errors="replace")
        header = next(csv.reader(io.StringIO(head.split("\n", 1)[0].rstrip("\r"))), [])
        if header != names:
            label = "/".join([*folder.rstrip("/").split("/")[-3:], info.base_name])
            raise BadSourceFileError(
                f"{label} line 1: the header is {','.join(header)!r}, "
                f"the contract's is {','.join(names)!r}"
            )


def read_json_text(spark: SparkSession, path: str, schema: T.StructType) -> DataFrame:
    """JSON-lines records in the contract's schema; a record that does not parse as it keeps
    its text in `raw_line` (its other fields may be null) instead of failing the file."""
    full_schema = T.StructType([*schema.fields, T.StructField(RAW_LINE, T.StringType(), True)])
    return (
        spark.read.schema(full_schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", RAW_LINE)
        .option("encoding", "UTF-8")
        .json(path)
        .withColumn("source_file", F.col("_metadata.file_path"))
    )


# -- reference snapshots: checked in Python (they are small) for a one-line error ------------

_TYPE_NAMES: dict[type, str] = {
    T.IntegerType: "an integer",
    T.DecimalType: "a decimal",
    T.DateType: "a date (YYYY-MM-DD)",
    T.BooleanType: "true or false",
    T.TimestampType: "a timestamp with offset",
}


def _parses(value: str, data_type: T.DataType) -> bool:
    patterns: dict[type, str] = {
        T.IntegerType: INT_PATTERN,
        T.DecimalType: MONEY_PATTERN,
        T.DateType: DATE_PATTERN,
        T.TimestampType: TS_PATTERN,
        T.BooleanType: r"^(true|false)$",
    }
    pattern = patterns.get(type(data_type))
    return pattern is None or re.match(pattern, value) is not None


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BadSourceFileError(f"{label} line {line}: bytes that are not UTF-8") from None


def check_reference_csv(data: bytes, schema: T.StructType, label: str) -> int:
    """Checks a reference CSV against its contract; returns its record count.

    Raises BadSourceFileError, one line: `<label> line <n>: <column> '<value>' is not …`.
    """
    reader = csv.reader(io.StringIO(_decode(data, label), newline=""), strict=True)
    names = [f.name for f in schema]
    records = 0
    try:
        header = next(reader, None)
        if header != names:
            raise BadSourceFileError(
                f"{label} line 1: the header is {','.join(header or [])!r}, "
                f"the contract's is {','.join(names)!r}"
            )
        start = reader.line_num + 1
        for row in reader:
            if row:
                _check_row(row, schema, label, start)
                records += 1
            start = reader.line_num + 1
    except csv.Error as error:
        raise BadSourceFileError(f"{label} line {reader.line_num}: {error}") from None
    return records


def _check_row(row: list[str], schema: T.StructType, label: str, line: int) -> None:
    if len(row) != len(schema):
        raise BadSourceFileError(
            f"{label} line {line}: {len(row)} fields, the contract has {len(schema)}"
        )
    for value, field in zip(row, schema, strict=True):
        if value == "":
            if not field.nullable:
                raise BadSourceFileError(f"{label} line {line}: {field.name} is empty")
            continue
        if not _parses(value, field.dataType):
            kind = _TYPE_NAMES.get(type(field.dataType), field.dataType.simpleString())
            raise BadSourceFileError(f"{label} line {line}: {field.name} {value!r} is not {kind}")


def _json_value_problem(value: Any, data_type: T.DataType) -> str | None:
    """Why a JSON value is not of the contract's type, or None."""
    if value is None:
        return None
    checks: dict[type, Callable[[Any], bool]] = {
        T.StringType: lambda v: isinstance(v, str),
        T.IntegerType: lambda v: isinstance(v, int) and not isinstance(v, bool),
        T.BooleanType: lambda v: isinstance(v, bool),
        T.DecimalType: lambda v: (
            (isinstance(v, int | float | Decimal) and not isinstance(v, bool))
            or (isinstance(v, str) and re.match(MONEY_PATTERN, v) is not None)
        ),
        T.DateType: lambda v: isinstance(v, str) and re.match(DATE_PATTERN, v) is not None,
    }
    if isinstance(data_type, T.ArrayType):
        if not isinstance(value, list):
            return "is not a list"
        for item in value:
            if _json_value_problem(item, data_type.elementType):
                return f"holds {item!r}, not {data_type.elementType.simpleString()}"
        return None
    check = checks.get(type(data_type))
    if check is not None and not check(value):
        return f"is not {_TYPE_NAMES.get(type(data_type), data_type.simpleString())}"
    return None


def check_reference_jsonl(data: bytes, schema: T.StructType, label: str) -> int:
    """Checks a JSON-lines reference file against its contract; returns its record count."""
    records = 0
    for number, line in enumerate(_decode(data, label).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise BadSourceFileError(f"{label} line {number}: not JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise BadSourceFileError(f"{label} line {number}: not a JSON object")
        for field in schema:
            problem = _json_value_problem(record.get(field.name), field.dataType)
            if problem:
                raise BadSourceFileError(
                    f"{label} line {number}: {field.name} {record.get(field.name)!r} {problem}"
                )
        records += 1
    return records


def _landing_file(landing_root: str, relative: str) -> bytes:
    from jobs.errors import MissingInputError
    from jobs.files import read_bytes

    try:
        return read_bytes(f"{landing_root.rstrip('/')}/{relative}")
    except FileNotFoundError:
        raise MissingInputError(f"{relative} is missing from the landing zone") from None


def read_reference_csv(
    spark: SparkSession, landing_root: str, relative: str, schema: T.StructType
) -> DataFrame:
    """A reference CSV snapshot, typed, after `check_reference_csv` has passed on it."""
    check_reference_csv(_landing_file(landing_root, relative), schema, relative)
    text_df = read_csv_text(spark, f"{landing_root.rstrip('/')}/{relative}", schema)
    return text_df.select(
        *[typed_value(f.name, f.dataType).cast(f.dataType).alias(f.name) for f in schema]
    )


def read_reference_jsonl(
    spark: SparkSession, landing_root: str, relative: str, schema: T.StructType
) -> DataFrame:
    """A reference JSON-lines snapshot, typed, after `check_reference_jsonl` has passed."""
    check_reference_jsonl(_landing_file(landing_root, relative), schema, relative)
    return (
        spark.read.schema(schema)
        .option("mode", "FAILFAST")
        .option("encoding", "UTF-8")
        .json(f"{landing_root.rstrip('/')}/{relative}")
    )
