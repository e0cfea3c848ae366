//! For the engine's unit tests: an [`Engine`] on a throw-away SQLite state
//! whose AWS clients point nowhere (the `sim` kind never calls them), with
//! its progress events collected; for a whole `create`, the value store is
//! on a private moto server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedReceiver;

use super::Engine;
use super::progress::{Progress, ProgressSink};
use super::retry::RetryPolicy;
use crate::journal::{self, Journal, NodeState};
use crate::kinds::{Backends, Cx, Props};
use crate::state::StateStore;
use crate::tenant::TenantName;

pub const TENANT: &str = "walker";

#[path = "../../integration/support/moto.rs"]
mod moto;

pub struct Kit {
    pub engine: Engine,
    /// The moto server of [`engine_with_values`], stopped with the kit.
    _moto: Option<moto::Moto>,
    events: Mutex<(UnboundedReceiver<Progress>, Vec<Progress>)>,
    _dir: tempfile::TempDir,
}

/// A fast retry policy: polls every few milliseconds.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        min_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(5),
        max_retries: 3,
        attempt_timeout: std::time::Duration::from_secs(5),
        poll_min: std::time::Duration::from_millis(5),
        poll_max: std::time::Duration::from_millis(20),
    }
}

pub async fn engine() -> Kit {
    kit(None).await
}

/// [`engine`] whose value store is on a private moto server (started with
/// `integration/moto.sh`, as the end-to-end suites do), for tests that run
/// a whole `create`.
pub async fn engine_with_values() -> Kit {
    let moto = tokio::task::spawn_blocking(moto::Moto::start)
        .await
        .expect("start moto");
    kit(Some(moto)).await
}

async fn kit(moto: Option<moto::Moto>) -> Kit {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = StateStore::open_path(&dir.path().join("state.sqlite"))
        .await
        .expect("state store");
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let aws = crate::kinds::aws::AwsClients::from_config(&config);
    let values_s3 = match &moto {
        None => aws.s3.clone(),
        Some(m) => aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&m.sdk_config())
                .force_path_style(true)
                .build(),
        ),
    };
    let backends = Arc::new(Backends {
        values: crate::envapi::ValueStore::new(values_s3, "envctl-testkit-values"),
        aws,
        kube: crate::kinds::k8s::KubeClient::from_env(),
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    Kit {
        engine: Engine {
            backends,
            state,
            policy: fast_policy(),
            cancel: Default::default(),
            progress: ProgressSink::new(tx),
            limit_overrides: BTreeMap::new(),
            parallelism: 64,
        },
        events: Mutex::new((rx, Vec::new())),
        _moto: moto,
        _dir: dir,
    }
}

impl Kit {
    pub fn cx(&self, id: &str) -> Cx {
        Cx {
            tenant: TenantName::parse(TENANT).expect("tenant name"),
            stack: "test".into(),
            environment: "test".into(),
            resource_id: id.into(),
            expires_at: None,
            publish: Vec::new(),
            interrupted: false,
            pool: None,
            backends: self.engine.backends.clone(),
        }
    }

    pub fn journal(&self) -> Journal {
        Journal::new(self.engine.state.clone(), TENANT, "run-1", &BTreeMap::new())
    }

    /// The progress events sent so far.
    pub fn events(&self) -> Vec<Progress> {
        let mut guard = self.events.lock().expect("events");
        let (rx, seen) = &mut *guard;
        while let Ok(p) = rx.try_recv() {
            seen.push(p);
        }
        seen.clone()
    }

    pub async fn state_of(&self, id: &str) -> NodeState {
        self.record(id).await.state
    }

    pub async fn last_error(&self, id: &str) -> String {
        self.record(id).await.last_error.unwrap_or_default()
    }

    async fn record(&self, id: &str) -> journal::NodeRecord {
        let events = self.engine.state.events(TENANT).await.expect("events");
        journal::replay(&events)
            .expect("replay")
            .remove(id)
            .expect("journaled")
    }
}

/// Properties from string pairs.
pub fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect()
}
