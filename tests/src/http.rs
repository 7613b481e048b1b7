//! A tiny, bounded HTTP/1.1 client for loopback only (the fake's control surface, the
//! gateways' probes, the mini-gateway's upstream call). Refuses any host outside
//! 127.0.0.0/8 so no test traffic can leave the machine. Every call has a deadline and a
//! response-size cap; there are no retries here (callers bound their own loops).

use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Largest response body we keep.
pub const MAX_BODY: usize = 16 << 20;

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// Body as lossy UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| format!("response is not JSON: {}", self.text()))
    }
    /// First header with this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// `http://host:port/prefix` split into its parts; only loopback IPv4 or `localhost`.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    /// Socket address to connect to.
    pub addr: SocketAddr,
    /// Value for the Host header.
    pub host_header: String,
    /// Path prefix without a trailing slash ("" for none).
    pub prefix: String,
}

/// Parses a base URL and enforces the loopback-only rule.
pub fn parse_base(url: &str) -> Result<BaseUrl> {
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow!("only plain http:// loopback URLs are allowed in tests, got {url:?}"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().with_context(|| format!("bad port in {url:?}"))?),
        None => (hostport, 80),
    };
    let ip: Ipv4Addr = if host == "localhost" { Ipv4Addr::LOCALHOST } else { host.parse().with_context(|| format!("host must be a 127.x.x.x address, got {host:?}"))? };
    if ip.octets()[0] != 127 {
        bail!("refusing non-loopback address {ip} (tests stay on 127.0.0.0/8)");
    }
    Ok(BaseUrl { addr: SocketAddr::from((ip, port)), host_header: hostport.to_string(), prefix: path.trim_end_matches('/').to_string() })
}

/// Performs one request. `url` is a full `http://127.x.x.x:port/path` URL.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>, timeout: Duration) -> Result<Response> {
    let base = parse_base(url)?;
    let path = if base.prefix.is_empty() { "/".to_string() } else { base.prefix.clone() };
    let deadline = Instant::now() + timeout;
    let mut s = TcpStream::connect_timeout(&base.addr, timeout).with_context(|| format!("connect {}", base.addr))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", base.host_header);
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    } else if method != "GET" && method != "HEAD" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    if let Some(b) = body {
        s.write_all(b)?;
    }
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() >= deadline {
            bail!("HTTP {method} {url}: deadline of {timeout:?} passed");
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_BODY + 64 * 1024 {
                    bail!("HTTP {method} {url}: response larger than {MAX_BODY} bytes");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("read response of {method} {url}")),
        }
    }
    parse_response(&raw).with_context(|| format!("{method} {url}"))
}

/// Parses a full HTTP/1.1 response (status line, headers, body; chunked or not).
pub fn parse_response(raw: &[u8]) -> Result<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| anyhow!("no end of headers in {} bytes", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| anyhow!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))).collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    } else if let Some(len) = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok()) {
        body.truncate(len);
    }
    Ok(Response { status, headers, body })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").ok_or_else(|| anyhow!("truncated chunk header"))?;
        let size_str = String::from_utf8_lossy(&b[..nl]);
        let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16).with_context(|| format!("bad chunk size {size_str:?}"))?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or_default();
    }
}

/// GET with a deadline.
pub fn get(url: &str, timeout: Duration) -> Result<Response> {
    request("GET", url, &[], None, timeout)
}

/// POST a JSON value.
pub fn post_json(url: &str, body: &serde_json::Value, timeout: Duration) -> Result<Response> {
    let b = serde_json::to_vec(body)?;
    request("POST", url, &[("content-type", "application/json")], Some(&b), timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_loopback() {
        assert!(parse_base("http://10.0.0.1:80").is_err());
        assert!(parse_base("https://127.0.0.1:80").is_err());
        assert!(parse_base("http://api.anthropic.com").is_err());
        let b = parse_base("http://127.0.0.1:9999/v1/").unwrap();
        assert_eq!(b.prefix, "/v1");
        assert_eq!(b.addr.port(), 9999);
    }

    #[test]
    fn parses_chunked() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = parse_response(raw).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abcde");
    }
}
