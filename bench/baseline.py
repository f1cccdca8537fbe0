"""The ceiling: a bare WSGI app answering constant JSON, on waitress with 4 threads."""

import sys

from waitress import serve

BODY = b'{"status": 200, "message": "success at 1731251760"}'


def app(environ, start_response):
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]


if __name__ == "__main__":
    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=4, _quiet=True)
