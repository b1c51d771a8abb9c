//! A client of a beacon node's standard REST API, for what the sentry cannot learn from the
//! network: the committees that name the validators behind phase0 attestations.

use std::time::Duration;

use valtrack_core::committees::{CommitteesError, EpochCommittees};
use valtrack_core::Epoch;

/// How long one committees request may take. Mainnet committees are about 10 MB of JSON.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest committees response read (mainnet's is about 10 MB).
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Why a beacon API request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BeaconApiError {
    /// The URL given is not an `http://` or `https://` URL.
    #[error("beacon API URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request failed (connection, timeout, TLS).
    #[error("beacon API request {url} failed")]
    Request {
        /// The request URL.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// The node answered with an error status.
    #[error("beacon API request {url} answered {status}: {body}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body (the API's error message).
        body: String,
    },
    /// The body is larger than [`MAX_RESPONSE_BYTES`].
    #[error("beacon API response from {url} is larger than {max} bytes")]
    TooLarge {
        /// The request URL.
        url: String,
        /// The bound.
        max: usize,
    },
    /// The body is not committees.
    #[error("beacon API response from {url} is not committees")]
    Committees {
        /// The request URL.
        url: String,
        /// Why.
        #[source]
        source: CommitteesError,
    },
}

/// A beacon node's REST API (`--beacon-api`).
#[derive(Debug, Clone)]
pub struct BeaconApi {
    base: reqwest::Url,
    client: reqwest::Client,
}

impl BeaconApi {
    /// A client of the API at `url` (e.g. `http://127.0.0.1:5052`). Fails on anything but an
    /// absolute `http`/`https` URL.
    pub fn new(url: &str) -> Result<Self, BeaconApiError> {
        let bad = |reason: &str| BeaconApiError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let mut base = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("not an http:// or https:// URL"));
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(bad("no host"));
        }
        // so that joining keeps a path prefix (a node behind a proxy at /beacon/)
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("valtrack/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Self { base, client })
    }

    /// The API's base URL.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// The committees of `epoch`, from the head state
    /// (`/eth/v1/beacon/states/head/committees?epoch=`), which knows the current and the
    /// next epoch.
    pub async fn committees(
        &self,
        epoch: Epoch,
        slots_per_epoch: u64,
    ) -> Result<EpochCommittees, BeaconApiError> {
        let mut url = self
            .base
            .join("eth/v1/beacon/states/head/committees")
            .expect("a fixed relative path joins");
        url.query_pairs_mut()
            .append_pair("epoch", &epoch.to_string());
        let body = self.get(url.clone()).await?;
        EpochCommittees::from_json(&body, epoch, slots_per_epoch).map_err(|source| {
            BeaconApiError::Committees {
                url: url.to_string(),
                source,
            }
        })
    }

    /// GETs `url`, reading at most [`MAX_RESPONSE_BYTES`] of a successful answer.
    async fn get(&self, url: reqwest::Url) -> Result<Vec<u8>, BeaconApiError> {
        let failed = |source| BeaconApiError::Request {
            url: url.to_string(),
            source,
        };
        let mut response = self
            .client
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        let too_large = || BeaconApiError::TooLarge {
            url: url.to_string(),
            max: MAX_RESPONSE_BYTES,
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
            if !status.is_success() && body.len() > 512 {
                break;
            }
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
            return Err(BeaconApiError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body: text,
            });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_taken() {
        for bad in ["", "localhost:5052", "ftp://x/", "file:///tmp/x", "http://"] {
            assert!(
                matches!(BeaconApi::new(bad), Err(BeaconApiError::Url { .. })),
                "{bad:?}"
            );
        }
        let api = BeaconApi::new("http://127.0.0.1:5052").unwrap();
        assert_eq!(api.url(), "http://127.0.0.1:5052/");
        let api = BeaconApi::new("https://node.example/beacon").unwrap();
        assert_eq!(api.url(), "https://node.example/beacon/");
    }
}
