"""The data-quality gate: conf thresholds; one line naming the rule, the stores and the figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jobs.errors import DataQualityGateError
from jobs.selection import describe


@dataclass(frozen=True)
class StoreDayFigures:
    """The reconciliation of one store-day."""

    store_id: int
    input_lines: int
    quarantined: int

    @property
    def reject_rate(self) -> float:
        """Quarantined lines over input lines (0 for an empty store-day)."""
        return self.quarantined / self.input_lines if self.input_lines else 0.0


def check_gate(
    run_date: date,
    figures: list[StoreDayFigures],
    missing_stores: list[int],
    max_reject_rate: float,
    max_missing_store_files: int,
) -> None:
    """Raises DataQualityGateError (one line) when a threshold is breached."""
    problems = []
    rejecting = sorted(
        (f for f in figures if f.reject_rate > max_reject_rate), key=lambda f: f.store_id
    )
    if rejecting:
        shown = ", ".join(
            f"store {f.store_id} {f.reject_rate:.1%} ({f.quarantined}/{f.input_lines})"
            for f in rejecting[:10]
        )
        more = f" and {len(rejecting) - 10} more" if len(rejecting) > 10 else ""
        problems.append(
            f"reject_rate above {max_reject_rate:.1%} for {len(rejecting)} "
            f"store{'s' if len(rejecting) > 1 else ''}: {shown}{more}"
        )
    if len(missing_stores) > max_missing_store_files:
        problems.append(
            f"missing_store_file for {len(missing_stores)} stores (max "
            f"{max_missing_store_files}): stores {describe(tuple(sorted(missing_stores)))}"
        )
    if problems:
        raise DataQualityGateError(
            f"data-quality gate failed for {run_date}: " + "; ".join(problems)
        )
