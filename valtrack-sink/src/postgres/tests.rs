//! The PostgreSQL store against a real server.

use std::sync::Arc;

use valtrack_core::{EventKind, EventSink};

use super::rows::pg_type;
use super::testdb::{server_ca, TestDb};
use super::{PgSink, PgStore, PgWrites};

#[tokio::test]
async fn the_migrations_make_the_parquet_tables_columns() {
    let db = TestDb::new().await;
    let store = PgStore::connect(&db.url).await.unwrap();
    let client = store.client().await.unwrap();
    for kind in EventKind::ALL {
        let rows = client
            .query(
                "SELECT column_name::text, udt_name::text, is_nullable::text FROM information_schema.columns \
                 WHERE table_name = $1 ORDER BY ordinal_position",
                &[&kind.table()],
            )
            .await
            .unwrap();
        let got: Vec<(String, String, bool)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get::<_, String>(2) == "YES"))
            .collect();
        let schema = crate::parquet_sink::schema(kind);
        let want: Vec<(String, String, bool)> = schema
            .fields()
            .iter()
            .map(|f| {
                let (_, udt) = pg_type(f.data_type()).expect("every column has a type");
                // the primary key is NOT NULL whatever Arrow says
                (f.name().clone(), udt.to_owned(), f.is_nullable())
            })
            .collect();
        assert_eq!(got, want, "{}", kind.table());
    }
}

#[tokio::test]
async fn two_processes_migrating_at_once_apply_each_migration_once() {
    let db = TestDb::new().await;
    let (a, b) = tokio::join!(PgStore::connect(&db.url), PgStore::connect(&db.url));
    let (a, _b) = (a.unwrap(), b.unwrap());
    let client = a.client().await.unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    assert_eq!(n, files as i64);
}

#[tokio::test]
async fn events_written_twice_are_one_row_each_and_applied_once() {
    let db = TestDb::new().await;
    let store = Arc::new(PgStore::connect(&db.url).await.unwrap());
    let events: Vec<_> = (0..50).map(crate::test_event).collect();
    let sink = PgSink::new(store.clone(), PgWrites::all(), None);
    for e in &events {
        sink.send(e.clone()).await.unwrap();
    }
    sink.flush().await.unwrap();
    // again, through a second sink (another consumer)
    let again = PgSink::new(store.clone(), PgWrites::all(), None);
    for e in &events {
        again.send(e.clone()).await.unwrap();
    }
    again.flush().await.unwrap();
    let rows = store.table_rows().await.unwrap();
    assert_eq!(rows.iter().sum::<u64>(), 50);
    assert_eq!(sink.stats().applied, 50);
    assert_eq!(again.stats().applied, 0);
    assert_eq!(again.stats().present.iter().sum::<u64>(), 50);
    assert_eq!(again.stats().held, 0);
}

/// Whether the store's connections are encrypted (the server's own view).
async fn encrypted(store: &PgStore) -> bool {
    let client = store.client().await.expect("a connection");
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

#[tokio::test]
async fn sslmode_means_what_libpq_means() {
    let db = TestDb::new().await;
    let ca = server_ca();
    // the test server offers TLS with a certificate for `localhost` signed by `ca`
    let cases: [(&str, String, Option<bool>); 10] = [
        ("127.0.0.1", "sslmode=disable".into(), Some(false)),
        ("127.0.0.1", "sslmode=prefer".into(), Some(true)),
        ("127.0.0.1", "sslmode=require".into(), Some(true)),
        (
            "127.0.0.1",
            format!("sslmode=verify-ca&sslrootcert={ca}"),
            Some(true),
        ),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            Some(true),
        ),
        // the certificate is not for 127.0.0.1
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            None,
        ),
        // no roots given (and no ~/.postgresql/root.crt)
        ("127.0.0.1", "sslmode=verify-ca".into(), None),
        // the CA is not a system root
        ("localhost", "sslrootcert=system".into(), None),
        // a root file given to require checks the chain (libpq: as verify-ca)
        (
            "127.0.0.1",
            format!("sslmode=require&sslrootcert={ca}"),
            Some(true),
        ),
        (
            "127.0.0.1",
            "sslmode=require&sslrootcert=/etc/hostname".into(),
            None,
        ),
    ];
    for (host, query, want) in cases {
        let url = db.uri(host, &query);
        let got = match PgStore::connect(&url).await {
            Ok(store) => Some(encrypted(&store).await),
            Err(e) => {
                assert!(!e.to_string().contains("postgres@"), "no user in {e}");
                assert!(!e.is_transient(), "a refusal is not retried: {e:?}");
                None
            }
        };
        assert_eq!(got, want, "{host} {query}");
    }
}

#[tokio::test]
async fn nul_in_any_string_is_stored_not_refused() {
    use crate::tracker::fixtures::{handshake, peer};
    use valtrack_core::events::PeerLocationEvent;
    use valtrack_core::{Event, Location};

    let db = TestDb::new().await;
    let store = Arc::new(PgStore::connect(&db.url).await.unwrap());
    let p = peer(3);
    let mut hs = handshake(
        p,
        1_700_000_000_000,
        "/ip4/1.2.3.4/tcp/9000",
        "Light\0house/v8",
        4,
    );
    if let Event::Metadata(m) = &mut hs {
        m.meta.event_id = "id-\0-1".into();
    }
    let mut location = Location::unknown("1.2.3.4".parse().unwrap());
    location.country = Some("D\0E".into());
    location.city = Some("Ber\0lin".into());
    location.as_org = Some("AS\0".into());
    let located = Event::PeerLocation(PeerLocationEvent {
        meta: crate::tracker::fixtures::meta(
            valtrack_core::EventKind::PeerLocation,
            p,
            1_700_000_000_001,
            Some("enr:-\0"),
        ),
        location,
    });
    let sink = PgSink::new(store.clone(), PgWrites::all(), None);
    for e in [hs.clone(), located.clone(), hs, located] {
        sink.send(e).await.unwrap();
    }
    sink.flush().await.expect("NUL is replaced, not refused");
    assert_eq!(store.table_rows().await.unwrap().iter().sum::<u64>(), 2);
    assert_eq!(sink.stats().applied, 2);
    let rec = store.peer(&p).await.unwrap().expect("the peer is tracked");
    let loc = rec.location.expect("located");
    assert_eq!(loc.country.as_deref(), Some("D\u{fffd}E"));
    assert_eq!(loc.city.as_deref(), Some("Ber\u{fffd}lin"));
    assert_eq!(rec.agent_version.as_deref(), Some("Light\u{fffd}house/v8"));
    let client = store.client().await.unwrap();
    let country: String = client
        .query_one("SELECT country FROM tracker_peers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(country, "D\u{fffd}E");
}

#[tokio::test]
async fn applied_ids_past_retention_go_a_chunk_per_batch() {
    let db = TestDb::new().await;
    let config = super::PgStoreConfig {
        applied_retention: std::time::Duration::from_secs(60),
        ..Default::default()
    };
    let store = Arc::new(PgStore::connect_with(&db.url, config).await.unwrap());
    let client = store.client().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO tracker_applied SELECT 'old-' || g, now() - interval '1 hour' \
             FROM generate_series(1, 120000) AS g",
        )
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let sink = PgSink::new(store.clone(), PgWrites::all(), None);
    // one chunk after each batch (the prune follows the batch's flush reply)
    for (t, want) in [70_000, 20_000, 0].into_iter().enumerate() {
        sink.send(crate::test_event(t as u64)).await.unwrap();
        sink.flush().await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let old =
                count("SELECT count(*) FROM tracker_applied WHERE event_id LIKE 'old-%'").await;
            if old == want {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "batch {t}: {old} old ids, not {want}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        count("SELECT count(*) FROM tracker_applied WHERE event_id NOT LIKE 'old-%'").await,
        3
    );
}
