"""moto_server for the local twin: the same app, one request at a time.

moto's own server runs requests in threads, and its DynamoDB evaluates a write's condition
and applies the write without a lock, so two concurrent conditional writes (or
transactions) can both succeed where DynamoDB lets exactly one through. Serialising requests
restores that guarantee; connections are still accepted concurrently.

Usage: python moto_serial.py -H 127.0.0.1 -p 5000
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # Produce the whole body inside the lock: the request is handled as one step.
            return list(app(environ, start_response))

    run_simple(
        args.host,
        args.port,
        one_at_a_time,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
