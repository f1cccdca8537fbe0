"""The server's logging: every logger to standard error, as text (one line per record,
escaped by OneLineFormatter) or as JSON (one object per line, python-json-logger), at the
level KENER_LOG_LEVEL names."""

import logging

from pythonjsonlogger.json import JsonFormatter

from kener_api.access_log import OneLineFormatter

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def configure(log_format: str = "text", level: str = "INFO") -> None:
    # Neither format shows where a record was made, nor its thread or process: not gathering
    # them (the logging HOWTO's "Optimization") halves the cost of each access-log line,
    # written on every request.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(OneLineFormatter(TEXT))
    logging.basicConfig(level=getattr(logging, level), handlers=[handler], force=True)
    # waitress warns "Task queue depth is N" on nearly every request under load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # Connexion says at INFO, for every page, badge and feed, that no validator is registered
    # for HTML, SVG or XML answers (by design: only JSON has a schema): a second line per
    # public request, and its cost. Its warnings and errors still show.
    logging.getLogger("connexion.middleware.validation").setLevel(logging.WARNING)
