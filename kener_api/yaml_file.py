"""Reading the YAML files an operator writes (monitors.yaml, site.yaml)."""

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import yaml


def read_yaml(path: Path, fail: Callable[[str], NoReturn]) -> object:
    """The document in `path`; `fail(problem)` is called (and raises) when the file cannot be
    read, is not UTF-8 or is not YAML."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot be read ({exc.strerror or exc})")
    except UnicodeDecodeError:
        fail("is not valid UTF-8")
    except yaml.YAMLError as exc:
        fail(f"is not valid YAML: {exc}")
