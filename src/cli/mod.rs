//! Command-line parsing and output formatting, nothing else: each command
//! builds a request, hands it to the engine, the value store or the state,
//! and prints what comes back.

mod args;
mod env_cmd;
mod explain_cmd;
mod hibernate_cmd;
pub mod output;
mod pool_cmd;
pub mod progress;
mod reap_cmd;
mod release_cmd;
mod render_cmd;
mod rollout_cmd;
mod serve_cmd;
mod setup;
mod tenant_cmd;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;

/// Bad input: printed as is, exit code 2, nothing was created.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// `diff` found changes to apply (exit code 3, like `terraform plan
/// -detailed-exitcode`'s 2, which envctl keeps for bad input); the diff was
/// printed.
#[derive(Debug, thiserror::Error)]
#[error("changes to apply")]
pub struct ChangesPending;

/// The run itself failed (exit code 1); its report was already printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunFailed(pub String);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    setup::init_tracing(cli.global.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<ChangesPending>().is_some() {
                ExitCode::from(3)
            } else if let Some(bad) = e.downcast_ref::<BadInput>() {
                eprintln!("error: {bad}");
                ExitCode::from(2)
            } else if let Some(crate::engine::EngineError::Refused(why)) = e.downcast_ref() {
                // Refused before anything was done: bad input.
                eprintln!("error: {why}");
                ExitCode::from(2)
            } else if let Some(failed) = e.downcast_ref::<RunFailed>() {
                eprintln!("error: {failed}");
                ExitCode::from(1)
            } else {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    use args::{Command, EnvCommand, TenantTarget};
    let global = cli.global;
    match cli.command {
        Command::Create {
            target: TenantTarget::Tenant(a),
        } => tenant_cmd::create(&global, a).await,
        Command::Plan {
            target: TenantTarget::Tenant(a),
        } => tenant_cmd::plan(&global, a).await,
        Command::Destroy {
            target: args::DestroyTarget::Tenant(a),
        } => tenant_cmd::destroy(&global, a).await,
        Command::Get {
            target: args::GetTarget::Tenants(a),
        } => tenant_cmd::get_tenants(&global, a).await,
        Command::Get {
            target: args::GetTarget::Rollouts(a),
        } => rollout_cmd::get_rollouts(&global, a).await,
        Command::Get {
            target: args::GetTarget::Costs(a),
        } => tenant_cmd::get_costs(&global, a).await,
        Command::Describe {
            target: args::NamedTarget::Tenant(a),
        } => tenant_cmd::describe(&global, a).await,
        Command::Report {
            target: args::ReportTarget::Tenant(a),
        } => tenant_cmd::report(&global, a).await,
        Command::Render {
            target: TenantTarget::Tenant(a),
        } => render_cmd::render(&global, a).await,
        Command::Env { command } => match command {
            EnvCommand::Ls(a) => env_cmd::ls(&global, a).await,
            EnvCommand::Get(a) => env_cmd::get(&global, a).await,
            EnvCommand::Set(a) => env_cmd::set(&global, a).await,
            EnvCommand::Rm(a) => env_cmd::rm(&global, a).await,
        },
        Command::Extend {
            target: TenantTarget::Tenant(a),
        } => reap_cmd::extend(&global, a).await,
        Command::Protect {
            target: args::NamedTarget::Tenant(a),
        } => reap_cmd::protect(&global, a, true).await,
        Command::Unprotect {
            target: args::NamedTarget::Tenant(a),
        } => reap_cmd::protect(&global, a, false).await,
        Command::Reap(a) => reap_cmd::reap(&global, a).await,
        Command::Serve(a) => serve_cmd::serve(&global, a).await,
        Command::Hibernate {
            target: TenantTarget::Tenant(a),
        } => hibernate_cmd::hibernate(&global, a).await,
        Command::Wake {
            target: TenantTarget::Tenant(a),
        } => hibernate_cmd::wake(&global, a).await,
        Command::History {
            target: args::NamedTarget::Tenant(a),
        } => release_cmd::history(&global, a).await,
        Command::Diff {
            target: TenantTarget::Tenant(a),
        } => release_cmd::diff(&global, a).await,
        Command::Pin {
            target: TenantTarget::Tenant(a),
        } => release_cmd::pin(&global, a).await,
        Command::Unpin {
            target: args::NamedTarget::Tenant(a),
        } => release_cmd::unpin(&global, a).await,
        Command::Rollback {
            target: TenantTarget::Tenant(a),
        } => release_cmd::rollback(&global, a).await,
        Command::Rollout(a) => rollout_cmd::rollout(&global, a).await,
        Command::Get {
            target: args::GetTarget::Pools(a),
        } => pool_cmd::status(&global, a).await,
        Command::Pool { command } => match command {
            args::PoolCommand::Fill(a) => pool_cmd::fill(&global, a).await,
            args::PoolCommand::Status(a) => pool_cmd::status(&global, a).await,
            args::PoolCommand::Drain(a) => pool_cmd::drain(&global, a).await,
        },
        Command::Explain(a) => explain_cmd::explain(a),
        Command::Schema => explain_cmd::schema(),
    }
}
