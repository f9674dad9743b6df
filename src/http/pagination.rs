//! `limit` / `cursor` pagination (api.md 1.8): newest first, opaque cursors encoding the
//! sort key of the last item.

use super::ApiError;
use crate::jose::b64;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// The largest cursor time: D1 binds integers as JS numbers, exact up to 2^53.
const MAX_CURSOR_MS: i64 = 1 << 53;

/// The position after which the next page starts: `(created_at_ms, id)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    created_at_ms: i64,
    id: String,
}

impl Cursor {
    pub fn new(created_at_ms: i64, id: &str) -> Self {
        Self {
            created_at_ms,
            id: id.to_owned(),
        }
    }

    pub fn encode(&self) -> String {
        b64::encode(format!("{}:{}", self.created_at_ms, self.id).as_bytes())
    }

    pub fn decode(s: &str) -> Option<Self> {
        let raw = String::from_utf8(b64::decode_strict(s)?).ok()?;
        let (ms, id) = raw.split_once(':')?;
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id {
            return None;
        }
        let ms = ms
            .parse()
            .ok()
            .filter(|ms| (0..=MAX_CURSOR_MS).contains(ms))?;
        Some(Self::new(ms, id))
    }

    pub fn parts(&self) -> (i64, String) {
        (self.created_at_ms, self.id.clone())
    }
}

/// The requested page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

impl Page {
    /// Reads `limit` (1..=100, default 20) and `cursor` from the query string.
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let mut page = Page {
            limit: DEFAULT_LIMIT,
            cursor: None,
        };
        for (k, v) in super::query::pairs(query.unwrap_or("")) {
            match k.as_str() {
                "limit" => {
                    page.limit = v
                        .parse::<i64>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            ApiError::invalid_field("limit", "must be an integer from 1 to 100")
                        })?;
                }
                "cursor" => {
                    page.cursor = Some(Cursor::decode(&v).ok_or_else(|| {
                        ApiError::invalid_field("cursor", "is not a valid cursor")
                    })?);
                }
                _ => {}
            }
        }
        Ok(page)
    }

    /// `(created_at_ms, id)` to page before: the cursor's, or past every row on the first page.
    pub fn before(&self) -> (i64, String) {
        self.cursor
            .as_ref()
            .map_or((MAX_CURSOR_MS, String::new()), Cursor::parts)
    }

    /// Cuts `rows` (fetched with `limit + 1`) to the page and computes the next cursor.
    pub fn split<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> Cursor,
    ) -> (Vec<T>, Option<String>) {
        let limit = usize::try_from(self.limit).unwrap_or(0);
        if rows.len() > limit {
            rows.truncate(limit);
            let next = rows.last().map(|r| key(r).encode());
            (rows, next)
        } else {
            (rows, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor::new(1_767_225_600_000, "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f");
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("!!"), None);
        assert_eq!(Cursor::decode(&b64::encode(b"abc")), None);
        assert_eq!(Cursor::decode(&b64::encode(b"12:x' OR 1=1")), None);
        // Times D1 could not bind exactly, and negative ones, are not cursors.
        assert_eq!(Cursor::decode(&b64::encode(b"9007199254740993:abc")), None);
        assert_eq!(Cursor::decode(&b64::encode(b"-1:abc")), None);
        assert!(Cursor::decode(&b64::encode(b"9007199254740992:abc")).is_some());
    }

    #[test]
    fn limits() {
        assert_eq!(Page::from_query(None).unwrap().limit, 20);
        assert_eq!(Page::from_query(Some("limit=100")).unwrap().limit, 100);
        for bad in ["limit=0", "limit=101", "limit=x", "cursor=%%%"] {
            assert!(Page::from_query(Some(bad)).is_err(), "{bad}");
        }
    }
}
