//! The shared store: PostgreSQL through the synchronous `postgres` crate.
//! Several trackers may use one database, each through its own
//! `StoreHandle`; this backend makes every primitive safe under that: queued
//! runs are claimed with `FOR UPDATE SKIP LOCKED`, fences come from a
//! sequence, job keys and ticks are unique in the schema, and the leader
//! lease row is locked by `check_leader` until the transaction ends.
//!
//! One connection per store: the store thread is the only user of it, and
//! group commit already batches callers, so a pool would add nothing. A lost
//! connection fails the transaction in hand and is re-opened at the next one.

mod listen;
mod schema;

pub use listen::{listen_work, WorkListener, WORK_CHANNEL};
#[cfg(test)]
pub(in crate::store) use schema::MIGRATIONS;
pub use schema::SCHEMA_VERSION;

use super::sql::{Dialect, SqlBackend, SqlRow, Statements, Tx, Value};
use super::{Journal, LogRecord, Result, StoreError};
use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Config, NoTls, Row, Statement};
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

/// How long opening a connection may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Notice a server that went away without closing the connection within
/// about half a minute, not the system's two hours, unless the URL says
/// otherwise (for the synchronous and the asynchronous client alike).
macro_rules! notice_dead_servers {
    ($config:expr) => {{
        let config = $config;
        if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(std::time::Duration::from_secs(10));
        }
        if config.get_keepalives_interval().is_none() {
            config.keepalives_interval(std::time::Duration::from_secs(5));
            config.keepalives_retries(3);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(std::time::Duration::from_secs(30));
        }
    }};
}
pub(crate) use notice_dead_servers;

/// How many consecutive fences one value of the `fence_blocks` sequence
/// stands for: `reserve_fences(n)` takes one value `v` and hands out
/// `v * FENCE_BLOCK ..`, so no two calls, in any tracker, overlap.
const FENCE_BLOCK: i64 = 1 << 16;

pub struct PostgresStore {
    client: Client,
    config: Config,
    /// The URL without its password, for messages.
    shown: String,
    statements: HashMap<String, Statement>,
    journal: Journal,
    /// The deadlock or serialization failure the transaction in progress
    /// met, if any: it is lost, whatever the operation did with the error.
    retryable: Option<StoreError>,
}

/// A `postgres` error as one line, with the server's message when it sent one.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

/// A `postgres` error as a `StoreError`: a deadlock or a serialization
/// failure is `Retryable`, since the same transaction run again may succeed.
fn backend(e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let retryable = e.code().is_some_and(|code| {
        *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE
    });
    if retryable {
        StoreError::Retryable(describe(&e))
    } else {
        StoreError::Backend(describe(&e))
    }
}

/// `url` with any password replaced, so that it can be logged.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Whether `store` names a PostgreSQL URL.
pub fn is_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

impl PostgresStore {
    fn reconnect(&mut self) -> Result<()> {
        tracing::warn!(store = %self.shown, "reconnecting to PostgreSQL");
        self.client = connect(&self.config, &self.shown)?;
        self.statements.clear();
        Ok(())
    }

    /// Connect to the database at `url` (`postgres://user@host:port/db`)
    /// and migrate it. Failing to parse, reach or log in is `StoreError::Open`.
    pub fn open(url: &str) -> Result<Self> {
        let shown = redact(url);
        let mut config: Config = url.parse().map_err(|e: postgres::Error| StoreError::Open {
            path: shown.clone(),
            reason: describe(&e),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("ltsd");
        }
        notice_dead_servers!(&mut config);
        let mut client = connect(&config, &shown)?;
        schema::migrate(&mut client, &shown)?;
        Ok(PostgresStore {
            client,
            config,
            shown,
            statements: HashMap::new(),
            journal: Journal::default(),
            retryable: None,
        })
    }

    /// A statement's error as a `StoreError`; a retryable one is kept, so
    /// that the actor learns of it even if the operation swallows it.
    fn failed(&mut self, e: postgres::Error) -> StoreError {
        let e = backend(e);
        if e.is_retryable() && self.retryable.is_none() {
            self.retryable = Some(e.clone());
        }
        e
    }

    /// A prepared statement for `sql`, prepared once per connection.
    fn stmt(&mut self, sql: &str) -> Result<Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let prepared = self.client.prepare(sql);
        let st = prepared.map_err(|e| self.failed(e))?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    fn simple(&mut self, sql: &str) -> Result<()> {
        let done = self.client.batch_execute(sql);
        done.map_err(|e| self.failed(e))
    }

    /// Begin a transaction, on a new connection if the last one was lost.
    fn start(&mut self) -> Result<()> {
        self.retryable = None;
        if self.client.is_closed() {
            // The connection was lost: the transaction that saw it failed;
            // this one starts on a new connection, or fails in turn.
            self.reconnect()?;
        }
        match self.simple("BEGIN") {
            // A connection the server dropped while idle (a restart) is
            // found only now, before anything was done: start again, once.
            Err(e) => {
                tracing::debug!(store = %self.shown, "BEGIN failed: {e}");
                self.reconnect()?;
                self.simple("BEGIN")
            }
            began => began,
        }
    }
}

fn connect(config: &Config, shown: &str) -> Result<Client> {
    let open = |e: postgres::Error| StoreError::Open {
        path: shown.to_string(),
        reason: describe(&e),
    };
    let mut client = config.connect(NoTls).map_err(open)?;
    // A tracker stopped (SIGSTOP) inside a transaction would hold its locks,
    // the leader lease row among them, for as long as it stays stopped. The
    // store thread never waits between a transaction's statements, so a
    // session idle in one for this long is such a tracker: end it.
    client
        .batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}"
        ))
        .map_err(open)?;
    Ok(client)
}

/// How long a session may sit idle inside a transaction before the server
/// ends it (and its locks).
const IDLE_IN_TRANSACTION_MS: u64 = 5_000;

/// How PostgreSQL spells what the shared statements leave open: rows read
/// to be written back are locked until commit, claims pass over rows
/// another tracker holds, and the planner picks indexes itself.
pub(in crate::store) const DIALECT: Dialect = Dialect {
    dollar_params: true,
    for_update: " FOR UPDATE",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    skip_locked_runs_and_jobs: " FOR UPDATE OF r, j SKIP LOCKED",
    json_ints:
        "SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST({} AS TEXT) AS JSON))",
    json_texts: "SELECT value FROM json_array_elements_text(CAST(CAST({} AS TEXT) AS JSON))",
    any_array: true,
    json_rows: "json_array_elements(CAST(CAST({} AS TEXT) AS JSON))",
    batch_rows: true,
    returning_id: " RETURNING id",
    indexed_by: false,
    instr: "strpos",
    firing: "state",
    not_firing: "NOT state",
};

static SQL: LazyLock<Statements> = LazyLock::new(|| Statements::new(&DIALECT));

/// Values take the type PostgreSQL inferred for the parameter: an integer
/// is written as INTEGER or BIGINT (out of range is an error, not a wrap),
/// text as TEXT or BYTEA.
impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(t) if *ty == Type::BYTEA => t.as_bytes().to_sql(ty, out),
            Value::Text(t) => t.as_ref().to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT2, Type::INT4, Type::INT8, Type::BOOL, Type::BYTEA].contains(ty)
            || <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

impl SqlRow for Row {
    fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        match self.columns().get(i).map(|c| c.type_()) {
            Some(&Type::INT4) => Ok(self
                .try_get::<_, Option<i32>>(i)
                .map_err(invalid)?
                .map(i64::from)),
            Some(&Type::INT2) => Ok(self
                .try_get::<_, Option<i16>>(i)
                .map_err(invalid)?
                .map(i64::from)),
            _ => self.try_get(i).map_err(invalid),
        }
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        if self.columns().get(i).map(|c| c.type_()) != Some(&Type::BYTEA) {
            return self.try_get(i).map_err(invalid);
        }
        let bytes: Option<Vec<u8>> = self.try_get(i).map_err(invalid)?;
        bytes
            .map(|b| {
                String::from_utf8(b).map_err(|e| StoreError::Invalid(format!("column {i}: {e}")))
            })
            .transpose()
    }

    fn flag(&self, i: usize) -> Result<bool> {
        self.try_get(i).map_err(invalid)
    }
}

/// A value that does not decode as its column's type.
fn invalid(e: postgres::Error) -> StoreError {
    StoreError::Invalid(describe(&e))
}

fn refs<'a>(params: &'a [Value<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

// Rows read to be written back (a job by id or key, a run by id, a worker's
// running runs) are read `FOR UPDATE`: another tracker's transaction on the
// same row waits for this one instead of overwriting it with what it read
// before (READ COMMITTED would let the last writer win).
impl SqlBackend for PostgresStore {
    fn statements(&self) -> &'static Statements {
        &SQL
    }

    fn query<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        decode: impl FnMut(&dyn SqlRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        let st = self.stmt(sql)?;
        let rows = self.client.query(&st, &refs(params));
        let rows = rows.map_err(|e| self.failed(e))?;
        rows.iter().map(|r| r as &dyn SqlRow).map(decode).collect()
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64> {
        let st = self.stmt(sql)?;
        let n = self.client.execute(&st, &refs(params));
        n.map_err(|e| self.failed(e))
    }

    fn insert_id(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Option<i64>> {
        self.query_opt(sql, params, |r| r.i64(0))
    }

    fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }

    fn transaction(&mut self, step: Tx) -> Result<()> {
        match step {
            Tx::Begin => self.start(),
            Tx::Commit => self.simple("COMMIT"),
            Tx::Rollback if self.client.is_closed() => Ok(()),
            Tx::Rollback => self.simple("ROLLBACK"),
            Tx::Savepoint => self.simple("SAVEPOINT op"),
            Tx::ReleaseSavepoint => self.simple("RELEASE SAVEPOINT op"),
            Tx::RollbackToSavepoint => self.simple("ROLLBACK TO SAVEPOINT op"),
        }
    }

    fn retryable(&self) -> Option<StoreError> {
        self.retryable.clone()
    }

    fn next_fences(&mut self, n: i64) -> Result<i64> {
        if !(0..=FENCE_BLOCK).contains(&n) {
            return Err(StoreError::Invalid(format!(
                "cannot reserve {n} fences at once (at most {FENCE_BLOCK})"
            )));
        }
        let block = self.query_one("SELECT nextval('fence_blocks')", &[], |r| r.i64(0))?;
        block
            .checked_mul(FENCE_BLOCK)
            .ok_or_else(|| StoreError::Invalid("the fence sequence is exhausted".into()))
    }

    fn next_alert_seq(&mut self) -> Result<i64> {
        self.query_one("SELECT nextval('alert_seq')", &[], |r| r.i64(0))
    }

    fn lock_alert_key(&mut self, key: &str) -> Result<()> {
        let sql = "SELECT pg_advisory_xact_lock(hashtext($1))";
        self.execute(sql, &[Value::from(key)]).map(drop)
    }

    fn insert_log_lines(&mut self, lines: &[LogRecord]) -> Result<()> {
        let run_ids: Vec<i64> = lines.iter().map(|l| l.run_id).collect();
        let seqs: Vec<i64> = lines.iter().map(|l| l.seq as i64).collect();
        let streams: Vec<&str> = lines.iter().map(|l| l.stream.as_str()).collect();
        let texts: Vec<&[u8]> = lines.iter().map(|l| l.line.as_bytes()).collect();
        let ats: Vec<i64> = lines.iter().map(|l| l.at).collect();
        let st = self.stmt(
            "INSERT INTO run_logs (run_id, seq, stream, line, at) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bytea[], \
             $5::bigint[]) ON CONFLICT DO NOTHING",
        )?;
        let done = self
            .client
            .execute(&st, &[&run_ids, &seqs, &streams, &texts, &ats]);
        done.map(drop).map_err(|e| self.failed(e))
    }

    fn delete_log_head(&mut self, run_id: i64, after_seq: u64, bytes: u64) -> Result<(u64, u64)> {
        // The oldest lines after `after_seq` up to the first that brings the
        // total to `bytes` (at least one line), as SQLite's loop does; a
        // line counts its bytes and its newline.
        let params = [
            Value::from(run_id),
            Value::from(after_seq),
            Value::from(bytes),
        ];
        self.query_one(
            "WITH l AS (SELECT seq, octet_length(line) + 1 AS len, \
                 sum(octet_length(line) + 1) OVER (ORDER BY seq) AS cum \
                 FROM run_logs WHERE run_id = $1 AND seq > $2), \
             d AS (DELETE FROM run_logs r USING l WHERE r.run_id = $1 AND r.seq = l.seq \
                 AND l.cum - l.len < greatest($3::bigint, 1) RETURNING l.len) \
             SELECT count(*), coalesce(sum(len), 0)::bigint FROM d",
            &params,
            |r| Ok((r.u64(0)?, r.u64(1)?)),
        )
    }
}
