"""Overseer accounts, cookie sessions, tiers and the shadow claim up to payment, against the real
wasm in workerd (api.md 2.5, 2.6, 2.9; security.md §10-11)."""

import uuid

from helpers import assert_error, assert_ok, assert_uuid4

COOKIE = "__Host-agentid_session"


def sign_up(http, base_url, email=None, password="correct horse battery"):
    email = email or f"e2e-{uuid.uuid4().hex[:12]}@example.test"
    resp = http.post(base_url + "/v1/overseers/register",
                     json={"name": "E2E Overseer", "email": email, "password": password})
    body = assert_ok(resp, 201)
    return email, body


def test_sign_up_log_in_cookie_and_logout(http, base_url):
    email, body = sign_up(http, base_url, email=f"Mixed.{uuid.uuid4().hex[:8]}@Example.TEST")
    assert body["overseer"]["email"] == email.lower()
    assert_uuid4(body["overseer"]["id"], "overseer.id")
    session = body["session_id"]
    resp = http.post(base_url + "/v1/overseers/login", json={"email": email, "password": "correct horse battery"})
    login = assert_ok(resp)
    set_cookie = resp.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{COOKIE}={login['session_id']};")
    for attribute in ("Path=/", "Max-Age=1800", "HttpOnly", "Secure", "SameSite=Strict"):
        assert attribute in set_cookie, set_cookie
    cookie = {"Cookie": f"{COOKIE}={login['session_id']}"}

    me = assert_ok(http.get(base_url + "/v1/overseers/me", headers=cookie))
    assert me["overseer"]["subscription"]["tier"] == "FREE"
    # Cookie writes must come from the issuer's origin.
    assert_error(http.post(base_url + "/v1/overseers/logout", headers=cookie), 403, "csrf_check_failed")
    assert_error(http.post(base_url + "/v1/overseers/logout", headers={**cookie, "Origin": "https://evil.example"}),
                 403, "csrf_check_failed")
    out = http.post(base_url + "/v1/overseers/logout", headers={**cookie, "Origin": base_url})
    assert_ok(out)
    assert f"{COOKIE}=;" in out.headers["Set-Cookie"] and "Max-Age=0" in out.headers["Set-Cookie"]
    # Logout ends every session of the overseer.
    for headers in (cookie, {"Authorization": f"Bearer {session}"}):
        assert_error(http.get(base_url + "/v1/overseers/me", headers=headers), 401, "invalid_session")


def test_wrong_password_and_unknown_email_look_the_same(http, base_url):
    email, _ = sign_up(http, base_url)
    wrong = http.post(base_url + "/v1/overseers/login", json={"email": email, "password": "wrong horse battery"})
    unknown = http.post(base_url + "/v1/overseers/login",
                        json={"email": f"nobody-{uuid.uuid4().hex[:8]}@example.test", "password": "x" * 12})
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(unknown, 401, "invalid_credentials")
    assert wrong.json()["error"] == unknown.json()["error"] == "Invalid email or password"


def test_sign_up_validation(http, base_url):
    email = f"dup-{uuid.uuid4().hex[:8]}@example.test"
    sign_up(http, base_url, email=email)
    post = lambda body: http.post(base_url + "/v1/overseers/register", json=body)
    assert_error(post({"name": "A", "email": email.upper(), "password": "correct horse"}), 409, "email_taken")
    assert_error(post({"name": "A", "email": "not-an-email", "password": "correct horse"}), 400, "invalid_email")
    assert_error(post({"name": "A", "email": "a@example.test", "password": "short"}), 400, "password_too_short")
    assert_error(post({"name": "A", "email": "a@example.test", "password": "x" * 73}), 400, "password_too_long")


def test_sessions_are_typed(http, base_url, agent):
    _, body = sign_up(http, base_url)
    overseer = {"Authorization": f"Bearer {body['session_id']}"}
    assert_error(http.get(base_url + "/v1/agents/me", headers=overseer), 403, "forbidden")
    assert_error(http.get(base_url + "/v1/overseers/me", headers=agent.bearer()), 403, "forbidden")


def test_tiers_and_usage_of_a_new_overseer(http, base_url):
    tiers = http.get(base_url + "/v1/subscriptions/tiers")
    body = assert_ok(tiers)
    assert [t["tier"] for t in body["tiers"]] == ["FREE", "BASIC", "PRO", "PREMIUM"]
    assert [t["price"] for t in body["tiers"]] == [0, 5, 15, 49]
    assert tiers.headers["Cache-Control"] == "public, max-age=60"
    _, signed_up = sign_up(http, base_url)
    usage = assert_ok(http.get(base_url + "/v1/subscriptions/usage",
                               headers={"Authorization": f"Bearer {signed_up['session_id']}"}))["usage"]
    assert (usage["agents_claimed"], usage["clients_registered"], usage["oauth_count"]) == (0, 0, 0)
    assert (usage["max_agents"], usage["max_clients"], usage["max_oauth_per_period"]) == (0, 0, 10)


def test_free_overseers_cannot_claim(http, base_url, agent):
    _, body = sign_up(http, base_url)
    resp = http.post(base_url + "/v1/agents/claim/initiate", json={"agent_id": agent.agent_id},
                     headers={"Authorization": f"Bearer {body['session_id']}"})
    assert_error(resp, 403, "tier_limit_reached")


def test_shadow_claim_until_payment(http, base_url, agent):
    started = assert_ok(http.post(base_url + f"/v1/agents/malice/{agent.agent_id}"))
    challenge_id, shadow_id = started["challenge_id"], started["shadow_overseer_id"]
    assert uuid.UUID(shadow_id).version == 8
    status_url = base_url + f"/v1/agents/malice/status/{challenge_id}"
    status = assert_ok(http.get(status_url))
    assert status["status"] == "initiated" and "custom_data" not in status

    # The agent confirms with a DPoP proof alone (no session).
    path = f"/v1/agents/claim/complete/{challenge_id}"
    assert_error(http.post(base_url + path, json={"overseer_id": str(uuid.uuid4())},
                           headers={"DPoP": agent.dpop_proof("POST", path)}), 403, "overseer_mismatch")
    confirmed = assert_ok(http.post(base_url + path, json={"overseer_id": shadow_id},
                                    headers={"DPoP": agent.dpop_proof("POST", path)}))
    assert confirmed["status"] == "awaiting-payment"
    status = assert_ok(http.get(status_url))
    assert status["status"] == "awaiting-payment"
    assert status["custom_data"]["is_shadow_claim"] is True
    assert status["custom_data"]["shadow_overseer_id"] == shadow_id
    assert status["price"] == 19 and status["paddle_price_id"]
    unknown = assert_ok(http.get(base_url + "/v1/agents/malice/status/not-a-uuid"))
    assert unknown == {"success": True, "challenge_id": "not-a-uuid", "status": "expired"}
