//! The tracker's HTTP API (axum): validator estimates, peers, aggregates, health and the OpenAPI
//! description, with a public and an admin view.
//!
//! | route | answer |
//! |---|---|
//! | `GET /validators?from=&to=&limit=` | estimates with `from <= timestamp <= to` (RFC 3339 or unix ms) |
//! | `GET /peers?limit=&offset=` | a page of peers, ordered by peer id |
//! | `GET /peers/{peer_id}` | one peer and its estimate history (404 unknown, 400 malformed) |
//! | `GET /stats` | counts by client, country, ASN and fork digest |
//! | `GET /healthz` | `{"status":"ok"}` when the store answers |
//! | `GET /openapi.json` | the OpenAPI 3 description of the above |
//!
//! Without an `X-API-Key` header a request gets the public view: no IP, ENR or multiaddr, and
//! latitude/longitude rounded to one decimal. A valid key gets everything; an invalid key is
//! refused with 401. Every error is JSON: `{"error": "…"}` (but a 431 for headers over
//! 16 KiB, which the HTTP parser answers before any handler runs). At most
//! [`MAX_CONCURRENT_REQUESTS`] are served at once; more get 503. [`serve`] closes a
//! connection whose request headers take over [`HEADER_READ_TIMEOUT`], or that stays idle
//! that long between requests, and holds at most [`MAX_CONNECTIONS`] at once (a new one
//! beyond makes the oldest close: an idle one at once, a busy one after its answer).

mod keys;
mod openapi;
mod source;

use std::future::Future;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};
use valtrack_core::PeerId;

pub use keys::{ApiKeys, API_KEY_HEADER, MAX_API_KEYS, MAX_PRESENTED_KEY_LEN, MIN_API_KEY_LEN};
pub use openapi::openapi;
pub use source::TrackerSource;

use source::SourceError;

/// Peers per page when `limit` is not given.
pub const DEFAULT_PEERS_LIMIT: u64 = 100;
/// Estimates per answer when `limit` is not given.
pub const DEFAULT_VALIDATORS_LIMIT: u64 = 1_000;
/// Estimates of a peer's history returned by `GET /peers/{peer_id}`.
pub const PEER_HISTORY_LIMIT: u64 = 100;
/// Requests served at once; more are answered 503 at once (each request may hold a blocking
/// store thread).
pub const MAX_CONCURRENT_REQUESTS: usize = 64;
/// Store queries running at once (each on a blocking thread); requests beyond wait. A query
/// keeps its slot until it finishes, even when its client has gone.
const MAX_CONCURRENT_QUERIES: usize = 4;

#[derive(Debug, Clone)]
struct AppState {
    store: TrackerSource,
    keys: Arc<ApiKeys>,
    inflight: Arc<tokio::sync::Semaphore>,
    queries: Arc<tokio::sync::Semaphore>,
    /// The last `/stats` (a scan of every peer) and when it was computed.
    stats: Arc<std::sync::Mutex<Option<(std::time::Instant, crate::tracker::Stats)>>>,
}

pub use crate::http::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS};

/// How long a `/stats` answer is reused.
const STATS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Which view a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Public,
    Admin,
}

/// An error answer: a status and `{"error": message}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<SourceError> for ApiError {
    fn from(error: SourceError) -> Self {
        warn!(target: "valtrack::api", error = %crate::error::chain(&error), "tracker store failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "tracker store failed".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// A query slot: at most [`MAX_CONCURRENT_QUERIES`] store queries run at once.
async fn slot(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    Arc::clone(&state.queries)
        .acquire_owned()
        .await
        .map_err(|_| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "shutting down".into(),
        })
}

/// The router, for embedding in a larger axum application; `store` is an
/// `Arc<TrackerStore>` or a [`TrackerSource`].
pub fn router(store: impl Into<TrackerSource>, keys: ApiKeys) -> Router {
    let state = AppState {
        store: store.into(),
        keys: Arc::new(keys),
        inflight: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_REQUESTS)),
        queries: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_QUERIES)),
        stats: Arc::default(),
    };
    Router::new()
        .route("/validators", get(validators))
        .route("/peers", get(peers))
        .route("/peers/{peer_id}", get(peer))
        .route("/stats", get(stats))
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi_json))
        .fallback(|| async {
            ApiError {
                status: StatusCode::NOT_FOUND,
                message: "no such route (see /openapi.json)".into(),
            }
        })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                message: "the API only answers GET".into(),
            }
        })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn(count_request))
        .with_state(state)
}

/// Requests answered by every API router of this process, by route and status.
static REQUESTS: std::sync::Mutex<std::collections::BTreeMap<(&str, u16), u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Requests the API answered since the process started (every router built by [`router`]
/// together): `(route, status, count)`, the route as in the table of the module docs, or
/// `other` for paths that match none.
pub fn request_counts() -> Vec<(&'static str, u16, u64)> {
    REQUESTS.lock().map_or_else(
        |_| Vec::new(),
        |m| m.iter().map(|((r, s), n)| (*r, *s, *n)).collect(),
    )
}

/// The route a path is served by (a bounded set, so the counts stay bounded).
fn route_of(path: &str) -> &'static str {
    match path {
        "/validators" => "/validators",
        "/peers" => "/peers",
        "/stats" => "/stats",
        "/healthz" => "/healthz",
        "/openapi.json" => "/openapi.json",
        p if p
            .strip_prefix("/peers/")
            .is_some_and(|id| !id.is_empty() && !id.contains('/')) =>
        {
            "/peers/{peer_id}"
        }
        _ => "other",
    }
}

async fn count_request(req: Request, next: Next) -> Response {
    let route = route_of(req.uri().path());
    let response = next.run(req).await;
    if let Ok(mut m) = REQUESTS.lock() {
        *m.entry((route, response.status().as_u16())).or_default() += 1;
    }
    response
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes the requests in
/// flight and returns. `store`: an `Arc<TrackerStore>` or a [`TrackerSource`].
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use std::sync::Arc;
/// use valtrack_sink::{serve, ApiKeys, TrackerStore};
///
/// let store = Arc::new(TrackerStore::open("tracker.redb").expect("store opens"));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// // Until the process is stopped; pass a signal or a oneshot receiver to stop it cleanly.
/// serve(listener, store, ApiKeys::none(), std::future::pending()).await
/// # }
/// ```
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: impl Into<TrackerSource>,
    keys: ApiKeys,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        info!(target: "valtrack::api", %addr, keys = keys.len(), "tracker API listening");
    }
    crate::http::serve_router(listener, router(store, keys), shutdown, "valtrack::api").await
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Every route answers GET (and HEAD) only: any other method is 405, key or no key.
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        return ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "the API only answers GET".into(),
        }
        .into_response();
    }
    let Ok(_permit) = Arc::clone(&state.inflight).try_acquire_owned() else {
        return ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "too many requests in flight".into(),
        }
        .into_response();
    };
    let access = match req.headers().get(API_KEY_HEADER) {
        None => Access::Public,
        Some(key) if state.keys.check(key.as_bytes()) => Access::Admin,
        Some(_) => {
            return ApiError {
                status: StatusCode::UNAUTHORIZED,
                message: "invalid API key".into(),
            }
            .into_response()
        }
    };
    req.extensions_mut().insert(access);
    next.run(req).await
}

/// Whether `text` has the shape of a secp256k1 PeerId (the OpenAPI pattern
/// `^16Uiu2HA[1-9A-HJ-NP-Za-km-z]{45}$`), whether or not its key is on the curve.
fn looks_like_peer_id(text: &str) -> bool {
    text.len() == 53
        && text.starts_with("16Uiu2HA")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'))
}

/// A time bound: unix milliseconds, or RFC 3339 (`2026-01-07T01:01:11Z`, any UTC offset).
fn parse_time(name: &str, value: &str) -> Result<u64, ApiError> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "{name}: {value:?} is too large for unix milliseconds"
            ))
        });
    }
    // Before 1970 (which humantime cannot read): no estimate is that old, so it is the start.
    if let Some((year, _)) = value.split_once('-') {
        if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) && year < "1970" {
            return Ok(0);
        }
    }
    let (utc, offset_secs) = split_utc_offset(value);
    let time = humantime::parse_rfc3339_weak(&utc).map_err(|e| {
        ApiError::bad_request(format!(
            "{name}: {value:?} is neither unix milliseconds nor RFC 3339 ({e})"
        ))
    })?;
    // `…+02:00` is two hours ahead of UTC: the instant is two hours earlier.
    let time = if offset_secs >= 0 {
        time.checked_sub(std::time::Duration::from_secs(offset_secs.unsigned_abs()))
    } else {
        time.checked_add(std::time::Duration::from_secs(offset_secs.unsigned_abs()))
    }
    .unwrap_or(UNIX_EPOCH);
    // Before 1970 once the offset is applied: the start, as above.
    let ms = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    u64::try_from(ms).map_err(|_| ApiError::bad_request(format!("{name}: {value:?} is too late")))
}

/// An RFC 3339 time with a numeric offset (`…-12:07`) as the same wall time in UTC
/// (`…Z`, which humantime reads) and the offset in seconds; other text as it is, offset 0.
fn split_utc_offset(value: &str) -> (String, i64) {
    let b = value.as_bytes();
    if b.len() > 6 && value.is_char_boundary(b.len() - 6) && value.contains('T') {
        let (head, tail) = value.split_at(b.len() - 6);
        let t = tail.as_bytes();
        let digits = |r: std::ops::Range<usize>| t[r].iter().all(u8::is_ascii_digit);
        if (t[0] == b'+' || t[0] == b'-') && digits(1..3) && t[3] == b':' && digits(4..6) {
            let hours: i64 = tail[1..3].parse().unwrap_or(0);
            let minutes: i64 = tail[4..6].parse().unwrap_or(0);
            let sign = if t[0] == b'-' { -1 } else { 1 };
            return (format!("{head}Z"), sign * (hours * 3600 + minutes * 60));
        }
    }
    (value.to_owned(), 0)
}

fn parse_u64(name: &str, value: Option<&str>, default: u64) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            ApiError::bad_request(format!("{name}: {v:?} is not a non-negative integer"))
        }),
    }
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))
}

#[derive(Debug, Deserialize)]
struct ValidatorsQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

async fn validators(
    State(state): State<AppState>,
    q: Result<Query<ValidatorsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let from = q
        .from
        .as_deref()
        .map(|v| parse_time("from", v))
        .transpose()?
        .unwrap_or(0);
    let to_given = q.to.as_deref().map(|v| parse_time("to", v)).transpose()?;
    let to = to_given.unwrap_or(u64::MAX);
    if from > to {
        return Err(ApiError::bad_request("from is after to"));
    }
    let max = state.store.max_page();
    let limit = parse_u64("limit", q.limit.as_deref(), DEFAULT_VALIDATORS_LIMIT)?;
    if limit == 0 || limit > max {
        return Err(ApiError::bad_request(format!("limit must be in 1..={max}")));
    }
    let estimates = state
        .store
        .estimates(slot(&state).await?, from, to, limit)
        .await?;
    // Typed, not `json!`: a `Value` would print an f32 confidence as its f64 widening
    // (0.6499999761581421 for 0.65).
    Ok(Json(ValidatorsAnswer {
        from,
        to: to_given,
        count: estimates.len(),
        estimates,
    })
    .into_response())
}

/// `GET /validators`: the window (`to` null when open) and the estimates.
#[derive(Debug, Serialize)]
struct ValidatorsAnswer {
    from: u64,
    to: Option<u64>,
    count: usize,
    estimates: Vec<crate::tracker::EstimateRecord>,
}

/// `GET /peers/{peer_id}`.
#[derive(Debug, Serialize)]
struct PeerAnswer {
    peer: crate::tracker::PeerRecord,
    history: Vec<crate::tracker::EstimateRecord>,
}

#[derive(Debug, Deserialize)]
struct PeersQuery {
    limit: Option<String>,
    offset: Option<String>,
}

async fn peers(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    q: Result<Query<PeersQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let max = state.store.max_page();
    let limit = parse_u64("limit", q.limit.as_deref(), DEFAULT_PEERS_LIMIT)?;
    if limit == 0 || limit > max {
        return Err(ApiError::bad_request(format!("limit must be in 1..={max}")));
    }
    let offset = parse_u64("offset", q.offset.as_deref(), 0)?;
    let mut page = state
        .store
        .peers(slot(&state).await?, limit, offset)
        .await?;
    if access == Access::Public {
        for p in &mut page.peers {
            *p = p.public_view();
        }
    }
    Ok(Json(page).into_response())
}

async fn peer(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    peer_id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(peer_id) = peer_id
        .map_err(|e| ApiError::bad_request(format!("malformed peer id: {}", e.body_text())))?;
    let peer_id: PeerId = match peer_id.parse() {
        Ok(p) => p,
        // Shaped as the OpenAPI pattern says but not a key on the curve: no peer has it.
        Err(e) if looks_like_peer_id(&peer_id) => {
            return Err(ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!("peer {peer_id} is not known ({e})"),
            })
        }
        Err(e) => return Err(ApiError::bad_request(format!("malformed peer id: {e}"))),
    };
    let found = state
        .store
        .peer(slot(&state).await?, peer_id, PEER_HISTORY_LIMIT)
        .await?;
    let Some((mut rec, history)) = found else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("peer {peer_id} is not known"),
        });
    };
    if access == Access::Public {
        rec = rec.public_view();
    }
    Ok(Json(PeerAnswer { peer: rec, history }).into_response())
}

/// Computed at most once per [`STATS_TTL`]: it reads every peer record.
async fn stats(State(state): State<AppState>) -> Result<Response, ApiError> {
    let cached = |state: &AppState| {
        let guard = state.stats.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < STATS_TTL)
            .map(|(_, stats)| stats.clone())
    };
    if let Some(stats) = cached(&state) {
        return Ok(Json(stats).into_response());
    }
    let stats = state.store.stats(slot(&state).await?).await?;
    *state.stats.lock().unwrap_or_else(|p| p.into_inner()) =
        Some((std::time::Instant::now(), stats.clone()));
    Ok(Json(stats).into_response())
}

async fn healthz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.store.peers(slot(&state).await?, 1, 0).await?;
    Ok(Json(json!({ "status": "ok" })).into_response())
}

async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

#[cfg(test)]
mod tests;
