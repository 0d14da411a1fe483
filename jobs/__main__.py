"""`python -m jobs` is the `retailmax` CLI."""

from __future__ import annotations

import sys

from jobs.cli import main

sys.exit(main())
