//! `sim.delay`: a resource that only takes time. It exists for benchmarks
//! (latencies from a table of real AWS timings, scaled down) and for tests
//! that need a slow node, a node that fails, or one that is throttled a few
//! times before it succeeds. It creates nothing anywhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Cx, Kind, KindError, OutputSpec, Outputs, PropSpec, Props, parse_props};

pub struct Delay;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DelayProps {
    /// How long apply takes, e.g. `250ms`, `2s`.
    #[serde(default)]
    duration: Option<String>,
    /// Fail permanently (to test failure handling and rollback).
    #[serde(default)]
    fail: bool,
    /// Fail with a throttling error this many times first (to test retries).
    #[serde(default)]
    transient_failures: u32,
    /// Echoed as the `value` output.
    #[serde(default)]
    value: Option<String>,
}

/// Transient failures left per tenant/resource, for `transient_failures`.
static THROTTLES: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

#[async_trait]
impl Kind for Delay {
    fn name(&self) -> &'static str {
        "sim.delay"
    }
    fn api(&self) -> &'static str {
        "sim"
    }
    fn props(&self) -> &'static [PropSpec] {
        &[
            PropSpec {
                name: "duration",
                required: false,
                doc: "how long apply takes (e.g. 2s)",
            },
            PropSpec {
                name: "fail",
                required: false,
                doc: "fail permanently",
            },
            PropSpec {
                name: "transient_failures",
                required: false,
                doc: "throttle this many times before succeeding",
            },
            PropSpec {
                name: "value",
                required: false,
                doc: "echoed as the `value` output",
            },
        ]
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
        ]
    }
    fn expected(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: DelayProps = parse_props(props)?;
        if p.transient_failures > 0 {
            let key = format!("{}/{}", cx.tenant, cx.resource_id);
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
            let d = humantime::parse_duration(d)
                .map_err(|e| KindError::Permanent(format!("duration '{d}': {e}")))?;
            tokio::time::sleep(d).await;
        }
        if p.fail {
            return Err(KindError::Permanent(
                "simulated failure (fail: true)".into(),
            ));
        }
        Ok(Outputs::new()
            .plain("id", format!("{}/{}", cx.tenant, cx.resource_id))
            .plain("value", p.value.unwrap_or_default()))
    }

    async fn delete(&self, _cx: &Cx, _out: &Outputs) -> Result<(), KindError> {
        Ok(())
    }
}
