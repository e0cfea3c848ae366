//! `env.value`: a literal value declared in the stack, for publishing
//! settings that no cloud resource produces (LOG_LEVEL, a public URL). It
//! creates nothing; its one output is its `value` property.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Cx, Kind, KindError, OutputSpec, Outputs, PropSpec, Props, parse_props};

/// The `env.value` kind.
pub struct EnvValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueProps {
    value: String,
}

#[async_trait]
impl Kind for EnvValue {
    fn name(&self) -> &'static str {
        "env.value"
    }
    fn api(&self) -> &'static str {
        "values"
    }
    fn props(&self) -> &'static [PropSpec] {
        &[PropSpec {
            name: "value",
            required: true,
            doc: "the value (may hold ${id.output} references)",
        }]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[OutputSpec {
            name: "value",
            secret: false,
            doc: "the value",
        }]
    }
    /// Only the value store's put: tens of milliseconds.
    fn expected(&self) -> Duration {
        Duration::from_millis(100)
    }
    async fn apply(&self, _cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: ValueProps = parse_props(props)?;
        Ok(Outputs::new().plain("value", p.value))
    }
    async fn delete(&self, _cx: &Cx, _out: &Outputs) -> Result<(), KindError> {
        Ok(())
    }
}
