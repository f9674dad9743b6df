//! The `text/event-stream` format (HTML Living Standard §9.2.6), enough for an MCP streamable-HTTP
//! response: events with `event`, `data` (multi-line joined with `\n`) and `id`; comments and
//! `retry` ignored.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `message` when the stream names none.
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

/// Parses a complete event-stream body. Lines end with CRLF, LF or CR; an event is dispatched at
/// a blank line (and a final unterminated event, which a closed stream also ends, is kept).
pub fn parse(body: &str) -> Vec<Event> {
    let mut events = Vec::new();
    let mut event = String::new();
    let mut data: Option<String> = None;
    let mut id = None;
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let normalized = body.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines = normalized.split('\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        if line.is_empty() {
            if let Some(d) = data.take() {
                let name = if event.is_empty() {
                    "message".to_owned()
                } else {
                    event.clone()
                };
                events.push(Event {
                    event: name,
                    data: d,
                    id: id.clone(),
                });
            }
            event.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => event = value.to_owned(),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            "id" if !value.contains('\0') => id = Some(value.to_owned()),
            _ => {}
        }
        if last {
            if let Some(d) = data.take() {
                let name = if event.is_empty() {
                    "message".to_owned()
                } else {
                    event.clone()
                };
                events.push(Event {
                    event: name,
                    data: d,
                    id: id.clone(),
                });
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_multiline_data_comments_and_crlf() {
        let body = ": keep-alive\r\nevent: message\r\nid: 1\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n\
                    data:plain\n\nretry: 10\nevent: other\ndata: x";
        let events = parse(body);
        assert_eq!(
            events,
            [
                Event {
                    event: "message".into(),
                    data: "{\"a\":\n1}".into(),
                    id: Some("1".into())
                },
                Event {
                    event: "message".into(),
                    data: "plain".into(),
                    id: Some("1".into())
                },
                Event {
                    event: "other".into(),
                    data: "x".into(),
                    id: Some("1".into())
                },
            ]
        );
        assert!(parse("event: ping\n\n").is_empty());
        assert!(parse("").is_empty());
    }
}
