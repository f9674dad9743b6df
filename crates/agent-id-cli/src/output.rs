//! What a command prints: one [`Output`] rendered for people (default) or as one JSON object on
//! stdout (`--json`), and failures rendered on stderr in the same two forms.
//!
//! The JSON field names are a contract (listed per command in `docs/cli.md`): each command builds
//! its JSON from a `Serialize` struct of its own, never from a server answer passed through
//! blindly, so a field appears only when this crate names it.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{json, Value};

use crate::exit::Failure;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// A command's result in both forms.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    human: String,
    json: Value,
}

impl Output {
    /// `value` becomes the JSON object; `human` is printed as is (a trailing newline is added).
    pub fn new(value: &impl Serialize, human: impl Into<String>) -> Result<Self, Failure> {
        let json = serde_json::to_value(value)
            .map_err(|err| Failure::local(format!("cannot encode the output as JSON: {err}")))?;
        Ok(Output {
            human: human.into(),
            json,
        })
    }

    pub fn json(&self) -> &Value {
        &self.json
    }

    pub fn human(&self) -> &str {
        &self.human
    }

    /// Writes the output to `out` in `format`.
    pub fn write(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Human => writeln!(out, "{}", self.human.trim_end_matches('\n')),
            Format::Json => writeln!(out, "{}", self.json),
        }
    }
}

/// Writes a failure to `err`: `agent-id: <message>` for people, or
/// `{"error": {"kind", "message"[, "status", "code"[, "request_id"]]}}` as one line of JSON.
pub fn write_failure(failure: &Failure, format: Format, err: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Human => writeln!(err, "agent-id: {failure}"),
        Format::Json => {
            let body = match failure {
                Failure::Refused {
                    status,
                    code,
                    message,
                    request_id,
                } => {
                    let mut body = json!({"kind": failure.kind(), "status": status, "code": code,
                                          "message": message});
                    if let Some(id) = request_id {
                        body["request_id"] = json!(id);
                    }
                    body
                }
                Failure::Protocol(message) | Failure::Usage(message) | Failure::Local(message) => {
                    json!({"kind": failure.kind(), "message": message})
                }
            };
            writeln!(err, "{}", json!({ "error": body }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_failure(failure: &Failure, format: Format) -> String {
        let mut buf = Vec::new();
        write_failure(failure, format, &mut buf).expect("write to a Vec");
        String::from_utf8(buf).expect("utf-8")
    }

    #[test]
    fn refusal_names_status_and_code_in_both_forms() {
        let failure = Failure::Refused {
            status: 401,
            code: "invalid_dpop_proof".into(),
            message: "proof key is not the agent's current key".into(),
            request_id: None,
        };
        let human = render_failure(&failure, Format::Human);
        assert_eq!(
            human,
            "agent-id: refused by the server (401 invalid_dpop_proof): proof key is not the agent's current key\n"
        );
        let json: Value = serde_json::from_str(&render_failure(&failure, Format::Json)).unwrap();
        assert_eq!(
            json,
            json!({"error": {"kind": "refused", "status": 401, "code": "invalid_dpop_proof",
                             "message": "proof key is not the agent's current key"}})
        );
    }

    #[test]
    fn local_failure_json_has_no_status_or_code() {
        let json: Value = serde_json::from_str(&render_failure(
            &Failure::local("key file is readable by others"),
            Format::Json,
        ))
        .unwrap();
        assert_eq!(
            json,
            json!({"error": {"kind": "local", "message": "key file is readable by others"}})
        );
    }

    #[test]
    fn output_is_one_line_of_json_or_the_human_text() {
        #[derive(Serialize)]
        struct Shown {
            agent_id: &'static str,
        }
        let output = Output::new(&Shown { agent_id: "a" }, "logged in as a\n").unwrap();
        let mut human = Vec::new();
        output.write(Format::Human, &mut human).unwrap();
        assert_eq!(human, b"logged in as a\n");
        let mut json = Vec::new();
        output.write(Format::Json, &mut json).unwrap();
        assert_eq!(json, b"{\"agent_id\":\"a\"}\n");
    }
}
