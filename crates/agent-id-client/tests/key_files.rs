//! Key and state files on disk: modes, refusals with the file named, tampering, no overwrite.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;

use agent_id_client::{AgentKey, LocalError, Profile, Secret, ServerUrl, Session};

fn profile(dir: &std::path::Path) -> Profile {
    Profile::in_base(dir, &ServerUrl::parse("http://127.0.0.1:8787").unwrap())
}

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keys_are_saved_0600_in_a_0700_directory_per_origin() {
    let base = tempfile::tempdir().unwrap();
    let p = profile(base.path());
    let key = p.generate_key().unwrap();
    assert_eq!(p.dir(), base.path().join("http_127.0.0.1_8787"));
    assert_eq!(mode(&p.key_path()), 0o600);
    assert_eq!(mode(p.dir()), 0o700);
    assert_eq!(p.load_key().unwrap().public_b64(), key.public_b64());
    // The file holds the private JWK, and nothing else has the secret printed.
    let text = fs::read_to_string(p.key_path()).unwrap();
    assert!(text.contains(&key.public_b64()));
    assert!(!format!("{key:?}").contains("\"d\""));
}

#[test]
fn an_existing_key_is_never_overwritten() {
    let base = tempfile::tempdir().unwrap();
    let p = profile(base.path());
    let first = p.generate_key().unwrap();
    assert!(matches!(p.generate_key(), Err(LocalError::Exists { path }) if path == p.key_path()));
    // Nor through a symlink planted at the key's place.
    let other = tempfile::tempdir().unwrap();
    let q = profile(other.path());
    fs::create_dir_all(q.dir()).unwrap();
    fs::set_permissions(q.dir(), fs::Permissions::from_mode(0o700)).unwrap();
    let target = other.path().join("elsewhere");
    std::os::unix::fs::symlink(&target, q.key_path()).unwrap();
    assert!(matches!(q.generate_key(), Err(LocalError::Exists { .. })));
    assert!(!target.exists());
    assert_eq!(p.load_key().unwrap().public_b64(), first.public_b64());
}

#[test]
fn a_key_file_group_or_others_can_read_is_refused_naming_it_and_the_fix() {
    let base = tempfile::tempdir().unwrap();
    let p = profile(base.path());
    p.generate_key().unwrap();
    for m in [0o644, 0o640, 0o604, 0o660, 0o602] {
        fs::set_permissions(p.key_path(), fs::Permissions::from_mode(m)).unwrap();
        let err = p.load_key().unwrap_err();
        assert!(matches!(err, LocalError::Permissions { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&p.key_path().display().to_string()), "{msg}");
        assert!(msg.contains("chmod 600"), "{msg}");
    }
    fs::set_permissions(p.key_path(), fs::Permissions::from_mode(0o600)).unwrap();
    p.load_key().unwrap();
    // Session files too.
    let s = Session {
        token: Secret::new("session-token"),
        agent_id: "a".into(),
        expires_at: 1,
    };
    p.save_session(&s).unwrap();
    assert_eq!(mode(&p.session_path()), 0o600);
    fs::set_permissions(p.session_path(), fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        p.load_session(),
        Err(LocalError::Permissions { .. })
    ));
}

#[test]
fn a_tampered_or_garbled_key_file_is_a_typed_error_naming_the_file() {
    let base = tempfile::tempdir().unwrap();
    let p = profile(base.path());
    let key = p.generate_key().unwrap();
    let original = fs::read_to_string(p.key_path()).unwrap();
    let other = AgentKey::generate().unwrap().public_b64();
    for (text, reason) in [
        (original.replace(&key.public_b64(), &other), "tampered"),
        (original[..original.len() / 2].to_owned(), "garbled"),
        ("\u{0}\u{1}binary".to_owned(), "garbled"),
        (String::new(), "garbled"),
    ] {
        fs::write(p.key_path(), &text).unwrap();
        let err = p.load_key().unwrap_err();
        let LocalError::KeyFile { ref path, .. } = err else {
            panic!("{err:?}");
        };
        assert_eq!(path, &p.key_path());
        let msg = err.to_string();
        assert!(msg.contains(reason), "{msg}");
        assert!(msg.contains(&p.key_path().display().to_string()), "{msg}");
    }
}

#[test]
fn a_directory_open_to_others_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let p = profile(base.path());
    fs::create_dir_all(p.dir()).unwrap();
    fs::set_permissions(p.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let err = p.generate_key().unwrap_err();
    assert!(
        matches!(err, LocalError::DirectoryPermissions { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 700"));
    assert!(!p.key_path().exists());
}

#[test]
fn named_secrets_are_private_and_cannot_escape_the_directory() {
    let base = tempfile::tempdir().unwrap();
    let p = profile(base.path());
    p.write_secret("refresh-token.json", &Secret::new("rt-1"))
        .unwrap();
    p.write_secret("refresh-token.json", &Secret::new("rt-2"))
        .unwrap();
    assert_eq!(mode(&p.dir().join("refresh-token.json")), 0o600);
    assert_eq!(
        p.read_secret("refresh-token.json")
            .unwrap()
            .unwrap()
            .expose(),
        "rt-2"
    );
    // No temporary file is left behind by the atomic replacement.
    assert_eq!(fs::read_dir(p.dir()).unwrap().count(), 1);
    for bad in [
        "",
        "../x",
        "a/b",
        ".hidden",
        "key.jwk",
        "session.json",
        "UPPER",
    ] {
        assert!(p.write_secret(bad, &Secret::new("x")).is_err(), "{bad}");
    }
    p.remove_secret("refresh-token.json").unwrap();
    assert!(p.read_secret("refresh-token.json").unwrap().is_none());
}

#[test]
fn the_xdg_config_home_decides_the_base() {
    // Only this test touches the environment of this test binary.
    let base = tempfile::tempdir().unwrap();
    std::env::set_var("XDG_CONFIG_HOME", base.path());
    let server = ServerUrl::parse("https://id.example.com").unwrap();
    let p = Profile::for_server(&server).unwrap();
    assert_eq!(
        p.dir(),
        base.path().join("agent-id").join("https_id.example.com")
    );
    std::env::set_var("XDG_CONFIG_HOME", "relative/dir");
    std::env::set_var("HOME", base.path());
    let p = Profile::for_server(&server).unwrap();
    assert_eq!(
        p.dir(),
        base.path().join(".config/agent-id/https_id.example.com")
    );
}
