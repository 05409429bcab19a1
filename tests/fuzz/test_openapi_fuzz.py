"""Requests generated from ``GET /v1/__api__`` against a live server, per backend.

Schemathesis reads the server's own Swagger document and generates requests for
every operation, valid ones and (negative mode) ones breaking the document.
Each is sent twice, as Alice (Basic Auth) and anonymously, and each answer must:

* not be a 5xx (``not_a_server_error``): no input breaks the server;
* match the document: status code, content type, headers and body schema.

Paths name the seeded objects half of the time (:data:`~tests.fuzz.conftest.SEEDED`),
so that requests reach the objects and not only 403/404 answers.  The number of
examples per operation is bounded (``KINTO_FUZZ_EXAMPLES``) to keep the suite short.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import kinto_clone
from tests.fuzz.conftest import (
    ALICE_CREDENTIALS,
    PLUGINS,
    SEEDED,
    FuzzServer,
)
from tests.fuzz.knobs import search
from tests.server import default_settings

pytestmark = pytest.mark.process

EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def described_operations() -> list[str]:
    """``METHOD /path`` of every operation the fuzzed server describes, read
    from an in-process app with the same settings (at collection time)."""
    app = kinto_clone.main({}, **{**default_settings(), **PLUGINS})
    request = app.request_factory.blank("/v1/__api__")
    document = request.get_response(app).json
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    ]


OPERATIONS = described_operations()


@pytest.fixture(scope="module")
def live_schema(fuzz_server: FuzzServer) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/v1/__api__")


def cases(operation: Any) -> st.SearchStrategy[Any]:
    """Cases of ``operation``: free paths or paths naming seeded objects, data
    valid or not."""
    names = [p.name for p in operation.path_parameters if p.name in SEEDED]
    known = st.fixed_dictionaries({name: st.sampled_from(SEEDED[name]) for name in names})
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode))
        if names:
            strategies.append(
                known.flatmap(
                    lambda params, mode=mode: operation.as_strategy(
                        generation_mode=mode, path_parameters=params
                    )
                )
            )
    return st.one_of(strategies)


@pytest.mark.parametrize("operation_label", OPERATIONS)
def test_operation(fuzz_server: FuzzServer, live_schema: Any, operation_label: str) -> None:
    method, path = operation_label.split(" ", 1)
    operation = live_schema[path][method]

    @search(EXAMPLES_PER_OPERATION)
    @hypothesis.given(case=cases(operation))
    def check(case: Any) -> None:
        for auth in (ALICE_CREDENTIALS, None):
            response = case.call(session=session, auth=auth, timeout=30)
            fuzz_server.requests_sent += 1
            case.validate_response(response, checks=CHECKS)

    with requests.Session() as session:
        check()
