"""Logging for every command: plain lines or one JSON object per line (`LOG_FORMAT=json`), each
carrying the id of the HTTP request it belongs to (`request_id`, "-" outside a request).

The id comes from `asgi_correlation_id`'s middleware (`server.app`), which reads the client's
`X-Request-ID` or makes one and answers it; its context variable follows the request into the
graphs and the threads they start with `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any, Literal

from asgi_correlation_id import correlation_id

LogFormat = Literal["text", "json"]
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# numexpr: "NumExpr defaulting to N threads"; httpx, httpx2: a line for every model request
QUIET_LOGGERS = ("pgserver", "numexpr", "httpx", "httpx2")


def valid_request_id(value: str) -> bool:
    """A client's `X-Request-ID` is kept when it is a short token: it is written into every log
    line of the request, so anything that could forge or split a line is replaced by a new id."""
    return _CLIENT_ID.fullmatch(value) is not None


def current_request_id() -> str | None:
    return correlation_id.get()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = correlation_id.get() or "-"
        return True


def logging_config(level: str = "info", fmt: LogFormat = "text") -> dict[str, Any]:
    """The `logging.config.dictConfig` for the service and uvicorn alike, so the access line and
    the error line of one request share its id and format."""
    text = {"format": "%(levelname)s [%(request_id)s] %(name)s: %(message)s"}
    json_format = {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(levelname)s %(name)s %(request_id)s %(message)s",
        "rename_fields": {"levelname": "level", "name": "logger"},
        "timestamp": "time",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": json_format if fmt == "json" else text},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            # uvicorn's own handlers are dropped: its lines go through the root's, with the id
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
            **{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
        },
    }


def configure_logging(level: str = "info", fmt: LogFormat = "text") -> dict[str, Any]:
    config = logging_config(level, fmt)
    logging.config.dictConfig(config)
    return config
