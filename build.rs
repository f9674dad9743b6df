//! Compiles `openapi/openapi.json` into the Worker minified: the committed file is indented for
//! people and diffs, the served document needs none of that whitespace, and every byte of it is
//! in the Worker's upload (README, "Bundle size and cold start"). Only whitespace between tokens
//! is dropped; strings, key order and numbers stay as committed.

use std::env;
use std::fs;
use std::path::Path;

fn main() {
    let source = "openapi/openapi.json";
    println!("cargo:rerun-if-changed={source}");
    let text = fs::read_to_string(source).expect("openapi/openapi.json is readable UTF-8");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.min.json");
    fs::write(out, minify(&text)).expect("OUT_DIR is writable");
}

/// JSON without the whitespace between tokens (RFC 8259 §2: space, tab, LF, CR).
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}
