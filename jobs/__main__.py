"""`python -m jobs` is the `retailmax` CLI (and the file spark-submit and the SparkApplications
run)."""

from __future__ import annotations

from jobs.cli import entry

entry()
