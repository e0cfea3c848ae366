//! Wiring shared by commands: logging, the state store, the AWS clients and
//! value store, an engine with Ctrl-C cancellation and a progress renderer.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::BadInput;
use super::args::Global;
use crate::engine::{Engine, ProgressSink, RetryPolicy};
use crate::envapi::ValueStore;
use crate::kinds::Backends;
use crate::kinds::aws::AwsClients;
use crate::kinds::k8s::KubeClient;
use crate::state::{StateStore, default_location};
use crate::tenant::TenantName;

pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{default},aws_config=warn,aws_smithy_runtime=warn"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Where the state store is: `--state`, else the default file.
pub fn state_location(global: &Global) -> String {
    global
        .state
        .clone()
        .unwrap_or_else(|| default_location().display().to_string())
}

pub async fn state(global: &Global) -> anyhow::Result<StateStore> {
    let location = state_location(global);
    StateStore::open(&location).await.map_err(|e| match e {
        crate::state::StateError::Unsupported(_) => BadInput(e.to_string()).into(),
        other => anyhow::Error::new(other),
    })
}

pub async fn backends(global: &Global) -> anyhow::Result<Arc<Backends>> {
    let aws = AwsClients::from_env()
        .await
        .map_err(|e| BadInput(e.to_string()))?;
    let values = ValueStore::for_installation(&aws, global.values_bucket.clone()).await?;
    Ok(Arc::new(Backends {
        aws,
        values,
        kube: KubeClient::from_env(),
    }))
}

pub fn tenant(name: &str) -> anyhow::Result<TenantName> {
    TenantName::parse(name).map_err(|e| BadInput(e.to_string()).into())
}

/// Parses `api=N` bounds from `--limit`.
pub fn limits(raw: &[String]) -> anyhow::Result<BTreeMap<String, usize>> {
    raw.iter()
        .map(|s| {
            let (api, n) = s.split_once('=').ok_or_else(|| {
                BadInput(format!("--limit '{s}': write API=N, e.g. --limit rds=2"))
            })?;
            let n: usize = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                BadInput(format!(
                    "--limit '{s}': N must be a positive integer, e.g. --limit rds=2"
                ))
            })?;
            Ok((api.to_string(), n))
        })
        .collect()
}

pub fn duration(flag: &str, raw: &str) -> anyhow::Result<std::time::Duration> {
    humantime::parse_duration(raw)
        .map_err(|e| BadInput(format!("{flag} '{raw}': {e}; write e.g. 15m, 90s, 7d")).into())
}

/// An engine whose runs stop cleanly on the first Ctrl-C; a second one exits
/// at once (the journal stays consistent: every write is one row).
pub async fn engine(
    global: &Global,
    state: StateStore,
    limit_overrides: BTreeMap<String, usize>,
    parallelism: usize,
) -> anyhow::Result<(Engine, tokio::task::JoinHandle<()>)> {
    let backends = backends(global).await?;
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted twice: exiting now; rerun the command to resume");
                std::process::exit(130);
            }
        }
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let renderer = tokio::spawn(super::progress::render(rx));
    let engine = Engine {
        backends,
        state,
        policy: RetryPolicy::from_env(),
        cancel,
        progress: ProgressSink::new(tx),
        limit_overrides,
        parallelism: parallelism.max(1),
    };
    Ok((engine, renderer))
}

/// The OS user running the command, the default owner of what it creates.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid-{}", nix::unistd::getuid()))
}

/// The stack's built-in values from the global options (`--domain`, whose
/// default is `ENVCTL_DOMAIN`).
pub fn builtins(global: &Global) -> crate::stack::Builtins {
    crate::stack::Builtins {
        domain: global.domain.clone().filter(|d| !d.trim().is_empty()),
    }
}
