//! The tenant list's cache: the tenant rows and each one's JSON, kept while
//! the state store's tenants change counter stays the same (triggers move it
//! on any change, by any process or replica) and for at most [`FRESH_FOR`]
//! (a view may hold values that move with the clock). A request pays one
//! indexed read of the counter; tenants with a run going on in this server
//! are serialized fresh, with their live progress.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;

use super::views::{RunView, TenantView};
use crate::state::{StateError, StateStore, TenantRow};

/// The longest a cached list is served without being rebuilt, even when no
/// tenant changed.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// One list as read at one counter value.
struct Snapshot {
    version: i64,
    built: Instant,
    rows: Vec<TenantRow>,
    /// Each tenant's JSON without an active run, in the rows' order.
    fragments: Vec<String>,
    /// The whole answer when no tenant has a run going on here.
    body: Bytes,
}

/// How the list answer is built around its items: the JSON before the first
/// item and after the last (from serializing an empty list).
pub struct Envelope {
    pub head: String,
    pub tail: String,
}

impl Envelope {
    /// Splits `empty`, the serialized list with no item, where the items go.
    pub fn of_empty(empty: &str) -> Self {
        let at = empty
            .find("[]")
            .expect("an empty list serializes with an empty array");
        Self {
            head: empty[..at + 1].to_string(),
            tail: empty[at + 1..].to_string(),
        }
    }

    fn join<'a>(&self, items: impl Iterator<Item = &'a str>, size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + size + self.tail.len());
        out.extend_from_slice(self.head.as_bytes());
        for (i, item) in items.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item.as_bytes());
        }
        out.extend_from_slice(self.tail.as_bytes());
        out
    }
}

pub struct TenantListCache {
    envelope: Envelope,
    current: RwLock<Option<Arc<Snapshot>>>,
    /// One rebuild at a time: requests that find the list stale together
    /// wait for one read of the store.
    rebuild: tokio::sync::Mutex<()>,
}

impl TenantListCache {
    pub fn new(envelope: Envelope) -> Self {
        Self {
            envelope,
            current: RwLock::new(None),
            rebuild: tokio::sync::Mutex::new(()),
        }
    }

    /// The list's JSON as of now: `view` makes a tenant's view from its row
    /// and its run going on (if any), `active` finds that run in this server.
    pub async fn body(
        &self,
        state: &StateStore,
        view: impl Fn(&TenantRow, Option<RunView>) -> TenantView,
        active: impl Fn(&str) -> Option<RunView>,
    ) -> Result<Bytes, StateError> {
        let snap = self.snapshot(state, &view).await?;
        let live: Vec<(usize, String)> = snap
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| {
                active(&row.name).map(|run| (i, serialize(&view(row, Some(run)))))
            })
            .collect();
        if live.is_empty() {
            return Ok(snap.body.clone());
        }
        let mut live = live.into_iter().peekable();
        let items = snap.fragments.iter().enumerate().map(|(i, cached)| {
            match live.next_if(|(at, _)| *at == i) {
                Some((_, fresh)) => std::borrow::Cow::Owned(fresh),
                None => std::borrow::Cow::Borrowed(cached.as_str()),
            }
        });
        let items: Vec<std::borrow::Cow<str>> = items.collect();
        let size = items.iter().map(|s| s.len() + 1).sum();
        Ok(Bytes::from(
            self.envelope.join(items.iter().map(|s| s.as_ref()), size),
        ))
    }

    /// The cached snapshot if the store's counter still matches and it is
    /// fresh; otherwise a new one read from the store.
    async fn snapshot(
        &self,
        state: &StateStore,
        view: &impl Fn(&TenantRow, Option<RunView>) -> TenantView,
    ) -> Result<Arc<Snapshot>, StateError> {
        let version = state.tenants_version().await?;
        if let Some(s) = self.fresh(version) {
            return Ok(s);
        }
        let _one = self.rebuild.lock().await;
        // Read the counter again: another request may have rebuilt meanwhile.
        let version = state.tenants_version().await?;
        if let Some(s) = self.fresh(version) {
            return Ok(s);
        }
        // The rows are read after the counter: they are at least as new as
        // it, so a later change always moves the counter past this one.
        let rows = state.tenants().await?;
        let fragments: Vec<String> = rows.iter().map(|r| serialize(&view(r, None))).collect();
        let size = fragments.iter().map(|f| f.len() + 1).sum();
        let body = Bytes::from(
            self.envelope
                .join(fragments.iter().map(String::as_str), size),
        );
        let snap = Arc::new(Snapshot {
            version,
            built: Instant::now(),
            rows,
            fragments,
            body,
        });
        *self.current.write().expect("list cache lock") = Some(snap.clone());
        Ok(snap)
    }

    fn fresh(&self, version: i64) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .expect("list cache lock")
            .as_ref()
            .filter(|s| s.version == version && s.built.elapsed() < FRESH_FOR)
            .cloned()
    }
}

fn serialize(v: &TenantView) -> String {
    serde_json::to_string(v).expect("views serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_wraps_items_as_the_list_serializes_them() {
        let e = Envelope::of_empty(r#"{"tenants":[]}"#);
        assert_eq!(e.join(["1", "2"].into_iter(), 4), br#"{"tenants":[1,2]}"#);
        assert_eq!(e.join(std::iter::empty(), 0), br#"{"tenants":[]}"#);
    }
}
