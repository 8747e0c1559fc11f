"""``celery`` with the clock moved to a given instant (time-machine, ticking on from it), so a
real worker sees a session's reminders come due without waiting a day.

    python -m tests.support.time_travel_celery 2026-12-08T17:00:00+00:00 -A server worker ...

The clock is moved before Django or Celery is imported; prefork pool processes inherit it.
"""

from __future__ import annotations

import sys
from datetime import datetime

import time_machine


def main() -> None:
    destination = datetime.fromisoformat(sys.argv[1])
    time_machine.travel(destination, tick=True).start()
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", *sys.argv[2:]]
    celery_main()


if __name__ == "__main__":
    main()
