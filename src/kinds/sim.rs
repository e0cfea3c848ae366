//! `sim.delay`: a resource that only takes time. It exists for benchmarks
//! (latencies from a table of real AWS timings, scaled down) and for tests
//! that need a slow node, a node that fails, or one that is throttled a few
//! times before it succeeds; and, on deletion, a node that takes a while to
//! go away ([`Kind::gone`] stays pending) or whose delete fails; and one
//! that stays not ready until a test says so ([`open_gate`]), or whose
//! readiness fails. It creates nothing anywhere.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::schema::{KindProps, PropSchema, is_ref};
use super::{Cx, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, parse_props};

pub struct Delay;

/// A resource that only takes time, for benchmarks and tests; it creates
/// nothing anywhere.
///
/// Apply sleeps `duration`, may be throttled `transient_failures` times
/// first or fail for good with `fail`; delete may take `delete_duration`
/// to go away or fail with `delete_error`. Durations are humantime's
/// (`250ms`, `2s`, `1m 30s`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DelayProps {
    /// How long apply takes, e.g. `250ms`, `2s`; absent: no wait.
    #[serde(default)]
    duration: Option<String>,
    /// Fail permanently (to test failure handling and rollback); default
    /// false.
    #[serde(default)]
    fail: bool,
    /// Fail with a throttling error this many times first (to test
    /// retries); default 0.
    #[serde(default)]
    transient_failures: u32,
    /// Echoed as the `value` output; default empty.
    #[serde(default)]
    value: Option<String>,
    /// How long the resource takes to go away after `delete`, e.g. `2s`
    /// (kept as the `delete_duration` output, since destroy only has the
    /// journaled outputs); absent: gone at once.
    #[serde(default)]
    delete_duration: Option<String>,
    /// `delete` fails for good with this message (kept as the
    /// `delete_error` output); absent: delete succeeds.
    #[serde(default)]
    delete_error: Option<String>,
    /// Readiness stays pending until this gate is opened (by a test, with
    /// `sim::open_gate`); kept as the `ready_gate` output. Absent: ready
    /// once applied.
    #[serde(default)]
    ready_gate: Option<String>,
    /// Readiness fails for good with this message (once the gate is open,
    /// if there is one); kept as the `ready_error` output.
    #[serde(default)]
    ready_error: Option<String>,
}

impl KindProps for DelayProps {
    /// Durations are humantime's syntax (what apply and `gone` parse).
    fn check(&self) -> Vec<PropIssue> {
        [
            ("duration", &self.duration),
            ("delete_duration", &self.delete_duration),
        ]
        .into_iter()
        .filter_map(|(field, value)| {
            let d = value.as_deref().filter(|d| !is_ref(d))?;
            let e = humantime::parse_duration(d).err()?;
            Some(PropIssue::new(
                &[field],
                format!("is not a duration ({e}); write e.g. `250ms`, `2s` or `1m 30s`"),
            ))
        })
        .collect()
    }
}

const NAME: &str = "sim.delay";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<DelayProps>(NAME));

/// Transient failures left per tenant/resource, for `transient_failures`.
static THROTTLES: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

/// When `delete` was first called, per tenant/resource, for `delete_duration`.
static DELETING: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

/// Gates opened so far, for `ready_gate`.
static GATES: Mutex<Option<std::collections::HashSet<String>>> = Mutex::new(None);

/// Opens the gate `name`: `sim.delay` resources with `ready_gate: name`
/// become ready (or fail, with `ready_error`) at their next poll.
pub fn open_gate(name: &str) {
    GATES
        .lock()
        .expect("gate table")
        .get_or_insert_with(Default::default)
        .insert(name.to_string());
}

fn gate_open(name: &str) -> bool {
    GATES
        .lock()
        .expect("gate table")
        .as_ref()
        .is_some_and(|g| g.contains(name))
}

fn key(cx: &Cx) -> String {
    format!("{}/{}", cx.tenant, cx.resource_id)
}

fn parse_duration(d: &str) -> Result<Duration, KindError> {
    humantime::parse_duration(d).map_err(|e| KindError::Permanent(format!("duration '{d}': {e}")))
}

#[async_trait]
impl Kind for Delay {
    fn name(&self) -> &'static str {
        NAME
    }
    fn api(&self) -> &'static str {
        "sim"
    }
    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "id",
                secret: false,
                doc: "<tenant>/<resource id>",
            },
            OutputSpec {
                name: "value",
                secret: false,
                doc: "the `value` property",
            },
            OutputSpec {
                name: "delete_duration",
                secret: false,
                doc: "the `delete_duration` property (when set)",
            },
            OutputSpec {
                name: "delete_error",
                secret: false,
                doc: "the `delete_error` property (when set)",
            },
            OutputSpec {
                name: "ready_gate",
                secret: false,
                doc: "the `ready_gate` property (when set)",
            },
            OutputSpec {
                name: "ready_error",
                secret: false,
                doc: "the `ready_error` property (when set)",
            },
        ]
    }
    fn expected(&self) -> Duration {
        Duration::from_secs(1)
    }
    /// Apply is all of it: readiness is immediate (unless a test gates it).
    fn apply_share(&self) -> f64 {
        1.0
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: DelayProps = parse_props(props)?;
        if p.transient_failures > 0 {
            let key = key(cx);
            let mut guard = THROTTLES.lock().expect("throttle table");
            let left = guard
                .get_or_insert_with(HashMap::new)
                .entry(key)
                .or_insert(p.transient_failures);
            if *left > 0 {
                *left -= 1;
                return Err(KindError::Transient(
                    "ThrottlingException: Rate exceeded (simulated)".into(),
                ));
            }
        }
        if let Some(d) = &p.duration {
            tokio::time::sleep(parse_duration(d)?).await;
        }
        if let Some(d) = &p.delete_duration {
            parse_duration(d)?;
        }
        if p.fail {
            return Err(KindError::Permanent(
                "simulated failure (fail: true)".into(),
            ));
        }
        let mut out = Outputs::new()
            .plain("id", key(cx))
            .plain("value", p.value.unwrap_or_default());
        if let Some(d) = p.delete_duration {
            out = out.plain("delete_duration", d);
        }
        if let Some(e) = p.delete_error {
            out = out.plain("delete_error", e);
        }
        if let Some(g) = p.ready_gate {
            out = out.plain("ready_gate", g);
        }
        if let Some(e) = p.ready_error {
            out = out.plain("ready_error", e);
        }
        Ok(out)
    }

    /// Pending while its `ready_gate` is closed; then failed with
    /// `ready_error`, or ready.
    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        if let Some(g) = out.get("ready_gate")
            && !gate_open(g.expose())
        {
            return Ok(Readiness::Pending(format!(
                "{} waits for gate {}",
                cx.resource_id,
                g.expose()
            )));
        }
        if let Some(e) = out.get("ready_error") {
            return Err(KindError::Permanent(e.expose().to_string()));
        }
        Ok(Readiness::Ready)
    }

    /// Starts going away: gone once `delete_duration` has passed since the
    /// first call.
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        if let Some(e) = out.get("delete_error") {
            return Err(KindError::Permanent(e.expose().to_string()));
        }
        if out.get("delete_duration").is_some() {
            let mut guard = DELETING.lock().expect("deleting table");
            guard
                .get_or_insert_with(HashMap::new)
                .entry(key(cx))
                .or_insert_with(Instant::now);
        }
        Ok(())
    }

    async fn gone(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let Some(d) = out.get("delete_duration") else {
            return Ok(Readiness::Ready);
        };
        let d = parse_duration(d.expose())?;
        let mut guard = DELETING.lock().expect("deleting table");
        let table = guard.get_or_insert_with(HashMap::new);
        let Some(since) = table.get(&key(cx)).copied() else {
            return Ok(Readiness::Ready);
        };
        let elapsed = since.elapsed();
        if elapsed >= d {
            table.remove(&key(cx));
            return Ok(Readiness::Ready);
        }
        Ok(Readiness::Pending(format!(
            "{} is going away ({} left)",
            cx.resource_id,
            crate::budget::fmt_duration(d - elapsed)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(v: serde_json::Value) -> Vec<String> {
        Delay
            .check(v.as_object().unwrap())
            .into_iter()
            .map(|i| format!("{}: {}", i.path.join("."), i.message))
            .collect()
    }

    #[test]
    fn wrong_types_bad_durations_and_unknown_fields_name_the_field() {
        assert!(issues(serde_json::json!({"duration": "250ms", "fail": false})).is_empty());
        let m = issues(serde_json::json!({"fail": "yes"}));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("fail: must be true or false"), "{m:?}");
        let m = issues(serde_json::json!({"transient_failures": -1}));
        assert!(m[0].starts_with("transient_failures: is -1"), "{m:?}");
        let m = issues(serde_json::json!({"delete_duration": "soon"}));
        assert!(
            m[0].starts_with("delete_duration: is not a duration"),
            "{m:?}"
        );
        assert!(issues(serde_json::json!({"duration": "${a.b}"})).is_empty());
    }
}
