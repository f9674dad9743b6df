//! A stand-in for the web the service fetches Client ID Metadata Documents from: it answers
//! like workerd's `fetch` with `redirect: "manual"` (a 3xx comes back as it is, never
//! followed), returns at most `max_bytes + 1` bytes of a body (as the edge's capped read does),
//! a page marked `hang` never answers (the timeout), and an unknown host does not resolve.
//! Every request is recorded, so caching is observable.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;

use agent_id::cimd::fetch::{DocumentFetch, Fetched, Unreachable};

/// One URL's response.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub status: u16,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
    /// Never answers: the fetch times out.
    pub hang: bool,
}

impl Page {
    /// `200` with `body` as `application/json`.
    pub fn json(body: &Value) -> Self {
        Self {
            status: 200,
            content_type: Some("application/json".into()),
            body: body.to_string().into_bytes(),
            ..Self::default()
        }
    }

    pub fn cache_control(mut self, value: &str) -> Self {
        self.cache_control = Some(value.into());
        self
    }
}

#[derive(Default)]
pub struct FakeWeb {
    pages: RefCell<HashMap<String, Page>>,
    requests: RefCell<Vec<String>>,
}

impl FakeWeb {
    pub fn serve(&self, url: &str, page: Page) {
        self.pages.borrow_mut().insert(url.to_owned(), page);
    }

    pub fn serve_json(&self, url: &str, body: &Value) {
        self.serve(url, Page::json(body));
    }

    pub fn remove(&self, url: &str) {
        self.pages.borrow_mut().remove(url);
    }

    /// How many times `url` was fetched.
    pub fn hits(&self, url: &str) -> usize {
        self.requests.borrow().iter().filter(|u| *u == url).count()
    }

    /// Every URL fetched, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.borrow().clone()
    }
}

#[async_trait(?Send)]
impl DocumentFetch for FakeWeb {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<Fetched, Unreachable> {
        self.requests.borrow_mut().push(url.to_owned());
        let page = self
            .pages
            .borrow()
            .get(url)
            .cloned()
            .ok_or(Unreachable::Failed)?;
        if page.hang {
            return Err(Unreachable::Timeout);
        }
        let mut body = page.body;
        body.truncate(max_bytes + 1);
        Ok(Fetched {
            status: page.status,
            content_type: page.content_type,
            cache_control: page.cache_control,
            expires: page.expires,
            body,
        })
    }
}
