//! Just enough of the beacon REST API for the interop tests: an HTTP/1.0 GET over
//! `tokio::net::TcpStream` to a loopback address, bounded in size and time, and the few
//! fields we read from Lodestar's JSON.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The environment variable `scripts/interop-lodestar.sh` exports: comma-separated REST base
/// URLs (`http://127.0.0.1:PORT`), nodeA first.
pub(crate) const REST_ENV: &str = "VALTRACK_LODESTAR_REST";

/// The largest response we read (`/eth/v1/config/spec` is about 5 kB).
const MAX_RESPONSE: u64 = 1 << 20;
/// Connect, send and read, all together.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The REST base URLs of the devnet nodes; panics when the script did not start them.
pub(crate) fn rest_urls() -> Vec<String> {
    let value = std::env::var(REST_ENV).unwrap_or_else(|_| {
        panic!(
            "{REST_ENV} is not set: these tests need a running Lodestar devnet; run them with \
             scripts/interop-lodestar.sh (it starts two nodes and exports {REST_ENV})"
        )
    });
    let urls: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(!urls.is_empty(), "{REST_ENV} holds no URL: {value:?}");
    urls
}

/// `GET base + path`, expecting `200` and a JSON body.
pub(crate) async fn get_json(base: &str, path: &str) -> Value {
    let addr = loopback_addr(base);
    let raw = timeout(REQUEST_TIMEOUT, fetch(addr, path))
        .await
        .unwrap_or_else(|_| panic!("GET {base}{path}: no answer within {REQUEST_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("GET {base}{path}: {e}"));
    let body = response_body(&raw).unwrap_or_else(|e| panic!("GET {base}{path}: {e}"));
    serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "GET {base}{path}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    })
}

/// `http://127.0.0.1:PORT` → its socket address; anything but a loopback address is refused.
fn loopback_addr(base: &str) -> SocketAddr {
    let host_port = base
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{base:?}: expected http://127.0.0.1:PORT"))
        .trim_end_matches('/');
    let addr: SocketAddr = host_port
        .parse()
        .unwrap_or_else(|e| panic!("{base:?}: expected http://127.0.0.1:PORT ({e})"));
    assert!(
        addr.ip().is_loopback(),
        "{base:?}: only loopback nodes are queried"
    );
    addr
}

/// Sends the request and reads until the server closes (HTTP/1.0: no keep-alive).
async fn fetch(addr: SocketAddr, path: &str) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.take(MAX_RESPONSE + 1).read_to_end(&mut raw).await?;
    if raw.len() as u64 > MAX_RESPONSE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("response larger than {MAX_RESPONSE} bytes"),
        ));
    }
    Ok(raw)
}

/// The body of a `200` response, honouring `Content-Length` and chunked encoding.
fn response_body(raw: &[u8]) -> Result<Vec<u8>, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers in the response")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not UTF-8")?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(format!(
            "{status_line:?}: {}",
            String::from_utf8_lossy(body)
        ));
    }
    let headers: Vec<(String, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| *value)
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(body);
    }
    match header("content-length") {
        Some(len) => {
            let len: usize = len
                .parse()
                .map_err(|_| format!("bad Content-Length {len:?}"))?;
            body.get(..len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("body cut short: {} of {len} bytes", body.len()))
        }
        None => Ok(body.to_vec()),
    }
}

/// Decodes `Transfer-Encoding: chunked` (not expected for an HTTP/1.0 request, but cheap).
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without CRLF")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("chunk cut short")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or("chunk without trailing CRLF")?;
    }
}

/// The string at a JSON pointer (`/data/peer_id`); panics naming the pointer when absent.
pub(crate) fn str_at<'a>(json: &'a Value, pointer: &str) -> &'a str {
    json.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {json}"))
}

/// A decimal-string number at a JSON pointer (the beacon API quotes every integer).
pub(crate) fn u64_at(json: &Value, pointer: &str) -> u64 {
    let text = str_at(json, pointer);
    text.parse()
        .unwrap_or_else(|_| panic!("{pointer}: {text:?} is not a u64"))
}

/// Bytes of a `0x`-prefixed hex string at a JSON pointer.
pub(crate) fn hex_at(json: &Value, pointer: &str) -> Vec<u8> {
    let text = str_at(json, pointer);
    decode_hex(text).unwrap_or_else(|| panic!("{pointer}: {text:?} is not 0x-hex"))
}

/// `0x`-prefixed (or bare) hex → bytes.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if !digits.len().is_multiple_of(2) || !digits.is_ascii() {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect()
}

/// Bytes → lowercase hex, no prefix.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}trailing";
        assert_eq!(response_body(plain).unwrap(), b"{}");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        2\r\n{\"\r\n3\r\na\":\r\n2\r\n1}\r\n0\r\n\r\n";
        assert_eq!(response_body(chunked).unwrap(), b"{\"a\":1}");
        let no_length = b"HTTP/1.0 200 OK\r\n\r\n[1]";
        assert_eq!(response_body(no_length).unwrap(), b"[1]");
        let not_found = b"HTTP/1.1 404 Not Found\r\n\r\nnope";
        assert!(response_body(not_found).unwrap_err().contains("404"));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(decode_hex("0x0f"), Some(vec![0x0f]));
        assert_eq!(decode_hex("e000020001240080").map(|b| b.len()), Some(8));
        assert_eq!(decode_hex("0x0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(encode_hex(&[0xe9, 0x19, 0x5d, 0x94]), "e9195d94");
    }

    #[test]
    fn only_loopback_urls() {
        assert_eq!(loopback_addr("http://127.0.0.1:5052/").port(), 5052);
        let other = std::panic::catch_unwind(|| loopback_addr("http://10.0.0.1:5052"));
        assert!(other.is_err());
    }
}
