//! `agent-id history`: the OAuth authorizations the agent gave (or that were refused), newest
//! first, one page at a time.

use agent_id_client::HistoryEntry;
use serde::Serialize;

use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entries per page (1..100; the server's default is 20).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: Option<u32>,
    /// Continue after a previous page (its `next_cursor`).
    #[arg(long)]
    pub cursor: Option<String>,
}

/// One entry (api.md 1.9's OAuth history entry, same field names).
#[derive(Debug, Serialize)]
struct Entry {
    id: String,
    client_id: String,
    client_name: Option<String>,
    scopes: Option<String>,
    status: String,
    reason: Option<String>,
    created_at: String,
    exchanged_at: Option<String>,
}

impl From<HistoryEntry> for Entry {
    fn from(e: HistoryEntry) -> Self {
        Self {
            id: e.id,
            client_id: e.client_id,
            client_name: e.client_name,
            scopes: e.scopes,
            status: e.status,
            reason: e.reason,
            created_at: e.created_at,
            exchanged_at: e.exchanged_at,
        }
    }
}

/// `--json`: `{"history": [...], "next_cursor": string | null}`.
#[derive(Debug, Serialize)]
struct Page {
    history: Vec<Entry>,
    next_cursor: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure> {
    let client = ctx.client()?;
    let session = ctx.session(&client)?;
    let page = client
        .history(&session, args.limit, args.cursor.as_deref())
        .await?;
    let shown = Page {
        history: page.entries.into_iter().map(Entry::from).collect(),
        next_cursor: page.next_cursor,
    };
    let mut human = match shown.history.is_empty() {
        true => "no OAuth authorizations".to_owned(),
        false => String::new(),
    };
    for e in &shown.history {
        let who = e.client_name.as_deref().unwrap_or(&e.client_id);
        let why = e
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        human.push_str(&format!(
            "{}  {}{why}  {who}  scope: {}\n",
            e.created_at,
            e.status,
            e.scopes.as_deref().unwrap_or("-")
        ));
    }
    if let Some(cursor) = &shown.next_cursor {
        human.push_str(&format!("more: agent-id history --cursor {cursor}"));
    }
    Output::new(&shown, human)
}
