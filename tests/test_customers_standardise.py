"""Standardisation of customer values (issue #5, first part): each raw spelling against the
value a person would write by hand; an unreadable value is null plus its flag, the row kept."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pyspark.sql import functions as F

from jobs.customers import standardise as S

EXPORT_DATE = date(2024, 3, 5)

NAMES = [
    ("Jean", "Jean"),
    ("  jean-PIERRE ", "Jean-Pierre"),
    ("MARIE   claire", "Marie Claire"),
    ("léa", "Léa"),
    ("ANAÏS", "Anaïs"),
    ("   ", None),
    (None, None),
]
# Place names keep the capitalisation they were typed with; all-capitals or all-lower ones are
# capitalised by word with the French particles kept lower case (by hand, from the official
# spellings of these communes).
CITIES = [
    ("Bourg-en-Bresse", "Bourg-en-Bresse"),
    ("BOURG-EN-BRESSE", "Bourg-en-Bresse"),
    ("bourg-en-bresse", "Bourg-en-Bresse"),
    ("  paris ", "Paris"),
    ("VILLENEUVE-D'ASCQ", "Villeneuve-d'Ascq"),
    ("le puy-en-velay", "Le Puy-en-Velay"),
    ("Le Puy-en-Velay", "Le Puy-en-Velay"),
    ("SAINT-ÉTIENNE", "Saint-Étienne"),
    ("L'HAŸ-LES-ROSES", "L'Haÿ-les-Roses"),
    ("BOULOGNE-SUR-MER", "Boulogne-sur-Mer"),
    ("la rochelle", "La Rochelle"),
    ("AIX-EN-PROVENCE", "Aix-en-Provence"),
    ("   ", None),
]
EMAILS = [
    ("jean.martin@gmail.com", "jean.martin@gmail.com"),
    ("  Jean.Martin@Orange.FR ", "jean.martin@orange.fr"),
    ("lea+promo@free.fr", "lea+promo@free.fr"),
    ("Raphaël.Fournier@Orange.fr", "raphaël.fournier@orange.fr"),  # RFC 6531
    ("raphaël@orangé", None),
    ("jean.martin at gmail.com", None),
    ("jean@localhost", None),
    ("jean@@gmail.com", None),
    ("", None),
]
PHONES = [
    ("0612345678", "+33612345678"),
    ("06 12 34 56 78", "+33612345678"),
    ("06.12.34.56.78", "+33612345678"),
    ("+33612345678", "+33612345678"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("0033612345678", "+33612345678"),
    ("+33 (0)6 12 34 56 78", "+33612345678"),
    ("01-42-68-53-00", "+33142685300"),
    ("+32 412345678", "+32412345678"),  # Belgian, kept
    ("0044 20 7946 0958", "+442079460958"),  # British, kept
    ("612345678", None),  # 9 digits: the leading 0 or the country is missing
    ("+33 6 12 34", None),
    ("phone me", None),
    (None, None),
]
POSTCODES = [("75011", "75011"), (" 69 003 ", "69003"), ("1000", "01000"), ("7501", "07501")]
BAD_POSTCODES = [("750110", None), ("ABCDE", None), ("", None)]
BIRTH_DATES = [
    ("1985-02-14", date(1985, 2, 14)),
    ("14/02/1985", date(1985, 2, 14)),
    ("31/02/1985", None),  # no 31 February
    ("1985-13-01", None),
    ("14-02-1985", None),
    ("1899-12-31", None),  # before 1900
    ("2024-03-06", None),  # after the export
    ("2024-03-05", date(2024, 3, 5)),
]


def _standardise(spark: Any, rows: list[tuple[Any, Any]], function: Any) -> list[Any]:
    frame = spark.createDataFrame(
        [(i, raw) for i, (raw, _) in enumerate(rows)], "i int, raw string"
    ).orderBy("i")
    return [row.value for row in frame.select(function(F.col("raw")).alias("value")).collect()]


@pytest.mark.parametrize(
    ("rows", "function"),
    [
        (NAMES, S.name),
        (CITIES, S.city),
        (EMAILS, S.email),
        (PHONES, S.phone),
        (POSTCODES + BAD_POSTCODES, S.postcode),
        (BIRTH_DATES, lambda c: S.birth_date(c, EXPORT_DATE)),
    ],
    ids=["names", "cities", "emails", "phones", "postcodes", "birth dates"],
)
def test_each_spelling_gives_the_standard_value(
    spark: Any, rows: list[tuple[Any, Any]], function: Any
) -> None:
    assert _standardise(spark, rows, function) == [expected for _, expected in rows]


def test_a_bad_value_is_null_plus_a_flag_and_the_row_is_kept(spark: Any) -> None:
    raw = spark.createDataFrame(
        [
            ("C1", "jean@gmail.com", "06 12 34 56 78", "75011"),
            ("C2", "jean at gmail.com", "06 12 34 56 78", "75011"),
            ("C3", "lea@free.fr", "12", "ABCDE"),
            ("C4", None, None, None),  # nothing given: nothing flagged
        ],
        "crm_id string, email string, phone string, postcode string",
    )
    email, phone, postcode = (
        S.email(F.col("email")),
        S.phone(F.col("phone")),
        S.postcode(F.col("postcode")),
    )
    rows = (
        raw.select(
            "crm_id",
            email.alias("email"),
            S.quality_flags(
                S.flag(F.col("email"), email, S.FLAG_EMAIL),
                S.flag(F.col("phone"), phone, S.FLAG_PHONE),
                S.flag(F.col("postcode"), postcode, S.FLAG_POSTCODE),
            ).alias("flags"),
        )
        .orderBy("crm_id")
        .collect()
    )
    assert [(r.crm_id, r.email, r.flags) for r in rows] == [
        ("C1", "jean@gmail.com", []),
        ("C2", None, ["email_invalid"]),
        ("C3", "lea@free.fr", ["phone_invalid", "postcode_invalid"]),
        ("C4", None, []),
    ]


def test_standardisation_is_spark_built_ins_only(spark: Any) -> None:
    """No Python UDF: the plan holds no BatchEvalPython / ArrowEvalPython step."""
    frame = spark.createDataFrame([("06 12 34 56 78",)], "raw string")
    plan = (
        frame.select(
            S.name(F.col("raw")),
            S.email(F.col("raw")),
            S.phone(F.col("raw")),
            S.postcode(F.col("raw")),
            S.birth_date(F.col("raw"), EXPORT_DATE),
        )
        ._jdf.queryExecution()
        .executedPlan()
        .toString()
    )
    assert "EvalPython" not in plan
