"""The framework's ceiling: one bare Pyramid JSON view served by waitress.

Both servers are Pyramid applications on waitress, so no request to either can
be cheaper than this one; ``run.py`` reports it beside the real workloads so a
ratio like "our read_one is 60 % of hello" shows how much of the time per request
is left to the application itself.  Run as
``python bench/hello_app.py --port N --threads T``.
"""

from __future__ import annotations

import argparse

from pyramid.config import Configurator
from pyramid.request import Request
from waitress import serve


def hello(request: Request) -> dict[str, str]:
    """Return a tiny JSON body, like Kinto's smallest responses."""
    return {"hello": "world"}


def make_app() -> object:
    """Build the WSGI app with the one ``GET /v1/`` route and the JSON renderer."""
    with Configurator() as config:
        config.add_route("hello", "/v1/")
        config.add_view(hello, route_name="hello", renderer="json", request_method="GET")
        return config.make_wsgi_app()


def main() -> None:
    """Serve on loopback only, with the thread count the benchmark gives both servers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    serve(make_app(), host="127.0.0.1", port=args.port, threads=args.threads, _quiet=True)


if __name__ == "__main__":
    main()
