//! Structured JSON log lines. Only ids, routes, statuses and durations are logged; never
//! session ids, proofs, tokens, signatures, passwords or secrets (security.md X3).

use serde::Serialize;

/// One line per request.
#[derive(Serialize)]
pub struct RequestLine<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub duration_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    level: &'a str,
    #[serde(flatten)]
    fields: T,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    request_id: &'a str,
    detail: &'a str,
}

pub fn request(line: &RequestLine<'_>) {
    emit(&Line {
        level: "info",
        fields: line,
    });
}

/// An internal failure; `detail` must not contain secrets (store and config errors never do).
pub fn error(request_id: &str, detail: &str) {
    emit(&Line {
        level: "error",
        fields: ErrorFields { request_id, detail },
    });
}

/// A noteworthy event outside the request line (webhook outcomes, deferred Paddle calls, the
/// cron job). `fields` must hold ids and outcomes only, never secrets or bodies.
pub fn info(fields: &serde_json::Value) {
    emit(&Line {
        level: "info",
        fields,
    });
}

/// A failure that does not change the response (deferred work, best-effort calls).
pub fn warn(fields: &serde_json::Value) {
    emit(&Line {
        level: "warn",
        fields,
    });
}

fn emit(line: &impl Serialize) {
    if let Ok(text) = serde_json::to_string(line) {
        write(&text);
    }
}

#[cfg(target_arch = "wasm32")]
fn write(text: &str) {
    worker::console_log!("{text}");
}

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    /// The lines [`capture`] is keeping on this thread, if it is.
    static CAPTURED: std::cell::RefCell<Option<Vec<String>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` and returns the log lines written on this thread meanwhile, kept instead of written
/// (tests: what the logs would carry).
#[cfg(not(target_arch = "wasm32"))]
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let outer = CAPTURED.with(|c| c.replace(Some(Vec::new())));
    let out = f();
    let lines = CAPTURED.with(|c| c.replace(outer)).unwrap_or_default();
    (out, lines)
}

#[cfg(not(target_arch = "wasm32"))]
fn write(text: &str) {
    let kept = CAPTURED.with(|c| match c.borrow_mut().as_mut() {
        Some(lines) => {
            lines.push(text.to_owned());
            true
        }
        None => false,
    });
    if !kept && std::env::var_os("AGENT_ID_LOG").is_some() {
        eprintln!("{text}");
    }
}
