"""Routes with a JSON body model say, when the body is missing or not JSON, which body they
need: pydantic's own words (``Field required`` at an empty location) name nothing a client
could fix."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PREVIEW = (
    "POST /preview needs a JSON object body with the field `content`, sent with "
    "Content-Type: application/json."
)
OUTAGE = (
    "PUT /sandbox/sendgrid/outage needs a JSON object body with the field `outage`, sent with "
    "Content-Type: application/json."
)


@pytest.mark.parametrize(
    ("method", "path", "options", "sentence"),
    [
        ("POST", "/preview", {}, PREVIEW),
        ("POST", "/preview", {"json": ["# Hi"]}, PREVIEW),
        ("POST", "/preview", {"content": b"# Hi", "headers": {"content-type": "text/plain"}},
         PREVIEW),
        ("PUT", "/sandbox/sendgrid/outage", {}, OUTAGE),
        ("PUT", "/sandbox/sendgrid/outage", {"json": True}, OUTAGE),
    ],
)
def test_a_missing_body_is_answered_with_the_body_the_route_needs(
    client: TestClient, method: str, path: str, options: dict[str, object], sentence: str
) -> None:
    answer = client.request(method, path, **options)  # type: ignore[arg-type]
    assert answer.status_code == 400
    assert answer.json()["error"] == sentence
    assert answer.json()["details"][0]["field"] == "body"


def test_a_body_that_is_not_json_says_so_and_what_is_needed(client: TestClient) -> None:
    answer = client.post("/preview", content=b"{# Hi", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "The body is not valid JSON; POST /preview needs a JSON object body with the field "
        "`content`."
    )


def test_a_field_error_still_names_the_field(client: TestClient) -> None:
    answer = client.post("/preview", json={"content": 5})
    assert answer.status_code == 400
    assert answer.json()["error"] == "`content`: Input should be a valid string."
