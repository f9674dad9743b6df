//! The `agent-id` CLI: its command line (the built binary, as a shell or a program runs it) and
//! every agent command against the real agent-id App in process (SQLite with the real
//! migrations, memory KV), through the library and an in-process transport.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use support::{binary, Agent, InProcess};

const SUBCOMMANDS: [&str; 11] = [
    "keygen",
    "register",
    "login",
    "whoami",
    "rotate",
    "logout",
    "claim",
    "claim accept",
    "history",
    "overseer",
    "authorize",
];

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

// --- the command line (the binary) -------------------------------------------------------------

#[test]
fn every_subcommand_has_help() {
    let home = tempfile::tempdir().unwrap();
    let top = binary(home.path()).arg("--help").output().unwrap();
    assert!(top.status.success());
    let text = String::from_utf8(top.stdout).unwrap();
    for sub in SUBCOMMANDS.iter().filter(|s| !s.contains(' ')) {
        assert!(
            text.contains(&format!("\n  {sub} ")),
            "{sub} missing from --help:\n{text}"
        );
    }
    assert!(
        text.contains("Exit codes: 0 ok, 1 refused by the server"),
        "{text}"
    );
    for sub in SUBCOMMANDS {
        let out = binary(home.path())
            .args(sub.split(' '))
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{sub} --help");
        assert!(
            text.contains(&format!("Usage: agent-id {sub}")),
            "{sub}:\n{text}"
        );
        assert!(
            text.contains("--server <URL>") && text.contains("--json"),
            "{sub}:\n{text}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 14] = [
        &[],
        &["no-such-command"],
        &["--server", "http://127.0.0.1:9", "register"],
        &["--server", "http://127.0.0.1:9", "claim", "accept"],
        &["--server", "http://127.0.0.1:9", "claim", "accept", "c1"],
        &[
            "--server",
            "http://127.0.0.1:9",
            "authorize",
            "--client-id",
            "c",
        ],
        &[
            "--server",
            "http://127.0.0.1:9",
            "authorize",
            "--client-id",
            "c",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--code-challenge",
            "x",
            "--code-challenge-method",
            "plain",
        ],
        &["--server", "http://127.0.0.1:9", "history", "--limit", "0"],
        &["--server", "127.0.0.1:9", "whoami"],
        &["--server", "https://id.example.com/v1", "whoami"],
        &["--server", "http://id.example.com", "whoami"],
        &["--server", "http://127.0.0.1:9", "whoami", "--no-such-flag"],
        &[
            "--server",
            "http://127.0.0.1:9",
            "authorize",
            "--client-id",
            "c",
            "--url",
            "http://127.0.0.1:9/v1/oauth/authorize?client_id=c",
        ],
        // Checked before anything is sent (port 9 is never contacted).
        &[
            "--server",
            "http://127.0.0.1:9",
            "authorize",
            "--url",
            "http://127.0.0.1:10/v1/oauth/authorize?client_id=c&redirect_uri=r&code_challenge=x",
        ],
    ];
    for args in cases {
        let out = binary(home.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let plain = binary(home.path())
        .args(["--server", "http://id.example.com", "whoami"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&plain.stderr).contains("loopback"));
}

#[test]
fn a_missing_server_is_a_usage_error_in_both_formats() {
    let home = tempfile::tempdir().unwrap();
    let human = binary(home.path()).arg("whoami").output().unwrap();
    assert_eq!(human.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(human.stderr).unwrap(),
        "agent-id: usage: no server: pass --server URL or set AGENT_ID_SERVER\n"
    );
    let json = binary(home.path())
        .args(["--json", "whoami"])
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&json.stderr).unwrap();
    assert_eq!(
        err,
        serde_json::json!({"error": {"kind": "usage",
            "message": "no server: pass --server URL or set AGENT_ID_SERVER"}})
    );
    // AGENT_ID_SERVER is the same as --server.
    let env = binary(home.path())
        .env("AGENT_ID_SERVER", "http://id.example.com")
        .arg("whoami")
        .output()
        .unwrap();
    assert_eq!(env.status.code(), Some(2));
}

#[test]
fn keygen_writes_a_0600_key_and_never_overwrites_it() {
    let home = tempfile::tempdir().unwrap();
    // The per-server default: $XDG_CONFIG_HOME/agent-id/<origin-slug>/key.jwk in a 0700 directory.
    let out = binary(home.path())
        .args(["--json", "--server", "http://127.0.0.1:8787", "keygen"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(keys(&shown), ["key_file", "public_key", "thumbprint"]);
    let path = home
        .path()
        .join("config/agent-id/http_127.0.0.1_8787/key.jwk");
    assert_eq!(shown["key_file"], path.display().to_string());
    assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
    let saved = fs::read(&path).unwrap();
    let jwk: Value = serde_json::from_slice(&saved).unwrap();
    assert_eq!(jwk["x"], shown["public_key"]);
    let secret = jwk["d"].as_str().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));

    let again = binary(home.path())
        .args(["--json", "--server", "http://127.0.0.1:8787", "keygen"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3));
    let err: Value = serde_json::from_slice(&again.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "local");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("refusing to overwrite"));
    assert_eq!(fs::read(&path).unwrap(), saved, "the key file was changed");

    // --key-file: anywhere, no server needed, same rules.
    let own = home.path().join("agent.jwk");
    let out = binary(home.path())
        .args(["keygen", "--key-file"])
        .arg(&own)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(mode(&own), 0o600);
    let again = binary(home.path())
        .args(["keygen", "--key-file"])
        .arg(&own)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3));
}

#[test]
fn key_files_open_to_others_or_altered_are_refused_with_exit_3() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("agent.jwk");
    let made = binary(home.path())
        .args(["keygen", "--key-file"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(made.status.success());
    // Port 9 (discard) is never contacted: the key is refused before any request.
    let login = |json: bool| {
        let mut cmd = binary(home.path());
        if json {
            cmd.arg("--json");
        }
        cmd.args(["--server", "http://127.0.0.1:9", "login", "--key-file"])
            .arg(&key)
            .output()
            .unwrap()
    };
    for bad in [0o644, 0o640, 0o604, 0o660, 0o602] {
        chmod(&key, bad);
        let out = login(false);
        assert_eq!(out.status.code(), Some(3), "mode {bad:o}");
        assert!(out.stdout.is_empty());
        let text = String::from_utf8(out.stderr).unwrap();
        assert!(
            text.contains(&key.display().to_string()) && text.contains("chmod 600"),
            "mode {bad:o}: {text}"
        );
        let err: Value = serde_json::from_slice(&login(true).stderr).unwrap();
        assert_eq!(err["error"]["kind"], "local");
    }
    chmod(&key, 0o600);
    let original = fs::read_to_string(&key).unwrap();
    let mut jwk: Value = serde_json::from_str(&original).unwrap();
    jwk["x"] = Value::from("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    for tampered in [jwk.to_string(), "not a key\n".to_owned(), String::new()] {
        fs::write(&key, tampered.as_bytes()).unwrap();
        let out = login(false);
        assert_eq!(out.status.code(), Some(3), "{tampered:?}");
        let text = String::from_utf8(out.stderr).unwrap();
        assert!(
            text.contains(&format!("key file {} is not usable", key.display())),
            "{text}"
        );
    }
}

#[test]
fn an_unreachable_server_is_a_local_error() {
    let home = tempfile::tempdir().unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let server = format!("http://127.0.0.1:{port}");
    assert!(binary(home.path())
        .args(["--server", &server, "keygen"])
        .output()
        .unwrap()
        .status
        .success());
    let out = binary(home.path())
        .args(["--json", "--server", &server, "login"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "local");
}

// --- the commands against the real App -----------------------------------------------------

#[test]
fn lifecycle_against_the_real_app() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);

    let generated = agent.ok(&["keygen"]);
    let key_path = agent.dir().join("key.jwk");
    assert_eq!(generated["key_file"], key_path.display().to_string());

    let registered = agent.ok(&["register", "--name", "CLI agent", "--description", "native"]);
    assert_eq!(keys(&registered), ["agent", "expires_at", "expires_in"]);
    assert_eq!(
        keys(&registered["agent"]),
        [
            "created_at",
            "description",
            "id",
            "name",
            "public_key",
            "updated_at"
        ]
    );
    let agent_id = registered["agent"]["id"].as_str().unwrap().to_owned();
    assert_eq!(registered["agent"]["public_key"], generated["public_key"]);
    assert_eq!(registered["agent"]["description"], "native");
    assert_eq!(registered["expires_in"], 1800);
    assert_eq!(mode(&agent.dir().join("session.json")), 0o600);

    let logged_in = agent.ok(&["login"]);
    assert_eq!(keys(&logged_in), ["agent_id", "expires_at", "expires_in"]);
    assert_eq!(logged_in["agent_id"], agent_id.as_str());

    let me = agent.ok(&["whoami"]);
    assert_eq!(keys(&me), ["agent", "subscription"]);
    assert_eq!(me["agent"]["id"], agent_id.as_str());
    assert_eq!(me["subscription"]["tier"], "FREE");

    assert_eq!(
        agent.ok(&["overseer"]),
        serde_json::json!({"overseer": null})
    );
    assert_eq!(
        agent.ok(&["history", "--limit", "5"]),
        serde_json::json!({"history": [], "next_cursor": null})
    );

    // Rotation: the old key (kept aside) is refused afterwards; the new one works.
    let old_key = agent.base.path().join("old.jwk");
    fs::copy(&key_path, &old_key).unwrap();
    let rotated = agent.ok(&["rotate"]);
    assert_eq!(
        keys(&rotated),
        [
            "agent",
            "expires_at",
            "expires_in",
            "previous_public_key",
            "public_key"
        ]
    );
    assert_eq!(rotated["previous_public_key"], generated["public_key"]);
    assert_ne!(rotated["public_key"], generated["public_key"]);
    assert_eq!(rotated["agent"]["public_key"], rotated["public_key"]);
    assert!(!agent.dir().join("key.next.jwk").exists());
    let refused = agent
        .json(&["login", "--key-file", old_key.to_str().unwrap()])
        .error(1);
    assert_eq!(refused["kind"], "refused");
    assert_eq!(
        (refused["status"].as_u64(), refused["code"].as_str()),
        (Some(401), Some("invalid_dpop_proof"))
    );
    assert_eq!(
        agent.ok(&["whoami"])["agent"]["public_key"],
        rotated["public_key"]
    );

    // Logout ends the session at the server and here.
    assert_eq!(
        agent.ok(&["logout"]),
        serde_json::json!({"logged_out": true})
    );
    assert!(!agent.dir().join("session.json").exists());
    let after = agent.json(&["whoami"]).error(3);
    assert!(
        after["message"]
            .as_str()
            .unwrap()
            .contains("agent-id login"),
        "{after}"
    );
}

#[test]
fn logout_of_a_session_the_server_already_ended_forgets_it() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    agent.ok(&["keygen"]);
    agent.ok(&["register", "--name", "twice logged out"]);
    let saved = fs::read(agent.dir().join("session.json")).unwrap();
    agent.ok(&["logout"]);
    // The same (now revoked) session saved again, as if the first logout's answer was lost.
    fs::write(agent.dir().join("session.json"), &saved).unwrap();
    chmod(&agent.dir().join("session.json"), 0o600);
    assert_eq!(
        agent.ok(&["logout"]),
        serde_json::json!({"logged_out": true})
    );
    assert!(!agent.dir().join("session.json").exists());
    agent.json(&["logout"]).error(3);
}

#[test]
fn refusals_exit_1_with_the_servers_code() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    agent.ok(&["keygen"]);
    agent.ok(&["register", "--name", "refused"]);

    let dup = agent.json(&["register", "--name", "again"]).error(1);
    assert_eq!(
        (dup["status"].as_u64(), dup["code"].as_str()),
        (Some(409), Some("duplicate_public_key"))
    );

    let claim = agent
        .json(&[
            "claim",
            "accept",
            "00000000-0000-4000-8000-000000000000",
            "--overseer-id",
            "00000000-0000-4000-8000-000000000001",
        ])
        .error(1);
    assert_eq!(
        (claim["status"].as_u64(), claim["code"].as_str()),
        (Some(404), Some("challenge_not_found"))
    );

    // An OAuth endpoint: the code is its `error`.
    let consent = agent
        .json(&[
            "authorize",
            "--client-id",
            "00000000-0000-4000-8000-000000000002",
            "--redirect-uri",
            "http://127.0.0.1:8790/callback",
            "--code-challenge",
            "E9Melhoa2OwvFrEMTJguCQaoeNE4dU3ufu3sb0Q4p6M",
        ])
        .error(1);
    assert_eq!(
        (consent["status"].as_u64(), consent["code"].as_str()),
        (Some(400), Some("invalid_request"))
    );

    // Human form: the status and code on stderr, nothing on stdout.
    let human = agent.run(&["register", "--name", "again"]);
    assert_eq!(human.code, 1);
    assert_eq!(human.stdout, "");
    assert!(
        human
            .stderr
            .starts_with("agent-id: refused by the server (409 duplicate_public_key): "),
        "{}",
        human.stderr
    );
}

#[test]
fn claim_and_consent_fall_back_to_a_dpop_proof_without_a_session() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    agent.ok(&["keygen"]);
    agent.ok(&["register", "--name", "no session"]);
    agent.ok(&["logout"]);
    let before = server.seen.borrow().len();
    // No session saved: the claim is attempted with a DPoP proof (and refused for the unknown
    // challenge, which shows the server identified the agent by its proof first).
    let claim = agent
        .json(&[
            "claim",
            "accept",
            "00000000-0000-4000-8000-000000000000",
            "--overseer-id",
            "00000000-0000-4000-8000-000000000001",
        ])
        .error(1);
    assert_eq!(claim["code"], "challenge_not_found");
    assert_eq!(server.seen.borrow().len(), before + 1);
}

#[test]
fn nonce_required_is_retried_once() {
    let server = InProcess::new(&[("DPOP_REQUIRE_NONCE", "true")]);
    let agent = Agent::new(&server);
    agent.ok(&["keygen"]);
    let agent_id = agent.ok(&["register", "--name", "nonce"])["agent"]["id"].clone();
    let before = server.seen.borrow().len();
    assert_eq!(agent.ok(&["login"])["agent_id"], agent_id);
    let logins: Vec<_> = server.seen.borrow()[before..].to_vec();
    assert_eq!(
        logins,
        vec![("POST".to_owned(), "/v1/agents/login".to_owned()); 2],
        "one refused proof without a nonce, one retry with it"
    );
    // Rotation completes with a proof too.
    agent.ok(&["rotate"]);
    assert_eq!(agent.ok(&["login"])["agent_id"], agent_id);
}

#[test]
fn secrets_are_never_printed() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    let mut runs = vec![agent.run(&["keygen"])];
    let jwk: Value =
        serde_json::from_slice(&fs::read(agent.dir().join("key.jwk")).unwrap()).unwrap();
    let secret = jwk["d"].as_str().unwrap().to_owned();
    runs.push(agent.run(&["register", "--name", "quiet"]));
    for args in [
        &["login"][..],
        &["whoami"],
        &["rotate"],
        &["overseer"],
        &["history"],
    ] {
        let session: Value =
            serde_json::from_slice(&fs::read(agent.dir().join("session.json")).unwrap()).unwrap();
        let token = session["session_id"].as_str().unwrap().to_owned();
        for json in [false, true] {
            let mut argv = if json { vec!["--json"] } else { vec![] };
            argv.extend_from_slice(args);
            let run = agent.run(&argv);
            assert_eq!(run.code, 0, "{args:?}: {run:?}");
            assert!(
                !run.stdout.contains(&token) && !run.stderr.contains(&token),
                "{args:?}"
            );
            runs.push(run);
        }
    }
    let jwk: Value =
        serde_json::from_slice(&fs::read(agent.dir().join("key.jwk")).unwrap()).unwrap();
    let rotated_secret = jwk["d"].as_str().unwrap().to_owned();
    for run in &runs {
        for s in [&secret, &rotated_secret] {
            assert!(
                !run.stdout.contains(s.as_str()) && !run.stderr.contains(s.as_str()),
                "{run:?}"
            );
        }
    }
}

#[test]
fn an_interrupted_rotation_is_recovered() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    agent.ok(&["keygen"]);
    agent.ok(&["register", "--name", "crashy"]);
    let key = agent.dir().join("key.jwk");
    let next = agent.dir().join("key.next.jwk");

    // Nothing pending.
    assert_eq!(
        agent.ok(&["rotate", "--recover"]),
        serde_json::json!({"recovery": "nothing_pending"})
    );

    // Crash after the server switched: the old key is still key.jwk, the new one key.next.jwk.
    let old = fs::read(&key).unwrap();
    let rotated = agent.ok(&["rotate"]);
    fs::rename(&key, &next).unwrap();
    fs::write(&key, &old).unwrap();
    chmod(&key, 0o600);
    let refused = agent.json(&["rotate"]).error(3);
    assert!(
        refused["message"].as_str().unwrap().contains("--recover"),
        "{refused}"
    );
    assert_eq!(
        agent.ok(&["rotate", "--recover"]),
        serde_json::json!({"recovery": "promoted"})
    );
    assert!(!next.exists());
    assert_eq!(
        agent.ok(&["whoami"])["agent"]["public_key"],
        rotated["public_key"]
    );

    // Crash before the server switched: key.next.jwk is a key the server never saw.
    let current = fs::read(&key).unwrap();
    let stray = agent.base.path().join("stray.jwk");
    assert_eq!(
        agent
            .run(&["keygen", "--key-file", stray.to_str().unwrap()])
            .code,
        0
    );
    fs::rename(&stray, &next).unwrap();
    assert_eq!(
        agent.ok(&["rotate", "--recover"]),
        serde_json::json!({"recovery": "discarded"})
    );
    assert!(!next.exists());
    assert_eq!(fs::read(&key).unwrap(), current);
    assert!(agent.ok(&["login"])["agent_id"].is_string());
}

#[test]
fn rotate_refuses_a_key_file_outside_the_state_directory() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    let run = agent.json(&["rotate", "--key-file", "/tmp/whatever.jwk"]);
    assert_eq!(run.error(2)["kind"], "usage");
    assert!(server.seen.borrow().is_empty());
}
