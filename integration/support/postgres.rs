//! A PostgreSQL database of its own per test or bench, on the server named
//! by `ENVCTL_TEST_POSTGRES` (which `make test` starts), dropped at the end
//! (even when the test panics). Include with
//! `#[path = "support/postgres.rs"] mod postgres;`.
#![allow(dead_code)]

use std::str::FromStr;

use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};

pub const NO_POSTGRES: &str = "ENVCTL_TEST_POSTGRES is not set: these tests need a PostgreSQL \
     server. `make test` starts one and sets it; by hand: \
     `integration/postgres.sh start .local/pg-test 35432` and \
     `export ENVCTL_TEST_POSTGRES=$(integration/postgres.sh url .local/pg-test)`";

/// The database `<prefix>_<uuid>`; dropped with its connections on drop.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// Makes the database on `admin_url`'s server.
    pub async fn create_on(admin_url: &str, prefix: &str) -> Result<PgDatabase, sqlx::Error> {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await?;
        Ok(PgDatabase {
            admin_url: admin_url.to_string(),
            name,
        })
    }

    /// Makes the database on `ENVCTL_TEST_POSTGRES`'s server (panics
    /// without it, saying how to start one).
    pub async fn create(prefix: &str) -> PgDatabase {
        let admin_url = std::env::var("ENVCTL_TEST_POSTGRES").expect(NO_POSTGRES);
        PgDatabase::create_on(&admin_url, prefix)
            .await
            .unwrap_or_else(|e| panic!("ENVCTL_TEST_POSTGRES={admin_url}: {e}"))
    }

    pub fn url(&self) -> String {
        sqlx::postgres::PgConnectOptions::from_str(&self.admin_url)
            .expect("a PostgreSQL URL")
            .database(&self.name)
            .to_url_lossy()
            .to_string()
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot await (and may run inside a runtime): a thread of its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async {
                    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                    admin
                        .execute(AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await?;
                    admin.close().await
                })
        })
        .join();
    }
}
