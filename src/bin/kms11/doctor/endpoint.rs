//! Whether the KMS endpoint of a region accepts connections, before any
//! key is asked about.

use super::Report;
use crate::progress::waiting;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// host and port of an http(s) URL.
fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default = if scheme == "http" { 80 } else { 443 };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = rest
            .strip_prefix(':')
            .map_or(Some(default), |p| p.parse().ok())?;
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default)),
    }
}

pub(super) fn check_endpoint(r: &mut Report, endpoint: &str, connect_timeout_ms: u64) -> bool {
    const WHAT: &str = "endpoint";
    let fix = "check endpoint_url in [aws] (or AWS_ENDPOINT_URL_KMS), the region, and the network path (firewall, proxy, VPC endpoint)";
    let Some((host, port)) = host_port(endpoint) else {
        r.fail(WHAT, format!("'{endpoint}' is not an http(s) URL"), fix);
        return false;
    };
    let proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    if let Some(p) = proxy {
        r.ok(
            WHAT,
            format!("{endpoint}, through the proxy {p} (not probed)"),
        );
        return true;
    }
    let timeout = Duration::from_millis(connect_timeout_ms.max(1));
    let result = waiting(format!("connecting to {host}:{port}"), || {
        let addrs: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        let mut last = format!("{host} has no address");
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(_) => return Ok(a),
                Err(e) => last = format!("cannot connect to {a}: {e}"),
            }
        }
        Err(last)
    });
    match result {
        Ok(addr) => {
            r.ok(WHAT, format!("{endpoint} accepts connections ({addr})"));
            true
        }
        Err(e) => {
            r.fail(WHAT, format!("{endpoint}: {e}"), fix);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn endpoints() {
        assert_eq!(
            host_port("https://kms.eu-west-1.amazonaws.com"),
            Some(("kms.eu-west-1.amazonaws.com".into(), 443))
        );
        assert_eq!(
            host_port("http://127.0.0.1:4566/"),
            Some(("127.0.0.1".into(), 4566))
        );
        assert_eq!(host_port("https://[::1]:8443"), Some(("::1".into(), 8443)));
        assert_eq!(host_port("kms.local"), None);
    }
}
