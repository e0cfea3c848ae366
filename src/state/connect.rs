//! Where the store lives and how it is reached: a SQLite file (the default)
//! or a PostgreSQL database. Both go through sqlx's `Any` driver, so every
//! query is written once (with `$N` placeholders, which SQLite reads too);
//! each backend keeps its own migrations, with the same tables and columns.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use super::{StateError, StateStore};

// Both are applied with `run_direct`, which is `run` on a connection already
// held: `run` itself makes the open future not `Send` ("implementation of
// `Acquire` is not general enough").
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("src/state/migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("src/state/migrations/postgres");

/// Connections of one process to a PostgreSQL store: runs, their heartbeats
/// and the server's readers share them.
const POSTGRES_CONNECTIONS: u32 = 8;
const SQLITE_CONNECTIONS: u32 = 4;
/// How long a query waits for a free connection, or for the server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The database behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A parsed `ENVCTL_STATE`.
#[derive(Debug, PartialEq)]
pub(crate) enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    pub(crate) fn parse(raw: &str) -> Result<Self, StateError> {
        if let Some(rest) = raw.strip_prefix("sqlite://") {
            Ok(Self::Sqlite(PathBuf::from(rest)))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(Self::Postgres(raw.to_string()))
        } else if raw.contains("://") {
            Err(StateError::Unsupported(redact(raw)))
        } else {
            Ok(Self::Sqlite(PathBuf::from(raw)))
        }
    }
}

/// `location` fit for messages and logs: the password of a URL, in its
/// user info or in a `password=` parameter, is replaced by `***`.
pub fn redact(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_string();
    };
    // The user info ends at the last '@': a password may hold an unescaped
    // '/', '?' or '@'. When in doubt this hides too much, never too little.
    let (user_info, host) = match rest.rsplit_once('@') {
        Some((info, host)) => {
            let user = match info.split_once(':') {
                Some((user, _password)) => format!("{user}:***@"),
                None => format!("{info}@"),
            };
            (user, host)
        }
        None => (String::new(), rest),
    };
    let host = match host.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => host.to_string(),
    };
    format!("{scheme}://{user_info}{host}")
}

impl StateStore {
    /// Opens (creating if needed) the store at `location`: a file path, a
    /// `sqlite://` URL, or a `postgres://` (`postgresql://`) URL of an
    /// existing database. Runs the migrations.
    pub async fn open(location: &str) -> Result<Self, StateError> {
        match Location::parse(location)? {
            Location::Sqlite(path) => Self::open_path(&path).await,
            Location::Postgres(url) => Self::open_postgres(&url).await,
        }
    }

    /// Opens (creating if needed) the SQLite store in the file `path`.
    pub async fn open_path(path: &Path) -> Result<Self, StateError> {
        sqlx::any::install_default_drivers();
        let location = path.display().to_string();
        let dir_err = |source| StateError::Dir {
            location: location.clone(),
            source,
        };
        let path = std::path::absolute(path).map_err(dir_err)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(dir_err)?;
        }
        let db = |source| StateError::Db {
            location: location.clone(),
            source,
        };
        let options =
            AnyConnectOptions::from_str(&format!("sqlite://{}?mode=rwc", url_path(&path)))
                .map_err(db)?;
        let pool = AnyPoolOptions::new()
            .max_connections(SQLITE_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // busy_timeout first: switching to WAL may wait on a writer.
                    conn.execute(
                        "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
                    )
                    .await
                    .map(drop)
                })
            })
            .connect_with(options)
            .await
            .map_err(db)?;
        let store = Self {
            pool,
            location,
            backend: Backend::Sqlite,
        };
        store.migrate_sqlite().await?;
        Ok(store)
    }

    async fn open_postgres(url: &str) -> Result<Self, StateError> {
        sqlx::any::install_default_drivers();
        let location = redact(url);
        let db = |source| StateError::Db {
            location: location.clone(),
            source,
        };
        let options = AnyConnectOptions::from_str(url).map_err(db)?;
        // The migrations run on a connection of their own, made once: a
        // server that is down or refuses us fails the open at once, where
        // the pool would retry until its timeout. They hold an advisory lock,
        // so processes opening a new database at once apply them once.
        let mut conn = AnyConnection::connect_with(&options).await.map_err(db)?;
        POSTGRES_MIGRATIONS
            .run_direct(None, &mut conn, false)
            .await
            .map_err(|source| StateError::Migrate {
                location: location.clone(),
                source,
            })?;
        conn.close().await.map_err(db)?;
        let pool = AnyPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            location,
            backend: Backend::Postgres,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Brings a SQLite store's schema up to date, inside one write
    /// transaction (`BEGIN IMMEDIATE`): of several processes opening a new
    /// file at once, the others wait and then find the migrations applied.
    async fn migrate_sqlite(&self) -> Result<(), StateError> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db_err(e))?;
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.db_err(e))?;
        SQLITE_MIGRATIONS
            .run_direct(None, &mut *tx, false)
            .await
            .map_err(|source| StateError::Migrate {
                location: self.location.clone(),
                source,
            })?;
        tx.commit().await.map_err(|e| self.db_err(e))
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// `path` (absolute) as the path of a `sqlite://` URL: everything but
/// unreserved characters and '/' percent-encoded.
fn url_path(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
