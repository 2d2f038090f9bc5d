"""``/callbacks`` through the real app on a real SQLite store: the secret is shown once, each
project sees only its own callbacks, and URLs that lead inside the network are refused
unless the operator allows them."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.store.engine import make_engine
from micromailer.store.keys import KeyStore
from micromailer.store.migrate import upgrade

PUBLIC_URL = "https://93.184.216.34/hooks/email"  # a public address: nothing to resolve


def app_client(tmp_path: Path, **values: Any) -> TestClient:
    settings = Settings(data_dir=tmp_path, _env_file=None, **values)  # type: ignore[call-arg]
    upgrade(settings.store_url)
    return TestClient(create_app(settings))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with app_client(tmp_path) as test_client:
        yield test_client


def test_registering_answers_the_secret_once_and_lists_the_callback_without_it(
    client: TestClient,
) -> None:
    created = client.post("/callbacks", json={"url": PUBLIC_URL,
                                              "events": ["delivered", "bounced", "delivered"]})

    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "url", "events", "secret", "createdAt"}
    assert created.headers["location"] == f"/callbacks/{body['id']}"
    assert body["url"] == PUBLIC_URL
    assert body["events"] == ["delivered", "bounced"]
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) >= 24
    listed = client.get("/callbacks").json()
    assert listed == [{key: body[key] for key in ("id", "url", "events", "createdAt")}]
    one = client.get(f"/callbacks/{body['id']}").json()
    assert "secret" not in one and one["id"] == body["id"]
    assert client.get(f"/callbacks/{body['id']}/deliveries").json() == []


def test_every_registration_gets_its_own_secret(client: TestClient) -> None:
    secrets = {client.post("/callbacks", json={"url": PUBLIC_URL, "events": ["*"]})
               .json()["secret"] for _ in range(3)}

    assert len(secrets) == 3


def test_a_star_asks_for_every_event(client: TestClient) -> None:
    body = client.post("/callbacks", json={"url": PUBLIC_URL, "events": ["sent", "*"]}).json()

    assert body["events"] == ["*"]


def test_a_deleted_callback_is_gone_from_the_list_and_answers_404(client: TestClient) -> None:
    callback_id = client.post("/callbacks", json={"url": PUBLIC_URL, "events": ["*"]}).json()["id"]

    assert client.delete(f"/callbacks/{callback_id}").status_code == 204
    assert client.get("/callbacks").json() == []
    for method, path in (("DELETE", ""), ("GET", ""), ("GET", "/deliveries")):
        answer = client.request(method, f"/callbacks/{callback_id}{path}")
        assert answer.status_code == 404
        assert answer.json() == {"status": "notfound", "callbackId": callback_id}


def test_another_projects_key_cannot_see_or_delete_a_callback(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    upgrade(settings.store_url)
    keys = KeyStore(make_engine(settings.store_url))
    _, shop = keys.create("shop")
    _, blog = keys.create("blog")
    _, admin = keys.create("ops", scope="admin")
    with TestClient(create_app(settings)) as client:
        as_shop, as_blog = _bearer(shop), _bearer(blog)
        callback_id = client.post("/callbacks", headers=as_shop,
                                  json={"url": PUBLIC_URL, "events": ["*"]}).json()["id"]

        assert client.get("/callbacks", headers=as_blog).json() == []
        for method, path in (("GET", ""), ("GET", "/deliveries"), ("DELETE", "")):
            answer = client.request(method, f"/callbacks/{callback_id}{path}", headers=as_blog)
            assert answer.status_code == 404, (method, path)
        assert [c["id"] for c in client.get("/callbacks", headers=as_shop).json()] == [callback_id]
        assert client.get(f"/callbacks/{callback_id}", headers=_bearer(admin)).status_code == 200
        assert client.post("/callbacks", json={"url": PUBLIC_URL, "events": ["*"]}
                           ).status_code == 401


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook",
    "http://[::1]/hook",
    "http://10.0.0.7/hook",
    "http://192.168.1.20/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://localhost:8000/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
])
def test_urls_that_lead_inside_the_network_are_refused_with_a_sentence(
    client: TestClient, url: str
) -> None:
    answer = client.post("/callbacks", json={"url": url, "events": ["sent"]})

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert "public address" in error and "MICROMAILER_CALLBACK_ALLOW_PRIVATE=true" in error
    assert client.get("/callbacks").json() == []


def test_the_operator_may_allow_private_urls(tmp_path: Path) -> None:
    with app_client(tmp_path, callback_allow_private=True) as client:
        for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/h"):
            answer = client.post("/callbacks", json={"url": url, "events": ["sent"]})
            assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(("body", "says"), [
    ({"url": "ftp://93.184.216.34/x", "events": ["sent"]}, "https://"),
    ({"url": "/relative/path", "events": ["sent"]}, "https://"),
    ({"url": "https://user:pw@93.184.216.34/x", "events": ["sent"]}, "user name or password"),
    ({"url": "https://no-such-host.invalid/x", "events": ["sent"]}, "could not be resolved"),
    ({"url": PUBLIC_URL, "events": ["sent", "read"]}, "'read', which is not an event"),
    ({"url": PUBLIC_URL, "events": []}, "events"),
    ({"url": PUBLIC_URL}, "events"),
    ({"url": PUBLIC_URL + "/" + "x" * 2100, "events": ["sent"]}, "url"),
    ({"url": PUBLIC_URL, "events": ["sent"], "secret": "mine"}, "secret"),
])
def test_bad_registrations_get_400_with_a_sentence_saying_what_to_fix(
    client: TestClient, body: dict[str, object], says: str
) -> None:
    answer = client.post("/callbacks", json=body)

    assert answer.status_code == 400, answer.text
    assert answer.json()["status"] == "failed"
    assert says in answer.json()["error"]


def test_the_log_limit_is_bounded(client: TestClient) -> None:
    callback_id = client.post("/callbacks", json={"url": PUBLIC_URL, "events": ["*"]}).json()["id"]

    assert client.get(f"/callbacks/{callback_id}/deliveries?limit=501").status_code == 400
    assert client.get(f"/callbacks/{callback_id}/deliveries?limit=500").status_code == 200


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
