//! Contract cases of the kinds that create nothing in a cloud: `sim.delay`,
//! `env.value` and `secret.password` (whose value the engine publishes).

use async_trait::async_trait;
use envctl::envapi::{EnvKey, Level};
use envctl::kinds::{Cx, Outputs, Props};
use serde_json::json;

use super::{Case, Footprint, Sweep, props};
use crate::support::kinds::{ENVIRONMENT, KindWorld};

pub static CASES: [&dyn Case; 3] = [&Delay, &Value, &Password];

struct Delay;

#[async_trait]
impl Case for Delay {
    fn kind_name(&self) -> &'static str {
        "sim.delay"
    }
    fn code(&self) -> &'static str {
        "sim"
    }
    fn identity(&self) -> &'static str {
        "id"
    }
    fn footprint(&self) -> Footprint {
        Footprint::Nothing("sim.delay only takes time")
    }
    fn sweep(&self) -> Sweep {
        Sweep::Never("sim.delay creates nothing to find")
    }
    async fn prepare(&self, _w: &KindWorld, _cx: &mut Cx) -> Props {
        props(json!({"duration": "10ms", "value": "v"}))
    }
}

struct Value;

#[async_trait]
impl Case for Value {
    fn kind_name(&self) -> &'static str {
        "env.value"
    }
    fn code(&self) -> &'static str {
        "val"
    }
    fn identity(&self) -> &'static str {
        "value"
    }
    fn footprint(&self) -> Footprint {
        Footprint::Nothing("env.value's one output is its property")
    }
    fn sweep(&self) -> Sweep {
        Sweep::Never("the engine deletes the tenant's published values")
    }
    async fn prepare(&self, _w: &KindWorld, _cx: &mut Cx) -> Props {
        props(json!({"value": "info"}))
    }
}

struct Password;

#[async_trait]
impl Case for Password {
    fn kind_name(&self) -> &'static str {
        "secret.password"
    }
    fn code(&self) -> &'static str {
        "pw"
    }
    fn identity(&self) -> &'static str {
        "value"
    }
    fn footprint(&self) -> Footprint {
        Footprint::Nothing("the password lives only where the engine publishes it")
    }
    fn sweep(&self) -> Sweep {
        Sweep::Never("the engine deletes the tenant's published values")
    }
    async fn prepare(&self, w: &KindWorld, cx: &mut Cx) -> Props {
        cx.publish = vec![home(w)];
        props(json!({}))
    }
    /// The engine publishes the value; the next apply adopts it.
    async fn after_apply(&self, w: &KindWorld, _cx: &Cx, out: &Outputs) {
        let value = out.get("value").expect("a value output");
        assert!(value.is_secret(), "the password output is not secret");
        w.backends
            .values
            .put(&home(w), value.expose(), true)
            .await
            .expect("publish the password");
    }
}

fn home(w: &KindWorld) -> EnvKey {
    EnvKey::new(
        ENVIRONMENT,
        Some(w.tenant.as_str()),
        Level::Tenant,
        "DB_PASSWORD",
    )
    .unwrap()
}
