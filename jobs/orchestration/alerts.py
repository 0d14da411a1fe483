"""Failure alerts that say what broke: e-mail (the smtp provider's notifier) and a webhook.

Each alert names the DAG, the task, the shard (store range), the logical date, the try, the
log URL, and the job's own one-line reason (`retailmax: error: ...`), e.g. the gate message.
"""

from __future__ import annotations

import html
import json
import re
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseHook, BaseNotifier

from jobs.errors import JOB_ERROR_PREFIX

# What `retailmax` prints last when a job fails; spark-submit's log tail carries it up.
_JOB_ERROR = re.compile(re.escape(JOB_ERROR_PREFIX) + r"(.+)")
_MAX_REASON = 500
WEBHOOK_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class FailureAlert:
    """Everything an on-call engineer needs in the first line of an alert."""

    dag_id: str
    task_id: str
    store_range: str
    logical_date: str
    try_number: int
    log_url: str
    reason: str

    @property
    def subject(self) -> str:
        """`[RetailMax] retail_daily.sales failed for 2024-03-04 (stores 1-25)`."""
        return (
            f"[RetailMax] {self.dag_id}.{self.task_id} failed for {self.logical_date} "
            f"({self.store_range})"
        )

    def text(self) -> str:
        """Plain text: the subject, the reason, then the details."""
        return f"{self.subject}: {self.reason}\ntry {self.try_number} - log: {self.log_url}"

    def html(self) -> str:
        """The e-mail body."""
        rows = "".join(
            f"<tr><th align='left'>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>"
            for name, value in asdict(self).items()
        )
        return (
            f"<p><b>{html.escape(self.reason)}</b></p><table>{rows}</table>"
            f"<p><a href='{html.escape(self.log_url)}'>Task log</a></p>"
        )


def failure_reason(exception: object) -> str:
    """The job's one-line reason when its output carries one, else the exception's first line."""
    text = str(exception or "").strip()
    found = _JOB_ERROR.findall(text)
    if found:
        reason = found[-1].strip()
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = lines[0] if lines else type(exception).__name__
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 3] + "..."


def store_range(task: Any) -> str:
    """`stores 1-25` from a task's `retailmax` arguments; `all stores` for whole-date steps."""
    arguments = list(getattr(task, "application_args", None) or [])
    if "--stores" in arguments[:-1]:
        return f"stores {arguments[arguments.index('--stores') + 1]}"
    return "all stores"


def failure_alert(context: Any) -> FailureAlert:
    """The alert of a failed task instance, from the Airflow context."""
    ti = context["ti"]
    logical_date = context.get("logical_date")
    return FailureAlert(
        dag_id=str(ti.dag_id),
        task_id=str(ti.task_id),
        store_range=store_range(context.get("task")),
        logical_date=logical_date.date().isoformat() if logical_date else str(context.get("ds")),
        try_number=int(ti.try_number),
        log_url=str(ti.log_url),
        reason=failure_reason(context.get("exception")),
    )


class EmailAlert(BaseNotifier):
    """Sends the failure alert through the smtp provider's SmtpNotifier."""

    def __init__(self, to: list[str], from_email: str, smtp_conn_id: str) -> None:
        super().__init__()
        self.to = to
        self.from_email = from_email
        self.smtp_conn_id = smtp_conn_id

    def notify(self, context: Any) -> None:
        """A fresh SmtpNotifier per alert: notifiers render in place, tasks share this one."""
        alert = failure_alert(context)
        SmtpNotifier(
            to=self.to,
            from_email=self.from_email,
            subject=alert.subject,
            html_content=alert.html(),
            smtp_conn_id=self.smtp_conn_id,
        ).notify(context)


class WebhookAlert(BaseNotifier):
    """POSTs the alert as JSON (`text` for Slack/Teams, `alert` for machines) to a webhook.

    The URL is the `host` of an Airflow connection, so the secret stays out of conf and code.
    """

    def __init__(self, conn_id: str) -> None:
        super().__init__()
        self.conn_id = conn_id

    def notify(self, context: Any) -> None:
        """One POST; a non-2xx answer raises and is logged by Airflow."""
        alert = failure_alert(context)
        url = BaseHook.get_connection(self.conn_id).host
        if not url or "://" not in url:
            raise ValueError(f"connection '{self.conn_id}': host must be the webhook's full URL")
        body = json.dumps({"text": alert.text(), "alert": asdict(alert)}).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
