"""An email backend for worker fault tests: the first send pauses (long enough for the test
to kill the worker process in the middle of it); later sends go straight through."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.mail.backends.filebased import EmailBackend


class SlowFirstSendBackend(EmailBackend):
    def send_messages(self, email_messages: Sequence[Any]) -> int:
        marker = Path(str(self.file_path)).parent / "first-send-started"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(float(os.environ.get("SLOW_EMAIL_SECONDS", "30")))
        return super().send_messages(email_messages)
