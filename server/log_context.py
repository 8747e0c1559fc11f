"""The request id in every log line, and carried into the Celery tasks a request queues.

A web request's id (server/middleware.py, X-Request-ID) travels as a message header of
each task published while it is handled; the worker binds it around the task, so the
task's log lines and audit entries carry the id of the request that caused them.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

REQUEST_ID_HEADER = "iop_request_id"
_bound_tokens: dict[str, object] = {}


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` (and, inside a task, ``task_id`` and ``task_name``) to every record,
    "-" outside any; the JSON formatter writes them as fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        from server.middleware import current_request_context  # settings load this module

        context = current_request_context()
        record.request_id = context.request_id if context else "-"
        if not hasattr(record, "task_id"):
            from celery import current_task

            # A proxy: false outside a task.
            running = bool(current_task) and getattr(current_task.request, "id", None) is not None
            record.task_id = current_task.request.id if running else "-"
            record.task_name = current_task.name if running else "-"
        return True


@before_task_publish.connect
def _send_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    from server.middleware import current_request_context

    context = current_request_context()
    if context is not None and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, context.request_id)


@task_prerun.connect
def _bind_request_id(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    from server.middleware import RequestContext, bind_request_context

    request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    if request_id and task_id:
        _bound_tokens[task_id] = bind_request_context(RequestContext(request_id=str(request_id), ip=None))


@task_postrun.connect
def _unbind_request_id(task_id: str | None = None, **_: Any) -> None:
    from server.middleware import reset_request_context

    token = _bound_tokens.pop(task_id or "", None)
    if token is not None:
        reset_request_context(token)
