//! Who sent a request, and over which scheme: the TCP peer and the connection, unless the peer is
//! one of `server.trusted_proxies`. Only then are its forwarding headers believed: RFC 7239
//! `Forwarded` (`for=`, `proto=`) when present, else `X-Forwarded-For` and `X-Forwarded-Proto`.
//! Anyone can write those headers, so they are read from the right, where our own proxies
//! append: the client is the right-most address that is not itself a trusted proxy. Entries to
//! its left were written by the client or by proxies we do not know, and are never looked at.
//! actix's `ConnectionInfo::realip_remote_addr` believes the headers from anyone: do not use it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use actix_web::http::header::{
    HeaderMap, HeaderName, FORWARDED, X_FORWARDED_FOR, X_FORWARDED_PROTO,
};
use actix_web::HttpRequest;

use crate::config::TrustedProxies;

/// The address of the client: for throttling and anything else that keys on who is asking.
pub fn client_address(req: &HttpRequest, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer(req);
    forwarded_hop(peer, req.headers(), trusted).map_or(peer, |hop| hop.address)
}

/// Whether the client reached us over HTTPS: the connection's own scheme, or what a trusted
/// proxy says it received.
pub fn is_https(req: &HttpRequest, trusted: &TrustedProxies) -> bool {
    let connection = req.app_config().secure();
    forwarded_hop(peer(req), req.headers(), trusted)
        .and_then(|hop| hop.https)
        .unwrap_or(connection)
}

/// A request without a TCP peer (a unit test's) counts as one unknown client.
fn peer(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical())
}

/// The client as the trusted proxies describe it.
#[derive(Debug, PartialEq, Eq)]
struct Hop {
    address: IpAddr,
    /// `Some` when the hop states its scheme.
    https: Option<bool>,
}

/// One entry of a forwarding chain: the node (`None` when absent, `unknown`, obfuscated or
/// unreadable) and the scheme it was reached over, if stated.
#[derive(Debug)]
struct Entry {
    node: Option<IpAddr>,
    https: Option<bool>,
}

/// `None` when the headers are not to be believed: the peer is not a trusted proxy, or it
/// forwarded nothing.
fn forwarded_hop(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> Option<Hop> {
    if !trusted.contains(peer) {
        return None;
    }
    let chain = if headers.contains_key(FORWARDED) {
        forwarded_entries(headers)
    } else {
        x_forwarded_entries(headers)
    };
    // Walk from the right past our own proxies; stop at the first entry that is not one (or
    // cannot be read), or at the left-most when every hop is ours.
    let chosen = chain
        .iter()
        .rev()
        .find(|entry| !entry.node.is_some_and(|node| trusted.contains(node)))
        .or(chain.first())?;
    Some(Hop {
        // An entry we cannot read says nothing about the client: the peer is all we know.
        address: chosen.node.unwrap_or(peer),
        https: chosen.https,
    })
}

/// RFC 7239 §4: `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`, over one or
/// more header lines.
fn forwarded_entries(headers: &HeaderMap) -> Vec<Entry> {
    let mut entries = Vec::new();
    for value in headers.get_all(FORWARDED) {
        let Ok(value) = value.to_str() else {
            entries.push(Entry {
                node: None,
                https: None,
            });
            continue;
        };
        for element in split_unquoted(value, ',') {
            let mut entry = Entry {
                node: None,
                https: None,
            };
            for pair in split_unquoted(element, ';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = unquote(value.trim());
                match name.trim().to_ascii_lowercase().as_str() {
                    "for" => entry.node = node(&value),
                    "proto" => entry.https = scheme(&value),
                    _ => {}
                }
            }
            entries.push(entry);
        }
    }
    entries
}

/// `X-Forwarded-For: client, proxy1, proxy2`, with `X-Forwarded-Proto` beside it: one scheme
/// per entry when a proxy appends to it, else one scheme (the right-most) for the client's hop.
fn x_forwarded_entries(headers: &HeaderMap) -> Vec<Entry> {
    // A value that is not text still counts as one (unreadable) entry, so it stops the walk.
    let list = |name: &HeaderName| -> Vec<String> {
        headers
            .get_all(name)
            .flat_map(|v| v.to_str().unwrap_or("?").split(','))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let schemes: Vec<Option<bool>> = list(&X_FORWARDED_PROTO).iter().map(|s| scheme(s)).collect();
    let mut entries: Vec<Entry> = list(&X_FORWARDED_FOR)
        .iter()
        .map(|s| Entry {
            node: node(s),
            https: None,
        })
        .collect();
    if entries.len() == schemes.len() {
        for (entry, https) in entries.iter_mut().zip(schemes) {
            entry.https = https;
        }
    } else if let Some(https) = schemes.last().copied() {
        if entries.is_empty() {
            // A proxy that states the scheme only: the peer is the client's address.
            entries.push(Entry { node: None, https });
        } else {
            for entry in &mut entries {
                entry.https = https;
            }
        }
    }
    entries
}

/// A node of either header: `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, or a bare `2001:db8::1` (X-Forwarded-For). `unknown` and obfuscated
/// identifiers (`_hidden`, RFC 7239 §6.3) are not addresses.
fn node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let address = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        IpAddr::V6(inside.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(address) = text.parse::<IpAddr>() {
        address
    } else {
        // `a.b.c.d:port`; more colons would make it an IPv6 address, parsed above.
        let (host, port) = text.split_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse::<Ipv4Addr>().ok()?)
    };
    Some(address.to_canonical())
}

/// RFC 7239 §6: a port number, or an obfuscated one (`_` then letters, digits, `.`, `_`, `-`).
fn is_port(text: &str) -> bool {
    text.parse::<u16>().is_ok()
        || text.strip_prefix('_').is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
}

fn scheme(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "https" => Some(true),
        "http" => Some(false),
        _ => None,
    }
}

/// Splits on `separator` outside double quotes (RFC 7230 quoted-string, with `\` escapes).
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            out
        }
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn trusted(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(ranges.iter().copied()).expect("valid ranges")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    /// Request headers as (name, value), in the order they arrive.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    /// (peer, headers) -> (client address, https) under `trusted`.
    fn resolve(trusted: &TrustedProxies, peer: &str, headers: &[(&str, &str)]) -> (IpAddr, bool) {
        let mut req = TestRequest::default().peer_addr(std::net::SocketAddr::new(ip(peer), 40000));
        for (name, value) in headers {
            req = req.append_header((*name, *value));
        }
        let req = req.to_http_request();
        (client_address(&req, trusted), is_https(&req, trusted))
    }

    #[test]
    fn no_proxies_configured_the_peer_wins() {
        let none = TrustedProxies::default();
        for headers in [
            vec![],
            vec![("x-forwarded-for", "198.51.100.7")],
            vec![("forwarded", "for=198.51.100.7;proto=https")],
            vec![("x-forwarded-proto", "https")],
        ] {
            assert_eq!(
                resolve(&none, "203.0.113.9", &headers),
                (ip("203.0.113.9"), false),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn an_untrusted_peer_sending_forwarding_headers_is_ignored() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let spoofed = [
            ("x-forwarded-for", "10.0.0.5, 198.51.100.7"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "for=198.51.100.7;proto=https"),
        ];
        assert_eq!(
            resolve(&proxies, "203.0.113.9", &spoofed),
            (ip("203.0.113.9"), false)
        );
    }

    #[test]
    fn x_forwarded_for_chains_from_a_trusted_peer() {
        let proxies = trusted(&["10.0.0.0/8", "192.0.2.1"]);
        let table: &[(Headers, &str, bool)] = &[
            // One proxy: the address it appended.
            (
                &[("x-forwarded-for", "198.51.100.7")],
                "198.51.100.7",
                false,
            ),
            // The client wrote the left entries itself: they are not looked at.
            (
                &[("x-forwarded-for", "1.2.3.4, 10.9.9.9, 198.51.100.7")],
                "198.51.100.7",
                false,
            ),
            // Two of our proxies on the right: skipped.
            (
                &[(
                    "x-forwarded-for",
                    "6.6.6.6, 198.51.100.7, 192.0.2.1, 10.0.0.2",
                )],
                "198.51.100.7",
                false,
            ),
            // Split over two header lines, in order.
            (
                &[
                    ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
                    ("x-forwarded-for", "10.0.0.2"),
                ],
                "198.51.100.7",
                false,
            ),
            // Every hop is ours: the left-most is where the request started.
            (
                &[("x-forwarded-for", "10.0.0.3, 10.0.0.2")],
                "10.0.0.3",
                false,
            ),
            // Ports and brackets, as some load balancers write them.
            (
                &[("x-forwarded-for", "198.51.100.7:5123")],
                "198.51.100.7",
                false,
            ),
            (
                &[("x-forwarded-for", "198.51.100.7:_lb1")],
                "198.51.100.7",
                false,
            ),
            (
                &[("x-forwarded-for", "[2001:db8::7]:5123")],
                "2001:db8::7",
                false,
            ),
            (&[("x-forwarded-for", "2001:db8::7")], "2001:db8::7", false),
            // One scheme from the proxy for the client's hop.
            (
                &[
                    ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
                    ("x-forwarded-proto", "https"),
                ],
                "198.51.100.7",
                true,
            ),
            // A scheme per hop: the client's hop says; the spoofed one does not count.
            (
                &[
                    ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2"),
                    ("x-forwarded-proto", "https, https, http"),
                ],
                "198.51.100.7",
                true,
            ),
            (
                &[
                    ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
                    ("x-forwarded-proto", "https, http"),
                ],
                "198.51.100.7",
                false,
            ),
            // The scheme alone: the peer is the client.
            (&[("x-forwarded-proto", "HTTPS")], "10.0.0.1", true),
        ];
        for (headers, client, https) in table {
            assert_eq!(
                resolve(&proxies, "10.0.0.1", headers),
                (ip(client), *https),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn forwarded_with_quoted_ipv6_ports_and_proto() {
        let proxies = trusted(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let table: &[(&str, &str, bool)] = &[
            ("for=198.51.100.7", "198.51.100.7", false),
            ("for=198.51.100.7;proto=https", "198.51.100.7", true),
            (
                "For=\"198.51.100.7:4711\";Proto=HTTPS",
                "198.51.100.7",
                true,
            ),
            ("for=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17", false),
            (
                "for=\"[2001:db8:cafe::17]:4711\";proto=https;by=10.0.0.1",
                "2001:db8:cafe::17",
                true,
            ),
            // The client's own element on the left, with a scheme it made up: ignored.
            (
                "for=6.6.6.6;proto=https, for=198.51.100.7;proto=http",
                "198.51.100.7",
                false,
            ),
            // Our proxies on the right are skipped; the client's hop carries its scheme.
            (
                "for=198.51.100.7;proto=https, for=\"[2001:db8:ffff::2]\";proto=http, for=10.0.0.9",
                "198.51.100.7",
                true,
            ),
            // Separators inside quotes do not split.
            (
                "for=\"[2001:db8::1]:80\";host=\"a,b;c\";proto=https",
                "2001:db8::1",
                true,
            ),
            // Only the scheme: the peer is the client.
            ("proto=https", "10.0.0.1", true),
        ];
        for (value, client, https) in table {
            assert_eq!(
                resolve(&proxies, "10.0.0.1", &[("forwarded", value)]),
                (ip(client), *https),
                "{value}"
            );
        }
        // `Forwarded` wins over the older headers when both are sent.
        assert_eq!(
            resolve(
                &proxies,
                "10.0.0.1",
                &[
                    ("forwarded", "for=198.51.100.7"),
                    ("x-forwarded-for", "203.0.113.1"),
                ]
            ),
            (ip("198.51.100.7"), false)
        );
    }

    #[test]
    fn garbage_falls_back_to_the_peer() {
        let proxies = trusted(&["10.0.0.0/8"]);
        for headers in [
            vec![("x-forwarded-for", "not-an-address")],
            vec![("x-forwarded-for", "198.51.100.7, garbage")],
            vec![("x-forwarded-for", "")],
            vec![("x-forwarded-for", "999.1.1.1")],
            vec![("x-forwarded-for", "[::1")],
            vec![("x-forwarded-for", "[::1]x")],
            vec![("forwarded", "for=unknown")],
            vec![("forwarded", "for=_hidden;proto=http")],
            vec![("forwarded", "198.51.100.7")],
            vec![("forwarded", "for=198.51.100.7, for=\"[zz::1]\"")],
            vec![("forwarded", "for=[2001:db8::1]:x, for=\"1.2.3.4:5:6\"")],
            vec![("x-forwarded-proto", "gopher")],
        ] {
            assert_eq!(
                resolve(&proxies, "10.0.0.1", &headers),
                (ip("10.0.0.1"), false),
                "{headers:?}"
            );
        }
        // An unreadable hop hides what is left of it, even a readable address.
        assert_eq!(
            resolve(
                &proxies,
                "10.0.0.1",
                &[("x-forwarded-for", "198.51.100.7, unknown, 10.0.0.2")]
            ),
            (ip("10.0.0.1"), false)
        );
    }

    #[test]
    fn ipv6_ranges_and_v4_mapped_peers() {
        let proxies = trusted(&["2001:db8::/32", "10.0.0.0/8"]);
        assert_eq!(
            resolve(
                &proxies,
                "2001:db8::1",
                &[("x-forwarded-for", "2001:db8:1::9, 2600::1")]
            ),
            (ip("2600::1"), false)
        );
        assert_eq!(
            resolve(&proxies, "2001:db9::1", &[("x-forwarded-for", "2600::1")]),
            (ip("2001:db9::1"), false),
            "outside the IPv6 range"
        );
        // A dual-stack socket shows an IPv4 proxy as ::ffff:10.0.0.1.
        assert_eq!(
            resolve(
                &proxies,
                "::ffff:10.0.0.1",
                &[("x-forwarded-for", "::ffff:198.51.100.7")]
            ),
            (ip("198.51.100.7"), false)
        );
        assert_eq!(
            resolve(&proxies, "::ffff:203.0.113.9", &[]),
            (ip("203.0.113.9"), false)
        );
    }
}
