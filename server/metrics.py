"""Prometheus metrics at /metrics, for a scraper holding METRICS_TOKEN.

Each web process serves its own: its HTTP requests, open sockets and rooms, and frames in
and out (server/live_counters.py) are its own, so Prometheus scrapes every web process
(not one through the load balancer). Celery task outcomes (counted in Redis by the workers,
server/task_signals.py) and email deliveries by state (PostgreSQL, at scrape time) are the
whole deployment's, the same from every process: aggregate them with max(), not sum().
Labels never hold a raw path (calendar feed paths hold secrets), an id or a user.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, Counter, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from server.live_counters import LIVE
from server.redis_client import get_redis
from server.task_signals import TASK_OUTCOMES_KEY

# Without auto_describe: registering a collector does not run it (no query at import).
REGISTRY = CollectorRegistry(auto_describe=False)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# Methods outside this set count as "other": a label must not take any value a client sends.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HTTP_REQUESTS = Counter(
    "iop_http_requests",
    "HTTP requests answered, by method, URL pattern (never the path) and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)


def count_request(method: str, route: str, status: int) -> None:
    HTTP_REQUESTS.labels(method if method in _METHODS else "other", route, str(status)).inc()


class LiveCollector(Collector):
    """This process's websocket figures, read from plain counters at scrape time."""

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("iop_ws_open_sockets", "Websockets open in this process.", LIVE.open_sockets)
        yield GaugeMetricFamily("iop_rooms_open", "Live rooms with a socket in this process.", LIVE.open_rooms)
        frames = CounterMetricFamily("iop_ws_frames", "Websocket frames, in and out.", labels=["direction"])
        frames.add_metric(["in"], LIVE.frames_in)
        frames.add_metric(["out"], LIVE.frames_out)
        yield frames
        yield CounterMetricFamily("iop_chat_lines", "Chat lines stored by this process.", LIVE.chat_lines)


class DeploymentCollector(Collector):
    """Figures of the whole deployment: Celery task outcomes and email deliveries."""

    def collect(self) -> Iterator[Metric]:
        from notifications.models import Delivery  # apps are loaded by the time anyone scrapes

        tasks = CounterMetricFamily(
            "iop_celery_tasks", "Celery tasks finished, by task and outcome (all workers).", labels=["task", "outcome"]
        )
        for field, count in sorted(get_redis().hgetall(TASK_OUTCOMES_KEY).items()):
            task, _, outcome = (field.decode() if isinstance(field, bytes) else field).rpartition("|")
            tasks.add_metric([task, outcome], int(count))
        yield tasks
        deliveries = GaugeMetricFamily(
            "iop_email_deliveries", "Email deliveries by state (all of them, in PostgreSQL).", labels=["state"]
        )
        counts = dict(Delivery.objects.order_by().values_list("status").annotate(count=Count("id")))
        for state, _label in Delivery._meta.get_field("status").choices or []:
            deliveries.add_metric([str(state)], counts.get(state, 0))
        yield deliveries


REGISTRY.register(LiveCollector())
REGISTRY.register(DeploymentCollector())


def _authorized(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), settings.METRICS_TOKEN.encode())


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    if not _authorized(request):
        response = HttpResponse("A valid metrics bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
