//! PostgreSQL for the tests: the server named by `LTS_TEST_PG` (a URL such
//! as `postgres://postgres@127.0.0.1:5432/test`), a fresh database per test,
//! dropped afterwards. Without the variable the tests say so in one line and
//! pass, unless `LTS_REQUIRE_PG=1` (as `.ci/run` sets), which fails them.

#![allow(dead_code)]

pub const SKIPPED: &str = "SKIPPED: LTS_TEST_PG is not set; PostgreSQL contract tests did not run";

fn required() -> bool {
    std::env::var("LTS_REQUIRE_PG").is_ok_and(|v| v == "1")
}

/// The server's URL, or `None` (after saying so) when tests should skip.
pub fn server() -> Option<String> {
    match std::env::var("LTS_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !required(),
                "LTS_REQUIRE_PG=1 but LTS_TEST_PG is not set: PostgreSQL tests cannot run"
            );
            println!("{SKIPPED}");
            None
        }
    }
}

/// `url` pointing at database `db` instead of its own.
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .expect("LTS_TEST_PG is a postgres:// URL");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    format!("{scheme}://{authority}/{db}{query}")
}

/// A database created for one test and dropped when this goes.
pub struct TestDb {
    admin: String,
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A fresh empty database, or `None` when PostgreSQL tests are skipped.
    pub fn create() -> Option<TestDb> {
        let admin = server()?;
        let name = format!("lts_t_{:016x}", rand::random::<u64>());
        // The URL's own database may not exist yet on a fresh server:
        // `postgres` always does.
        let (admin, mut client) = [admin.clone(), with_database(&admin, "postgres")]
            .into_iter()
            .find_map(|url| {
                let client = postgres::Client::connect(&url, postgres::NoTls).ok()?;
                Some((url, client))
            })
            .unwrap_or_else(|| panic!("LTS_TEST_PG={admin}: cannot connect to the server"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        let url = with_database(&admin, &name);
        Some(TestDb { admin, name, url })
    }

    /// A plain client on the test database, for what the store does not offer.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
