//! `env ls|get|set|rm`: the environment-value store from the command line.

use std::io::Read;

use serde::Serialize;

use super::args::{EnvGetArgs, EnvKeyArgs, EnvScope, EnvSetArgs, Global};
use super::output;
use super::{BadInput, setup};
use crate::envapi::{EnvKey, Level, ValueStore};

fn store(backends: &crate::kinds::Backends) -> &ValueStore {
    &backends.values
}

fn address(a: &EnvKeyArgs) -> anyhow::Result<EnvKey> {
    if let Some(t) = &a.tenant {
        setup::tenant(t)?;
    }
    let level = match (&a.tenant, &a.service) {
        (Some(_), Some(s)) => Level::Service(s.clone()),
        (Some(_), None) => Level::Tenant,
        (None, _) => Level::Environment,
    };
    EnvKey::new(&a.environment, a.tenant.as_deref(), level, &a.key)
        .map_err(|e| BadInput(e.to_string()).into())
}

fn check_scope(s: &EnvScope) -> anyhow::Result<()> {
    if let Some(t) = &s.tenant {
        setup::tenant(t)?;
    }
    let level = match (&s.tenant, &s.service) {
        (Some(_), Some(svc)) => Level::Service(svc.clone()),
        (Some(_), None) => Level::Tenant,
        (None, _) => Level::Environment,
    };
    EnvKey::new(&s.environment, s.tenant.as_deref(), level, "X")
        .map_err(|e| BadInput(e.to_string()))?;
    Ok(())
}

#[derive(Serialize)]
struct Listed {
    key: String,
    level: String,
    object: String,
}

pub async fn ls(global: &Global, a: EnvScope) -> anyhow::Result<()> {
    check_scope(&a)?;
    let backends = setup::backends(global).await?;
    let keys = store(&backends)
        .list(&a.environment, a.tenant.as_deref(), a.service.as_deref())
        .await?;
    let listed: Vec<Listed> = keys
        .iter()
        .map(|k| Listed {
            key: k.key.clone(),
            level: k.level.describe(),
            object: k.object_key(),
        })
        .collect();
    output::print(a.output, &listed, || {
        output::table(
            &["key", "level", "object"],
            listed
                .iter()
                .map(|l| vec![l.key.clone(), l.level.clone(), l.object.clone()])
                .collect(),
        )
    });
    Ok(())
}

#[derive(Serialize)]
struct Shown {
    key: String,
    value: String,
    secret: bool,
    from: String,
}

pub async fn get(global: &Global, a: EnvGetArgs) -> anyhow::Result<()> {
    check_scope(&a.scope)?;
    let backends = setup::backends(global).await?;
    let s = &a.scope;
    let merged = store(&backends)
        .merged(&s.environment, s.tenant.as_deref(), s.service.as_deref())
        .await?;
    let shown: Vec<Shown> = merged
        .iter()
        .filter(|(k, _)| a.key.as_ref().is_none_or(|want| want == *k))
        .map(|(k, (v, level))| Shown {
            key: k.clone(),
            value: v.shown(a.reveal),
            secret: v.secret,
            from: level.describe(),
        })
        .collect();
    if let Some(k) = &a.key
        && shown.is_empty()
    {
        return Err(BadInput(format!(
            "{k} is not set for environment {}{}; see `envctl env ls`",
            s.environment,
            s.tenant
                .as_deref()
                .map(|t| format!(", tenant {t}"))
                .unwrap_or_default()
        ))
        .into());
    }
    output::print(s.output, &shown, || {
        output::table(
            &["key", "value", "from"],
            shown
                .iter()
                .map(|v| vec![v.key.clone(), v.value.clone(), v.from.clone()])
                .collect(),
        )
    });
    Ok(())
}

pub async fn set(global: &Global, a: EnvSetArgs) -> anyhow::Result<()> {
    let key = address(&a.at)?;
    let value = if a.value == "-" {
        let mut v = String::new();
        std::io::stdin().read_to_string(&mut v)?;
        v.trim_end_matches('\n').to_string()
    } else {
        a.value.clone()
    };
    let backends = setup::backends(global).await?;
    let store = store(&backends);
    store.ensure_bucket().await?;
    store.put(&key, &value, a.secret).await?;
    eprintln!("set {} ({})", key.object_key(), key.level.describe());
    Ok(())
}

pub async fn rm(global: &Global, a: EnvKeyArgs) -> anyhow::Result<()> {
    let key = address(&a)?;
    let backends = setup::backends(global).await?;
    store(&backends).delete(&key).await?;
    eprintln!("removed {}", key.object_key());
    Ok(())
}
