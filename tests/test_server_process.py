"""The real ``kinto`` process over HTTP: the foundation every client relies on."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import requests

from tests.server import KintoServer, basicauth_userid, write_ini

FIXTURES = Path(__file__).parent / "fixtures"
JSON_ERROR_KEYS = {"code", "errno", "error", "message"}


def test_root_document(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["project_name"] == "kinto"
    assert body["http_api_version"] == "1.23"
    assert body["url"] == f"{live_server.url}/v1/"
    assert body["settings"] == {
        "batch_max_requests": 25,
        "readonly": False,
        "explicit_permissions": True,
    }
    assert "default_bucket" in body["capabilities"]
    assert "basicauth" in body["capabilities"]
    assert "user" not in body


def test_root_document_shows_the_basicauth_principal(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/", auth=("user", "password"), timeout=10)
    user = response.json()["user"]
    expected = f"basicauth:{basicauth_userid('user', 'password')}"
    assert user["id"] == expected
    assert user["principals"] == [expected, "system.Authenticated", "system.Everyone"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", user["bucket"]
    )


def test_ids_match_kinto_for_the_same_secrets(start_server) -> None:
    # Values a Kinto 26.5.0 server configured with these secrets gives.
    server = start_server(
        {
            "kinto.userid_hmac_secret": "testsecret",
            "kinto.default_bucket_hmac_secret": "testsecret2",
        }
    )
    user = requests.get(f"{server.url}/v1/", auth=("user", "password"), timeout=10).json()["user"]
    assert user["id"] == (
        "basicauth:f2e36a7bb2eb50ffabbf9cfc9a71e82010f9f8f74c308a9438e43c94ffd15e29"
    )
    assert user["bucket"] == "842a84ad-42e6-9f92-170e-83de4f4fa355"


def test_empty_username_is_anonymous(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/", auth=("", "password"), timeout=10)
    assert "user" not in response.json()


def test_heartbeats(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/__heartbeat__", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"storage": True, "permission": True, "cache": True}
    response = requests.get(f"{live_server.url}/v1/__lbheartbeat__", timeout=10)
    assert response.status_code == 200
    assert response.json() == {}


def test_version_without_version_file_is_a_clean_404(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/__version__", timeout=10)
    assert response.status_code == 404
    assert set(response.json()) >= JSON_ERROR_KEYS


def test_contribute_json(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/contribute.json", timeout=10)
    assert response.status_code == 200
    assert "name" in response.json()


def test_unversioned_paths_redirect(live_server: KintoServer) -> None:
    response = requests.get(
        f"{live_server.url}/buckets?_limit=2", allow_redirects=False, timeout=10
    )
    assert response.status_code == 307
    assert response.headers["Location"].endswith("/v1/buckets?_limit=2")


def test_trailing_slash_redirects(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/buckets/", allow_redirects=False, timeout=10)
    assert response.status_code == 307
    assert response.headers["Location"].endswith("/v1/buckets")
    response = requests.get(f"{live_server.url}/v1", allow_redirects=False, timeout=10)
    assert response.status_code == 307
    assert response.headers["Location"].endswith("/v1/")


def test_other_api_versions_are_404_116(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v2/buckets", timeout=10)
    assert response.status_code == 404
    assert response.json()["errno"] == 116


def test_unknown_url_is_404_111(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/unknown", timeout=10)
    assert response.status_code == 404
    body = response.json()
    assert body["errno"] == 111
    assert body["error"] == "Not Found"
    assert set(body) >= JSON_ERROR_KEYS


def test_method_not_allowed_is_405_115(live_server: KintoServer) -> None:
    response = requests.put(f"{live_server.url}/v1/__heartbeat__", timeout=10)
    assert response.status_code == 405
    assert response.json()["errno"] == 115


def test_wrong_content_type_is_415_107(live_server: KintoServer) -> None:
    response = requests.post(
        f"{live_server.url}/v1/buckets",
        data="data=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=("user", "password"),
        timeout=10,
    )
    assert response.status_code == 415
    body = response.json()
    assert body["errno"] == 107
    assert body["details"][0]["location"] == "header"


def test_cors_preflight(live_server: KintoServer) -> None:
    response = requests.options(
        f"{live_server.url}/v1/buckets",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Max-Age"] == "3600"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed


def test_cors_headers_on_responses_and_errors(live_server: KintoServer) -> None:
    origin = {"Origin": "http://app.example"}
    for path in ("/v1/", "/v1/unknown"):
        response = requests.get(f"{live_server.url}{path}", headers=origin, timeout=10)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]


def test_security_headers(live_server: KintoServer) -> None:
    response = requests.get(f"{live_server.url}/v1/", timeout=10)
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_internal_errors_hide_tracebacks(start_server) -> None:
    repository = str(Path(__file__).parent.parent)
    server = start_server(
        {"kinto.includes": "tests.fixtures_plugins.failing_view"},
        env={"PYTHONPATH": repository},
    )
    response = requests.get(f"{server.url}/v1/__failing__", timeout=10)
    assert response.status_code == 500
    body = response.json()
    assert body["errno"] == 999
    assert "Traceback" not in response.text
    assert "deliberate" not in response.text
    # The server keeps serving.
    assert requests.get(f"{server.url}/v1/", timeout=10).status_code == 200


def test_tutorial_id_generator_file_works_unchanged(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "name_generator.py", tmp_path / "name_generator.py")
    ini = write_ini(tmp_path / "kinto.ini", {"kinto.id_generator": "name_generator.NameGenerator"})
    with KintoServer(ini) as server:
        response = requests.post(
            f"{server.url}/v1/buckets/default/collections/tasks/records",
            json={"data": {"yeah": "oh"}},
            auth=("user", "pass"),
            timeout=10,
        )
        assert response.status_code == 201
        record_id = response.json()["data"]["id"]
        assert re.fullmatch(r"^[a-zA-Z0-9-_]{8}$", record_id)
        assert response.json()["data"]["yeah"] == "oh"
        # Ids given by clients are validated with the generator's regexp.
        response = requests.put(
            f"{server.url}/v1/buckets/default/collections/tasks/records/too-long-for-it",
            json={"data": {}},
            auth=("user", "pass"),
            timeout=10,
        )
        assert response.status_code == 400


def test_per_type_generators_from_the_tutorial(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "name_generator.py", tmp_path / "name_generator.py")
    ini = write_ini(
        tmp_path / "kinto.ini",
        {
            "kinto.bucket_id_generator": "name_generator.NameGenerator",
            "kinto.record_id_generator": "kinto.core.storage.generators.UUID4",
        },
    )
    with KintoServer(ini) as server:
        auth = ("user", "pass")
        bucket = requests.post(f"{server.url}/v1/buckets", json={}, auth=auth, timeout=10)
        assert bucket.status_code == 201
        bucket_id = bucket.json()["data"]["id"]
        assert re.fullmatch(r"^[a-zA-Z0-9-_]{8}$", bucket_id)
        requests.put(
            f"{server.url}/v1/buckets/{bucket_id}/collections/c", json={}, auth=auth, timeout=10
        )
        record = requests.post(
            f"{server.url}/v1/buckets/{bucket_id}/collections/c/records",
            json={"data": {}},
            auth=auth,
            timeout=10,
        )
        assert re.fullmatch(r"[0-9a-f-]{36}", record.json()["data"]["id"])
