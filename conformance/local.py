"""`tox -e conformance`: start this project's server (waitress, a temporary data directory, a
generated token, the suite's monitors.yaml), run the suite against it, stop it.

With `--base-url` among the arguments, run the suite against that server instead.
"""

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conformance import cli

MONITORS = Path(__file__).resolve().parent / "monitors.yaml"
STARTUP_SECONDS = 60


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(arg == "--base-url" or arg.startswith("--base-url=") for arg in argv):
        return cli.main(argv)
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="kener-conformance-") as data_dir:
        log_path = Path(data_dir) / "server.log"
        with log_path.open("w") as log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kener_api.cli",
                    "serve",
                    "--port",
                    "0",
                    "--data-dir",
                    data_dir,
                    "--monitors",
                    str(MONITORS),
                ],
                # In the environment, not the command line: a token may start with "-".
                # The suite sends hundreds of wrong credentials a minute on purpose (the auth
                # and schema groups): past the server's limit its right token would be
                # refused too.
                env={**os.environ, "API_TOKEN": token, "KENER_AUTH_FAILURES_PER_MINUTE": "1000000"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                url = _wait_for_address(log_path, server)
                print(f"kener-conformance: testing this project's server at {url}", flush=True)
                return cli.main(
                    [
                        "--base-url",
                        url,
                        f"--token={token}",
                        "--tags",
                        "earth,google",
                        "--degraded-tag",
                        "google",
                        *argv,
                    ]
                )
            finally:
                server.terminate()
                server.wait(timeout=30)


def _wait_for_address(log_path: Path, server: subprocess.Popen) -> str:
    """The server's URL, once its log says it is serving (it binds port 0: no race for a
    free port)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        found = re.search(r"serving on (http://\S+)", log_path.read_text())
        if found:
            return found.group(1)
        if server.poll() is not None:
            raise SystemExit(f"the server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    raise SystemExit(f"the server did not start within {STARTUP_SECONDS} s")


if __name__ == "__main__":
    sys.exit(main())
