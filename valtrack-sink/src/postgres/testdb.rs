//! A fresh database for each test, on the server `VALTRACK_TEST_DATABASE_URL` names
//! (`scripts/check` starts a throwaway one). Without it these tests fail: they do not skip.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::config::Host;
use tokio_postgres::NoTls;

/// The variable naming the test server (a URL whose user may create databases).
pub(crate) const ENV: &str = "VALTRACK_TEST_DATABASE_URL";

/// The server's admin URL; panics with what to do when it is not set.
pub(crate) fn server_url() -> String {
    std::env::var(ENV).unwrap_or_else(|_| {
        panic!(
            "{ENV} is not set: the PostgreSQL tests need a server. scripts/check starts one; \
             by hand: `scripts/pg-cluster start /tmp/vt-pg` prints a URL to export as {ENV}"
        )
    })
}

/// The variable naming the test server's TLS root (`scripts/pg-cluster` writes `DIR/ca.crt`).
pub(crate) const CA_ENV: &str = "VALTRACK_TEST_DATABASE_CA";

/// The PEM file of the CA that signed the test server's certificate (for `localhost`);
/// panics with what to do when it is not set.
pub(crate) fn server_ca() -> String {
    std::env::var(CA_ENV).unwrap_or_else(|_| {
        panic!(
            "{CA_ENV} is not set: the TLS tests need the test server's CA. scripts/check sets it; \
             by hand: `scripts/pg-cluster start DIR` writes DIR/ca.crt"
        )
    })
}

/// A database created for one test and dropped when this is.
#[derive(Debug)]
pub(crate) struct TestDb {
    /// Its URL (key=value form).
    pub(crate) url: String,
    name: String,
    admin: String,
    port: u16,
    user: String,
}

impl TestDb {
    pub(crate) async fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let admin = server_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "vt_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (client, connection) = tokio_postgres::connect(&admin, NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {ENV}: {e}"));
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        drop(client);
        let _ = driver.await;
        let config: tokio_postgres::Config = admin.parse().expect("the test URL parses");
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("postgres");
        let url = format!("host={host} port={port} user={user} dbname={name}");
        Self {
            url,
            name,
            admin,
            port,
            user: user.to_owned(),
        }
    }

    /// Its URL in the `postgres://` form, through `host`, with `query` (`sslmode=…`).
    pub(crate) fn uri(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://{}@{host}:{}/{}?{query}",
            self.user, self.port, self.name
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Its own thread and runtime: drop runs inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin, NoTls).await?;
                let driver = tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                drop(client);
                let _ = driver.await;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
