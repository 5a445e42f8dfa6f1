//! Sending one attempt: where a webhook may point (http(s) only; public addresses only
//! unless `webhook_allow_private`), and the HTTP POST itself.
//!
//! The address check happens when connecting, in the client's resolver, so a name
//! that resolves to a private address at delivery time (DNS rebinding) is refused
//! like a private address written in the URL. Redirects are not followed (a 3xx is a
//! failed attempt, as with Stripe and GitHub), and no proxy from the environment is
//! used.

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The longest URL a subscription may have.
pub const MAX_URL_BYTES: usize = 2048;

/// Checks a subscription's URL: absolute `http`/`https`, a host, no fragment, and —
/// unless `allow_private` — no literal non-public address. Names are checked again
/// at each delivery, when they resolve.
pub fn check_url(url: &str, allow_private: bool) -> Result<Url, String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!("the URL is longer than {MAX_URL_BYTES} bytes"));
    }
    let parsed = Url::parse(url).map_err(|e| format!("`{url}` is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{}:` URLs are refused: a webhook is delivered by HTTP POST to an http:// or https:// URL",
            parsed.scheme()
        ));
    }
    let Some(host) = parsed.host() else {
        return Err("the URL names no host".into());
    };
    if parsed.fragment().is_some() {
        return Err("the URL has a #fragment, which is never sent; remove it".into());
    }
    let literal = match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(d)
            if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
        {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        }
        url::Host::Domain(_) => None,
    };
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err(blocked(parsed.host_str().unwrap_or_default()));
    }
    Ok(parsed)
}

fn blocked(host: &str) -> String {
    format!(
        "{host} is a loopback, private or otherwise non-public address: webhooks reach only public addresses unless the server sets webhook_allow_private (PROMPTOPS_WEBHOOK_ALLOW_PRIVATE=true)"
    )
}

/// Whether `ip` is a public unicast address (what a webhook may reach by default).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 (maps onto IPv4, maybe private)
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)) // IPv4-compatible
}

/// Resolves names as the system does, then drops non-public addresses (unless
/// allowed); a name with none left fails to connect with the reason.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(blocked(&host).into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client of deliveries.
pub fn client(timeout: Duration, allow_private: bool) -> reqwest::Client {
    let built = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("promptops-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(GuardedResolver { allow_private })
        .build();
    // Building fails only when the TLS backend cannot load; fall back to the defaults
    // rather than not delivering (the address check still runs on every attempt).
    built.unwrap_or_else(|e| {
        tracing::error!("webhooks: the HTTP client could not be built as configured: {e}");
        reqwest::Client::new()
    })
}

/// What an attempt found: the status (if the receiver answered) and why it failed.
pub struct Answer {
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Answer {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// POSTs `body` to `url` with `headers`; a 2xx is delivered, anything else (another
/// status, no answer within the timeout, a refused address) is not.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    allow_private: bool,
    headers: &[(&str, String)],
    body: String,
    timeout: Duration,
) -> Answer {
    let url = match check_url(url, allow_private) {
        Ok(u) => u,
        Err(e) => {
            return Answer {
                status: None,
                error: Some(e),
            };
        }
    };
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    match request.body(body).send().await {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                Answer {
                    status: Some(status.as_u16()),
                    error: None,
                }
            } else {
                Answer {
                    status: Some(status.as_u16()),
                    error: Some(format!(
                        "the receiver answered {status}; only a 2xx counts as delivered"
                    )),
                }
            }
        }
        Err(e) => Answer {
            status: None,
            error: Some(describe(&e, timeout)),
        },
    }
}

/// An error in words, without the URL (it may carry a token).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    let mut last = String::new();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    if !last.is_empty() {
        text.push_str(": ");
        text.push_str(&last);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_to_public_hosts_pass_unless_private_is_allowed() {
        assert!(check_url("https://hooks.example.com/x?y=1", false).is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com",
            "https://example.com/#frag",
            "not a url",
            "http://127.0.0.1:9/",
            "http://localhost/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert!(check_url(bad, false).is_err(), "accepted {bad}");
        }
        assert!(check_url("http://127.0.0.1:9/", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(is_public("2606:4700::1111".parse().unwrap()));
    }
}
