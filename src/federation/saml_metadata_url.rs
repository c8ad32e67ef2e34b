//! A SAML IdP's metadata from its `metadata_url` (federation.md §2.5, requirement 27): the one
//! place Vestibule fetches a document an operator named by URL, so the one place that keeps
//! such a fetch from reaching what it must not (server-side request forgery):
//!
//! - https only, and no redirect followed (a redirect could point anywhere);
//! - the host's addresses resolved first, and every one of them globally routable: no
//!   loopback, private (RFC 1918), shared (RFC 6598), link-local, unique-local, documentation,
//!   multicast, unspecified or reserved address;
//! - the connection pinned to the checked addresses (the client resolves nothing itself), so
//!   a DNS answer that changes between the check and the connect (rebinding) changes nothing;
//!   and no proxy, which would resolve the name again;
//! - the answer read to [`MAX_METADATA_BYTES`] and no further, then checked like metadata from
//!   a file (`IdpMetadata::parse`, and the declaration's own checks such as Entra's entity ID).
//!
//! `allow_insecure_metadata_url = true` lifts the first two for tests (plain http, loopback and
//! private addresses); the pinning, the cap and the checks of the document stay.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::saml_metadata::{IdpMetadata, MAX_METADATA_BYTES};
use crate::config::{IdentityProviderDecl, MetadataSource};
use crate::federation::http_client::{builder, read_capped};

/// IPv4 ranges that are not globally routable (RFC 6890 and the IANA special-purpose registry):
/// (network, prefix length).
const NOT_GLOBAL_V4: [(Ipv4Addr, u32); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

/// Inside global unicast (2000::/3), what is not global: IETF protocol assignments (Teredo
/// among them), documentation (RFC 3849, RFC 9637) and 6to4, whose embedded IPv4 address is
/// not ours to trust.
const NOT_GLOBAL_V6: [(Ipv6Addr, u32); 4] = [
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

/// NAT64's well-known prefix (RFC 6052): an IPv6-only host reaches IPv4 through it.
const NAT64: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

fn in_v4(ip: Ipv4Addr, (net, len): (Ipv4Addr, u32)) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, (net, len): (Ipv6Addr, u32)) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// Whether `ip` is a globally routable unicast address: the only kind a metadata URL may reach.
pub fn is_globally_routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !NOT_GLOBAL_V4.iter().any(|r| in_v4(v4, *r)),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_globally_routable(IpAddr::V4(v4));
            }
            if in_v6(v6, (NAT64, 96)) {
                let [.., a, b, c, d] = v6.octets();
                return is_globally_routable(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
            }
            in_v6(v6, (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3))
                && !NOT_GLOBAL_V6.iter().any(|r| in_v6(v6, *r))
        }
    }
}

/// The host's addresses, each checked unless `insecure`.
async fn checked_addresses(
    host: &url::Host<&str>,
    port: u16,
    insecure: bool,
) -> Result<Vec<SocketAddr>, String> {
    let addresses: Vec<SocketAddr> = match host {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), port)],
        url::Host::Domain(name) => tokio::net::lookup_host((*name, port))
            .await
            .map_err(|e| format!("{name} does not resolve: {e}"))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if let Some(bad) = addresses.iter().find(|a| !is_globally_routable(a.ip())) {
        if !insecure {
            return Err(format!(
                "{host} resolves to {}, which is not a globally routable address (loopback, private, link-local and the like are refused)",
                bad.ip()
            ));
        }
    }
    Ok(addresses)
}

/// Fetches and checks the metadata at `raw_url` for `idp`; `now` (seconds) for `validUntil`.
/// The error names the IdP and the reason, never the document.
pub async fn fetch(
    idp: &IdentityProviderDecl,
    raw_url: &str,
    now: i64,
) -> Result<IdpMetadata, String> {
    let at = |why: String| {
        format!(
            "identity_provider {:?}: metadata_url {raw_url}: {why}",
            idp.alias
        )
    };
    let insecure = idp.allow_insecure_metadata_url;
    let url = url::Url::parse(raw_url).map_err(|_| at("is not a URL".into()))?;
    match (url.scheme(), insecure) {
        ("https", _) | ("http", true) => {}
        _ => return Err(at("is not https".into())),
    }
    let host = url.host().ok_or_else(|| at("names no host".into()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| at("names no port".into()))?;
    let addresses = checked_addresses(&host, port, insecure).await.map_err(at)?;
    let mut client = builder().no_proxy();
    if let url::Host::Domain(name) = host {
        client = client.resolve_to_addrs(name, &addresses);
    }
    let client = client.build().map_err(|e| at(e.to_string()))?;
    let answer = client
        .get(url.clone())
        .header(
            "accept",
            "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8",
        )
        .send()
        .await
        .map_err(|e| at(format!("the request failed: {}", e.without_url())))?;
    let status = answer.status();
    if status.is_redirection() {
        return Err(at(format!(
            "answered HTTP {} (a redirect, which is not followed: give the final URL)",
            status.as_u16()
        )));
    }
    if status.as_u16() != 200 {
        return Err(at(format!("answered HTTP {}", status.as_u16())));
    }
    let body = read_capped(answer, MAX_METADATA_BYTES)
        .await
        .map_err(|e| at(e.to_string()))?;
    let text = String::from_utf8(body).map_err(|_| at("the document is not UTF-8".into()))?;
    let metadata = IdpMetadata::parse(&text).map_err(|e| at(format!("the document {e}")))?;
    if metadata.valid_until.is_some_and(|until| until <= now) {
        return Err(at("the document's validUntil has passed".into()));
    }
    idp.accept_saml_metadata(metadata)
}

/// The IdP's metadata wherever it is: read from its file or inline text, or fetched.
pub async fn load(idp: &IdentityProviderDecl, now: i64) -> Result<IdpMetadata, String> {
    match idp.metadata_source()? {
        MetadataSource::Url(url) => fetch(idp, &url, now).await,
        MetadataSource::File(_) | MetadataSource::Inline(_) => idp.saml_metadata(),
    }
}

/// Runs `work` to completion on a thread of its own with a runtime of its own: for the
/// synchronous callers (start-up before the server's runtime serves, and the CLI), wherever
/// they are called from.
pub fn blocking<T: Send>(work: impl Future<Output = T> + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| runtime.block_on(work))
                    .map_err(|e| format!("cannot start a runtime to fetch metadata: {e}"))
            })
            .join()
            .map_err(|_| "the metadata fetch panicked".to_string())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_globally_routable_addresses_are_reachable() {
        for (ip, global) in [
            ("93.184.216.34", true),
            ("20.190.160.1", true),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("224.0.0.1", false),
            ("255.255.255.255", false),
            ("192.0.2.1", false),
            ("198.18.0.1", false),
            ("2606:4700::1111", true),
            ("::1", false),
            ("::", false),
            ("fe80::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("2001::1", false),
            ("2002:7f00:1::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:93.184.216.34", true),
            ("64:ff9b::a00:1", false),
            ("64:ff9b::5db8:d822", true),
            ("100::1", false),
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(is_globally_routable(parsed), global, "{ip}");
        }
    }
}
