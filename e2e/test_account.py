"""Account settings end to end against the real wasm in workerd (docs/accounts.md, "Account
settings"): sessions listed and ended at once, a password change that keeps only this session,
an e-mail change by the link of the message the recording mail server received, the data export,
and deleting an account with an agent and a paid subscription."""

from __future__ import annotations

import secrets

from helpers import assert_error, assert_ok
from test_claims_billing import upgrade
from test_mail import link_token, messages_to, recorder  # noqa: F401 (`recorder` is a fixture)

PASSWORD = "correct horse battery"


def sign_up(http, base_url, email=None):
    email = email or f"e2e-account-{secrets.token_hex(6)}@example.test"
    body = assert_ok(http.post(base_url + "/v1/overseers/register",
                               json={"name": "E2E Account", "email": email, "password": PASSWORD}), 201)
    return {"id": body["overseer"]["id"], "session": body["session_id"], "email": email}


def log_in(http, base_url, email, password=PASSWORD):
    return http.post(base_url + "/v1/overseers/login", json={"email": email, "password": password})


def bearer(session):
    return {"Authorization": f"Bearer {session}"}


def sessions(http, base_url, session):
    return assert_ok(http.get(base_url + "/v1/overseers/me/sessions", headers=bearer(session)))["sessions"]


def test_sessions_are_listed_and_one_ends_at_once(http, base_url):
    overseer = sign_up(http, base_url)
    other = assert_ok(log_in(http, base_url, overseer["email"]))["session_id"]
    listed = sessions(http, base_url, overseer["session"])
    assert len(listed) == 2
    assert [s["current"] for s in listed].count(True) == 1
    target = next(s for s in listed if not s["current"])
    assert other not in str(listed)

    done = assert_ok(http.delete(f"{base_url}/v1/overseers/me/sessions/{target['id']}",
                                 headers=bearer(overseer["session"])))
    assert done["current"] is False
    assert_error(http.get(base_url + "/v1/overseers/me", headers=bearer(other)), 401, "invalid_session")
    assert_ok(http.get(base_url + "/v1/overseers/me", headers=bearer(overseer["session"])))
    assert_error(http.delete(f"{base_url}/v1/overseers/me/sessions/{target['id']}",
                             headers=bearer(overseer["session"])), 404, "session_not_found")


def test_a_password_change_keeps_only_this_session(http, base_url):
    overseer = sign_up(http, base_url)
    other = assert_ok(log_in(http, base_url, overseer["email"]))["session_id"]
    path = base_url + "/v1/overseers/me/password"
    assert_error(http.post(path, json={"current_password": "not the password", "new_password": "a new secret"},
                           headers=bearer(overseer["session"])), 403, "wrong_password")
    changed = assert_ok(http.post(path, json={"current_password": PASSWORD, "new_password": "a new secret"},
                                  headers=bearer(overseer["session"])))
    assert changed["sessions_ended"] == 1
    assert_error(http.get(base_url + "/v1/overseers/me", headers=bearer(other)), 401, "invalid_session")
    assert_ok(http.get(base_url + "/v1/overseers/me", headers=bearer(overseer["session"])))
    assert_error(log_in(http, base_url, overseer["email"]), 401, "invalid_credentials")
    assert_ok(log_in(http, base_url, overseer["email"], "a new secret"))


def test_the_export_is_a_json_attachment(http, base_url):
    overseer = sign_up(http, base_url)
    resp = http.get(base_url + "/v1/overseers/me/export", headers=bearer(overseer["session"]))
    body = assert_ok(resp)
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert body["format"] == "agent-id.account-export.v1"
    assert body["overseer"]["email"] == overseer["email"]
    assert "password_hash" not in resp.text
    assert any(e["type"] == "overseer.registered" for e in body["audit_events"])


def test_deleting_the_account_declaims_cancels_and_ends_every_session(http, base_url, new_agent):
    overseer = sign_up(http, base_url)
    auth = upgrade(http, base_url, overseer, "BASIC")
    agent = new_agent()
    started = assert_ok(http.post(f"{base_url}/v1/agents/claim/initiate", json={"agent_id": agent.agent_id},
                                  headers=auth))
    path = f"/v1/agents/claim/complete/{started['challenge_id']}"
    assert_ok(http.post(base_url + path, json={"overseer_id": overseer["id"]},
                        headers={"DPoP": agent.dpop_proof("POST", path)}))
    other = assert_ok(log_in(http, base_url, overseer["email"]))["session_id"]

    delete = base_url + "/v1/overseers/me/delete"
    assert_error(http.post(delete, json={"password": "not the password"}, headers=auth), 403, "wrong_password")
    resp = http.post(delete, json={"password": PASSWORD}, headers=auth)
    done = assert_ok(resp)
    assert done["agents_declaimed"] == 1
    assert done["subscription_cancel_requested"] is True
    assert "Max-Age=0" in resp.headers["Set-Cookie"]

    for session in (overseer["session"], other):
        assert_error(http.get(base_url + "/v1/overseers/me", headers=bearer(session)), 401, "invalid_session")
    assert_error(log_in(http, base_url, overseer["email"]), 401, "invalid_credentials")
    view = assert_ok(http.get(f"{base_url}/v1/agents/me/overseer", headers=agent.bearer()))
    assert view["overseer"] is None
    # The address is free again: a new account, with a new id.
    again = sign_up(http, base_url, email=overseer["email"])
    assert again["id"] != overseer["id"]


def test_the_e_mail_changes_by_the_link_sent_to_the_new_address(http, base_url, recorder):
    overseer = sign_up(http, base_url)
    new = f"e2e-account-new-{secrets.token_hex(6)}@example.test"
    asked = http.post(base_url + "/v1/overseers/me/email", json={"new_email": new, "password": PASSWORD},
                      headers=bearer(overseer["session"]))
    assert_ok(asked, 202)
    me = assert_ok(http.get(base_url + "/v1/overseers/me", headers=bearer(overseer["session"])))
    assert me["overseer"]["email"] == overseer["email"], "nothing changes before the link is used"

    message = messages_to(recorder, new, "email_change")[-1]
    token = link_token(message, base_url, "/settings/email")
    confirm = base_url + "/v1/overseers/me/email/confirm"
    stranger = sign_up(http, base_url)
    assert_error(http.post(confirm, json={"token": token}, headers=bearer(stranger["session"])), 400, "token_invalid")
    done = assert_ok(http.post(confirm, json={"token": token}, headers=bearer(overseer["session"])))
    assert done["overseer"]["email"] == new
    assert_error(http.post(confirm, json={"token": token}, headers=bearer(overseer["session"])), 400, "token_invalid")

    notice = messages_to(recorder, overseer["email"], "email_changed")[-1]
    assert new in notice["text"]
    me = assert_ok(http.get(base_url + "/v1/overseers/me", headers=bearer(overseer["session"])))
    assert me["overseer"]["email"] == new and me["overseer"]["email_verified"] is True
    assert_ok(log_in(http, base_url, new))
    assert_error(log_in(http, base_url, overseer["email"]), 401, "invalid_credentials")
