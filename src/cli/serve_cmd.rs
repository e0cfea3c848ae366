//! `serve`: loads the server configuration and runs the HTTP server.

use std::path::PathBuf;

use super::BadInput;
use super::args::{Global, ServeArgs};
use super::setup;
use crate::engine::{Engine, ProgressSink, RetryPolicy};
use crate::serve::ServeConfig;

pub async fn serve(global: &Global, a: ServeArgs) -> anyhow::Result<()> {
    let path = a
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("envctl-serve.yaml"));
    // The server takes the domain from its configuration (`domain:`) or
    // ENVCTL_DOMAIN, where a resumed run finds it again.
    let env_domain = std::env::var(crate::stack::builtins::DOMAIN_ENV).ok();
    if global.domain.is_some() && global.domain != env_domain {
        return Err(BadInput(format!(
            "--domain: `envctl serve` takes the domain from `domain:` in its configuration \
             or from {}; set one of those instead",
            crate::stack::builtins::DOMAIN_ENV
        ))
        .into());
    }
    let config = ServeConfig::load(&path).map_err(|e| BadInput(format!("--config {e}")))?;
    let listen = a.listen.clone().unwrap_or_else(|| config.listen.clone());
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
        BadInput(format!(
            "--listen '{listen}': cannot listen there: {e}; give a free HOST:PORT such as 127.0.0.1:8080"
        ))
    })?;
    let state = setup::state(global).await?;
    let engine = Engine {
        backends: setup::backends(global).await?,
        state,
        policy: RetryPolicy::from_env(),
        cancel: tokio_util::sync::CancellationToken::new(),
        progress: ProgressSink::discard(),
        limit_overrides: Default::default(),
        parallelism: crate::engine::limits::DEFAULT_PARALLELISM,
    };
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to learn the port of `--listen HOST:0`.
    eprintln!("envctl serve: listening on http://{addr}");
    crate::serve::serve(crate::serve::app(config, engine), listener).await?;
    Ok(())
}
