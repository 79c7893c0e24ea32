//! Outgoing HTTP for alert channels. Webhook and Slack-webhook URLs come from users, so the
//! client that reaches them refuses private, loopback, link-local and other non-public
//! addresses, checked on the addresses the name resolves to (the connection then uses
//! exactly those, so a second lookup cannot rebind it), follows no redirects and gives up
//! after a timeout. Hosts the operator lists are exempt (tests and intranets). Calls to the
//! operator's own Slack API endpoint use a client without the address check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::DeliveryError;

/// An answer, with at most [`BODY_MAX`] bytes of its body.
#[derive(Debug)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub retry_after_ms: Option<i64>,
    pub body: String,
}

/// Enough of an answer to explain an error; the rest is not read.
pub const BODY_MAX: usize = 4096;

/// Whether `ip` is an address anyone on the internet could reach.
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
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)) // documentation
}

/// Hosts exempt from the address check (lower case; a `host:port` entry exempts the host).
#[derive(Debug, Clone, Default)]
pub struct Exempt(Arc<Vec<String>>);

impl Exempt {
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Exempt {
        let mut list: Vec<String> = hosts
            .into_iter()
            .map(|h| {
                let h = h.to_ascii_lowercase();
                match h.rsplit_once(':') {
                    Some((host, port)) if port.parse::<u16>().is_ok() && !host.contains(':') => {
                        host.to_string()
                    }
                    _ => h.trim_matches(['[', ']']).to_string(),
                }
            })
            .collect();
        list.sort();
        list.dedup();
        Exempt(Arc::new(list))
    }

    pub fn contains(&self, host: &str) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.0.contains(&host)
    }
}

/// Resolves names and keeps only public addresses, unless the name is exempt.
struct PublicOnly(Exempt);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let exempt = self.0.contains(name.as_str());
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| exempt || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[derive(Clone)]
pub struct Outbound {
    guarded: reqwest::Client,
    trusted: reqwest::Client,
    exempt: Exempt,
}

impl Outbound {
    pub fn new(exempt: Exempt, timeout: Duration) -> anyhow::Result<Outbound> {
        let build = |guard: Option<Exempt>| {
            let mut b = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .user_agent(concat!("Fulcrum/", env!("CARGO_PKG_VERSION")));
            if let Some(exempt) = guard {
                b = b.dns_resolver(Arc::new(PublicOnly(exempt)));
            }
            b.build()
        };
        Ok(Outbound {
            guarded: build(Some(exempt.clone()))?,
            trusted: build(None)?,
            exempt,
        })
    }

    /// Whether a user-given URL may be called: http(s), and a host that is a name (checked
    /// when it resolves) or a public address; exempt hosts pass.
    pub fn check_target(&self, url: &url::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err("the URL must start with https://".into());
        }
        let host = match url.host() {
            None => return Err("the URL has no host".into()),
            Some(url::Host::Domain(d)) => return self.check_name(d),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        if self.exempt.contains(&host.to_string()) || is_public(host) {
            Ok(())
        } else {
            Err("the URL points at a private or local address".into())
        }
    }

    fn check_name(&self, name: &str) -> Result<(), String> {
        if self.exempt.contains(name) {
            return Ok(());
        }
        let lower = name.to_ascii_lowercase();
        if lower == "localhost" || lower.ends_with(".localhost") || !lower.contains('.') {
            return Err("the URL points at a local host name".into());
        }
        Ok(())
    }

    /// POSTs `body` to a user-given URL through the guarded client.
    pub async fn post_guarded(
        &self,
        url: &url::Url,
        body: Vec<u8>,
        headers: &[(&'static str, String)],
    ) -> Result<Answer, DeliveryError> {
        self.check_target(url).map_err(DeliveryError::permanent)?;
        let mut req = self
            .guarded
            .post(url.clone())
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        answer(req.body(body).send().await, BODY_MAX).await
    }

    /// POSTs a form to the operator's own endpoint (Slack's Web API).
    pub async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
    ) -> Result<Answer, DeliveryError> {
        answer(
            self.trusted.post(url.clone()).form(form).send().await,
            BODY_MAX,
        )
        .await
    }
}

impl Outbound {
    /// A request to a host the operator configured (GitHub's API): no address check; at
    /// most `limit` bytes of the answer are read.
    pub async fn send_trusted(
        &self,
        method: reqwest::Method,
        url: &url::Url,
        headers: &[(&'static str, String)],
        body: Option<(&'static str, Vec<u8>)>,
        limit: usize,
    ) -> Result<Answer, DeliveryError> {
        let mut req = self.trusted.request(method, url.clone());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some((content_type, body)) = body {
            req = req.header("content-type", content_type).body(body);
        }
        answer(req.send().await, limit).await
    }
}

fn retry_after_ms(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    let secs: i64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(secs.clamp(0, 3600) * 1000)
}

async fn answer(
    sent: reqwest::Result<reqwest::Response>,
    limit: usize,
) -> Result<Answer, DeliveryError> {
    let mut resp = sent.map_err(|e| {
        // The cause chain says "no public address" or "connection refused"; the URL (a
        // secret for Slack) is left out.
        let mut text = String::from("cannot reach the endpoint");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        DeliveryError::retry(if e.is_timeout() {
            "the endpoint did not answer in time".to_string()
        } else {
            text
        })
    })?;
    let status = resp.status();
    let retry_after_ms = retry_after_ms(resp.headers());
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Ok(Answer {
        status,
        retry_after_ms,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "52.1.2.3", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn targets_are_checked_before_any_lookup() {
        let out = Outbound::new(
            Exempt::new(["hooks.test:9000".to_string()]),
            Duration::from_secs(1),
        )
        .unwrap();
        let check = |u: &str| out.check_target(&url::Url::parse(u).unwrap());
        assert!(check("https://example.com/hook").is_ok());
        assert!(check("http://hooks.test:9000/hook").is_ok(), "exempt");
        assert!(check("http://127.0.0.1:9000/hook").is_err());
        assert!(check("http://[::1]/hook").is_err());
        assert!(check("http://10.0.0.1/hook").is_err());
        assert!(check("http://localhost/hook").is_err());
        assert!(check("http://intranet/hook").is_err());
        assert!(check("ftp://example.com/hook").is_err());
        assert!(
            check("http://2130706433/hook").is_err(),
            "decimal 127.0.0.1"
        );
    }
}
