//! Redirect-URI validation and matching, and `htu` normalisation.
//!
//! Input: `registered URI \n presented URI` (lossy UTF-8). Invariants: normalisation is idempotent
//! and yields an absolute `http(s)` URL with a path and no query; a registrable URI matches itself
//! and stays registrable-shaped when parameters are appended; a match is either the exact string
//! or the loopback port exception between two registrable `http` URIs.
#![no_main]

use agent_id::auth::dpop::normalize_htu;
use agent_id::oauth::redirect;
use agent_id_fuzz::split_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (registered, presented) = split_line(data);
    let registered = String::from_utf8_lossy(registered);
    let presented = String::from_utf8_lossy(presented);

    for uri in [&*registered, &*presented] {
        if let Some(n) = normalize_htu(uri) {
            assert!(n.starts_with("https://") || n.starts_with("http://"), "{n}");
            assert!(!n.contains(['?', '#']), "{n}");
            assert_eq!(
                normalize_htu(&n).as_deref(),
                Some(n.as_str()),
                "not idempotent: {uri:?}"
            );
        }
        if redirect::validate_registration(uri).is_ok() {
            assert!(uri.len() <= redirect::MAX_LEN);
            assert!(redirect::matches(&[uri.to_owned()], uri));
            let with = redirect::with_params(uri, &[("code", "a b&c=d"), ("state", "x#y")]);
            assert!(with.starts_with(uri));
            assert!(!with.contains('#') && !with.contains(' '));
        }
    }

    let registered_list = [registered.clone().into_owned()];
    if redirect::matches(&registered_list, &presented) && *registered != *presented {
        assert!(redirect::validate_registration(&presented).is_ok());
        assert!(redirect::validate_registration(&registered).is_ok());
        assert!(presented.starts_with("http://") && registered.starts_with("http://"));
    }
});
