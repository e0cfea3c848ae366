//! `env.value`: a literal value declared in the stack, for publishing
//! settings that no cloud resource produces (LOG_LEVEL, a public URL). It
//! creates nothing; its one output is its `value` property.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::schema::{KindProps, PropSchema};
use super::{Cx, Kind, KindError, OutputSpec, Outputs, Props};

/// The `env.value` kind.
pub struct EnvValue;

/// A literal value declared in the stack, for publishing settings no cloud
/// resource produces (LOG_LEVEL, a public URL); it creates nothing.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ValueProps {
    /// The value; it may hold `${id.output}` references.
    value: String,
}

impl KindProps for ValueProps {}

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<ValueProps>("env.value"));

#[async_trait]
impl Kind for EnvValue {
    fn name(&self) -> &'static str {
        "env.value"
    }
    fn api(&self) -> &'static str {
        "values"
    }
    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
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
        let p: ValueProps = SCHEMA.parse(props)?;
        Ok(Outputs::new().plain("value", p.value))
    }
    async fn delete(&self, _cx: &Cx, _out: &Outputs) -> Result<(), KindError> {
        Ok(())
    }
}
