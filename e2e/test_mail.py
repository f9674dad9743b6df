"""Outgoing e-mail, e-mail verification and password reset against the real wasm in workerd
(issue 12): the Worker's production Resend mailer sends to the loopback recording mail server
(``AGENT_ID_MAIL_RECORDER_URL``, started by scripts/test.sh), and the tests follow the links of
the messages it actually recorded."""

from __future__ import annotations

import os
import time
import urllib.parse
import uuid

import pytest
import requests

from helpers import assert_error, assert_ok, parse_timestamp

RECORDER_ENV = "AGENT_ID_MAIL_RECORDER_URL"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def recorder():
    url = os.environ.get(RECORDER_ENV, "").rstrip("/")
    if not url:
        pytest.skip(f"{RECORDER_ENV} is not set (scripts/test.sh starts the recording mail server)")
    assert url.startswith("http://127.0.0.1:"), f"the recorder must be on loopback: {url}"
    return url


def messages_to(recorder: str, to: str, kind: str, at_least: int = 1, wait_s: float = 10.0) -> list[dict]:
    """The recorded messages of `kind` to `to`, waiting (bounded) for the send after the response."""
    deadline = time.monotonic() + wait_s
    while True:
        resp = requests.get(recorder + "/messages", params={"to": to}, timeout=5)
        resp.raise_for_status()
        found = [m for m in resp.json()["messages"] if m["kind"] == kind]
        if len(found) >= at_least or time.monotonic() > deadline:
            assert len(found) >= at_least, f"no {kind} e-mail to {to} recorded: {resp.json()}"
            return found
        time.sleep(0.2)


def link_token(message: dict, base_url: str, path: str) -> str:
    """The token of the link to `path` in the message's text body, checking the link's origin."""
    for word in message["text"].split():
        if word.startswith(base_url + path + "?"):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(word).query)
            return query["token"][0]
    raise AssertionError(f"no {path} link in: {message['text']!r}")


def sign_up(http, base_url) -> tuple[str, dict]:
    email = f"mail-{uuid.uuid4().hex[:12]}@example.test"
    resp = http.post(base_url + "/v1/overseers/register",
                     json={"name": "Mail E2E", "email": email, "password": PASSWORD})
    return email, assert_ok(resp, 201)


def bearer(session: str) -> dict:
    return {"Authorization": f"Bearer {session}"}


def test_sign_up_then_verify_by_the_link_in_the_recorded_email(http, base_url, recorder):
    email, body = sign_up(http, base_url)
    me = assert_ok(http.get(base_url + "/v1/overseers/me", headers=bearer(body["session_id"])))
    assert me["overseer"]["email_verified"] is False
    assert me["overseer"]["email_verified_at"] is None

    [mail] = messages_to(recorder, email, "email_verification")
    assert mail["from"] == "Agent-ID <no-reply@agent-id.test>"
    assert mail["subject"] == "Confirm your e-mail address"
    assert mail["idempotency_key"], "retries must not send twice"
    token = link_token(mail, base_url, "/verify-email")
    assert token in mail["html"]

    done = assert_ok(http.post(base_url + "/v1/overseers/email-verification/complete", json={"token": token}))
    assert done["email_verified"] is True
    parse_timestamp(done["email_verified_at"], "email_verified_at")
    me = assert_ok(http.get(base_url + "/v1/overseers/me", headers=bearer(body["session_id"])))
    assert me["overseer"]["email_verified"] is True
    assert me["overseer"]["email_verified_at"] == done["email_verified_at"]
    # Single use; and once verified, no new link is sent.
    assert_error(http.post(base_url + "/v1/overseers/email-verification/complete", json={"token": token}),
                 400, "token_invalid")
    assert_error(http.post(base_url + "/v1/overseers/email-verification", headers=bearer(body["session_id"])),
                 409, "email_already_verified")


def test_resend_sends_a_second_working_link(http, base_url, recorder):
    email, body = sign_up(http, base_url)
    sent = http.post(base_url + "/v1/overseers/email-verification", headers=bearer(body["session_id"]))
    assert assert_ok(sent, 202)["message"]
    first, second = messages_to(recorder, email, "email_verification", at_least=2)
    assert link_token(first, base_url, "/verify-email") != link_token(second, base_url, "/verify-email")
    assert_ok(http.post(base_url + "/v1/overseers/email-verification/complete",
                        json={"token": link_token(second, base_url, "/verify-email")}))


def test_forgot_password_reset_by_the_link_ends_old_sessions(http, base_url, recorder):
    email, body = sign_up(http, base_url)
    old_sessions = [body["session_id"]]
    login = http.post(base_url + "/v1/overseers/login", json={"email": email, "password": PASSWORD})
    old_sessions.append(assert_ok(login)["session_id"])

    asked = http.post(base_url + "/v1/overseers/password-reset", json={"email": email.upper()})
    unknown = http.post(base_url + "/v1/overseers/password-reset",
                        json={"email": f"nobody-{uuid.uuid4().hex[:8]}@example.test"})
    assert asked.status_code == unknown.status_code == 202
    assert asked.json() == unknown.json()

    [mail] = messages_to(recorder, email, "password_reset")
    token = link_token(mail, base_url, "/reset-password")
    new_password = "a whole new password"
    done = http.post(base_url + "/v1/overseers/password-reset/complete",
                     json={"token": token, "password": new_password})
    assert_ok(done)

    for session in old_sessions:
        assert_error(http.get(base_url + "/v1/overseers/me", headers=bearer(session)), 401, "invalid_session")
    assert_error(http.post(base_url + "/v1/overseers/login", json={"email": email, "password": PASSWORD}),
                 401, "invalid_credentials")
    fresh = assert_ok(http.post(base_url + "/v1/overseers/login", json={"email": email, "password": new_password}))
    me = assert_ok(http.get(base_url + "/v1/overseers/me", headers=bearer(fresh["session_id"])))
    assert me["overseer"]["email_verified"] is True, "the reset link proved the address"
    # The link worked once; a notice went to the address.
    assert_error(http.post(base_url + "/v1/overseers/password-reset/complete",
                           json={"token": token, "password": "yet another one"}), 400, "token_invalid")
    [notice] = messages_to(recorder, email, "password_changed")
    assert "reset" in notice["subject"].lower()


def test_reset_refusals(http, base_url):
    post = lambda path, body: http.post(base_url + path, json=body)
    assert_error(post("/v1/overseers/password-reset", {}), 400, "missing_field")
    assert_error(post("/v1/overseers/password-reset", {"email": "not-an-address"}), 400, "invalid_email")
    assert_error(post("/v1/overseers/password-reset/complete", {"token": "A" * 43, "password": "long enough"}),
                 400, "token_invalid")
    assert_error(post("/v1/overseers/password-reset/complete", {"token": "short", "password": "long enough"}),
                 400, "token_invalid")
    assert_error(post("/v1/overseers/password-reset/complete", {"token": "A" * 43, "password": "short"}),
                 400, "password_too_short")
    assert_error(post("/v1/overseers/email-verification/complete", {"token": "A" * 43}), 400, "token_invalid")
