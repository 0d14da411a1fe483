"""Standardised customer values, with Spark built-ins only (no Python UDF).

Each function takes a column of text as people typed it and returns the standard value, or
null when the value cannot be read; `flag` names what was lost. The row is always kept: an
invalid value becomes null plus a quality flag (`quality_flags`), never a dropped row.

- Names: trimmed, inner spaces collapsed, each word (also after a hyphen) capitalised:
  `  jean-PIERRE ` -> `Jean-Pierre`.
- Emails: trimmed, lower-cased, one `@`, a dotted domain with a 2+ letter top level; the
  local part may hold accented letters (RFC 6531).
- Phones: E.164. French numbers (the default region) in any usual spelling —
  `06 12 34 56 78`, `06.12.34.56.78`, `+33 6 12 34 56 78`, `+33 (0)6…`, `0033 6…` — become
  `+33612345678`; a foreign number written with its `+` or `00` prefix is kept, as E.164.
- Postcodes: French, five digits; a four-digit one lost its leading zero in a spreadsheet
  (`1000` -> `01000`).
- Dates: `YYYY-MM-DD` or `DD/MM/YYYY`; an impossible date (`31/02/1985`) or a birth date
  outside 1900-01-01 .. the export date is invalid.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column
from pyspark.sql import functions as F

FLAG_EMAIL = "email_invalid"
FLAG_PHONE = "phone_invalid"
FLAG_POSTCODE = "postcode_invalid"
FLAG_BIRTH_DATE = "birth_date_invalid"
# Internationalised local parts (RFC 6531) are allowed: `raphaël.fournier@orange.fr` is valid.
EMAIL_PATTERN = r"^[\p{Ll}0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"
E164_PATTERN = r"^\+[1-9][0-9]{7,14}$"
FRENCH_E164_PATTERN = r"^\+33[1-9][0-9]{8}$"
EARLIEST_BIRTH = date(1900, 1, 1)


def _blank_to_null(text: Column) -> Column:
    trimmed = F.trim(text)
    return F.when(trimmed == "", F.lit(None)).otherwise(trimmed)


def name(text: Column) -> Column:
    """`  jean-PIERRE ` -> `Jean-Pierre`; blank -> null (a missing name is not invalid)."""
    collapsed = F.regexp_replace(_blank_to_null(text), r"\s+", " ")
    # initcap capitalises after spaces only: a hyphen is given a space for the time of it.
    spaced = F.regexp_replace(F.lower(collapsed), "-", "- ")
    return F.regexp_replace(F.initcap(spaced), "- ", "-")


# Words that stay lower case inside a French place name (`Bourg-en-Bresse`, `Villeneuve-d'Ascq`).
PLACE_PARTICLES = (
    "En", "Sur", "Sous", "Le", "La", "Les", "De", "Du", "Des", "D'", "L'", "Lès", "Lez", "Aux",
    "Au", "Et", "À",
)  # fmt: skip


def city(text: Column) -> Column:
    """A place keeps its own capitalisation when it was typed with some (`Bourg-en-Bresse`,
    `Le Puy-en-Velay`); one typed all in capitals or all in lower case is capitalised word by
    word, the French particles inside the name kept lower case (`BOURG-EN-BRESSE` ->
    `Bourg-en-Bresse`, `villeneuve-d'ascq` -> `Villeneuve-d'Ascq`). Blank -> null."""
    collapsed = F.regexp_replace(_blank_to_null(text), r"\s+", " ")
    mixed = (collapsed != F.upper(collapsed)) & (collapsed != F.lower(collapsed))
    # initcap capitalises after spaces only: hyphens and apostrophes get one for the time of it.
    spaced = F.initcap(F.regexp_replace(F.lower(collapsed), "([-'’])", "$1 "))
    for particle in PLACE_PARTICLES:
        spaced = F.regexp_replace(
            spaced, f"(?<=[^ ]- |[^ ] ){particle}(?=[- ]|$)", particle.lower()
        )
    capitalised = F.regexp_replace(spaced, "([-'’]) ", "$1")
    return F.when(mixed, collapsed).otherwise(capitalised)


def email(text: Column) -> Column:
    """Trimmed and lower-cased; null when it is not an address."""
    value = F.lower(_blank_to_null(text))
    return F.when(value.rlike(EMAIL_PATTERN), value)


def phone(text: Column) -> Column:
    """E.164, France by default; null when it is not a phone number."""
    digits = F.regexp_replace(_blank_to_null(text), r"[\s.()/-]", "")
    international = (
        F.when(digits.startswith("+"), digits)
        .when(digits.startswith("00"), F.concat(F.lit("+"), F.substring(digits, 3, 100)))
        .when(digits.rlike(r"^0[1-9][0-9]{8}$"), F.concat(F.lit("+33"), F.substring(digits, 2, 9)))
    )
    # `+33 (0)6 …` and `0033 06 …`: the national 0 written after the country code.
    e164 = F.regexp_replace(international, r"^\+330", "+33")
    valid = F.when(e164.startswith("+33"), e164.rlike(FRENCH_E164_PATTERN)).otherwise(
        e164.rlike(E164_PATTERN)
    )
    return F.when(valid, e164)


def postcode(text: Column) -> Column:
    """Five digits; four digits get their leading zero back; null otherwise."""
    value = F.regexp_replace(_blank_to_null(text), r"\s", "")
    padded = F.when(value.rlike(r"^[0-9]{4}$"), F.lpad(value, 5, "0")).otherwise(value)
    return F.when(padded.rlike(r"^[0-9]{5}$"), padded)


def birth_date(text: Column, export_date: date) -> Column:
    """`YYYY-MM-DD` or `DD/MM/YYYY` as a date; null when impossible or implausible."""
    value = _blank_to_null(text)
    iso = F.when(value.rlike(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), value)
    french = F.when(value.rlike(r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"), value)
    parsed = F.coalesce(F.try_to_date(iso, "yyyy-MM-dd"), F.try_to_date(french, "dd/MM/yyyy"))
    plausible = parsed.between(F.lit(EARLIEST_BIRTH), F.lit(export_date))
    return F.when(plausible, parsed)


def flag(raw: Column, standard: Column, name_: str) -> Column:
    """`name_` when a value was given but could not be standardised, else null."""
    return F.when(_blank_to_null(raw).isNotNull() & standard.isNull(), F.lit(name_))


def quality_flags(*flags: Column) -> Column:
    """The flags raised on a row, as an array (empty when every value was read)."""
    return F.array_compact(F.array(*flags))
