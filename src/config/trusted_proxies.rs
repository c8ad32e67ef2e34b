//! `server.trusted_proxies`: the address ranges whose forwarding headers Vestibule believes.
//! Empty by default: then no `Forwarded` or `X-Forwarded-*` header is believed, whoever sends it.
//! `crate::http::client_address` applies it; this module only parses and matches.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// CIDR ranges (IPv4 and IPv6) and single addresses of the reverse proxies in front of us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a range of one); the error names
    /// the key, since it reaches the operator through the file's or the environment's error.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        entries
            .into_iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "server.trusted_proxies: {entry:?} is not an IP address or a CIDR \
                             range like 10.0.0.0/8 or 2001:db8::/32"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of the proxies. An IPv4 peer seen on a dual-stack socket arrives as
    /// `::ffff:a.b.c.d`; it matches IPv4 ranges as the operator wrote them.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.0
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }
}

/// A TOML list of strings, or one string of comma-separated entries: the environment override
/// (`VESTIBULE_SERVER__TRUSTED_PROXIES=10.0.0.0/8,::1`) can only carry a string.
impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = TrustedProxies;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of IP addresses or CIDR ranges")
            }

            fn visit_str<E: de::Error>(self, list: &str) -> Result<Self::Value, E> {
                let entries = list.split(',').filter(|e| !e.trim().is_empty());
                TrustedProxies::parse(entries).map_err(E::custom)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<String> = Vec::new();
                while let Some(entry) = seq.next_element()? {
                    entries.push(entry);
                }
                TrustedProxies::parse(entries.iter().map(String::as_str)).map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_any(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn ranges_and_single_addresses_of_both_families() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"])
            .expect("valid");
        for (address, inside) in [
            ("10.1.2.3", true),
            ("11.0.0.1", false),
            ("192.0.2.7", true),
            ("192.0.2.8", false),
            ("2001:db8:1::5", true),
            ("2001:db9::1", false),
            ("::1", true),
            ("::ffff:10.9.9.9", true),
            ("::ffff:11.0.0.1", false),
        ] {
            assert_eq!(trusted.contains(ip(address)), inside, "{address}");
        }
        assert!(TrustedProxies::default().is_empty());
        assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
    }

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vestibule.toml");
        std::fs::write(&path, text).expect("write");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with_env(Some(&path), &env).map_err(|e| e.to_string())
    }

    #[test]
    fn loaded_from_the_file_or_the_environment_and_refused_with_the_key() {
        let config = load(
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n",
            &[],
        )
        .expect("valid");
        assert!(config.server.trusted_proxies.contains(ip("10.0.0.9")));
        assert!(config.server.trusted_proxies.contains(ip("::1")));
        assert!(load("", &[])
            .expect("valid")
            .server
            .trusted_proxies
            .is_empty());

        let overridden = load(
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
            &[(
                "VESTIBULE_SERVER__TRUSTED_PROXIES",
                "192.0.2.0/24, 2001:db8::/32",
            )],
        )
        .expect("valid");
        let trusted = &overridden.server.trusted_proxies;
        assert!(trusted.contains(ip("192.0.2.1")) && trusted.contains(ip("2001:db8::1")));
        assert!(
            !trusted.contains(ip("10.0.0.9")),
            "the override replaces the list"
        );

        let err = load("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", &[]).unwrap_err();
        assert!(
            err.contains("server.trusted_proxies") && err.contains("10.0.0.0/33"),
            "{err}"
        );
        assert!(err.contains("line 2"), "{err}");
        let err = load(
            "",
            &[(
                "VESTIBULE_SERVER__TRUSTED_PROXIES",
                "10.0.0.0/8,proxy.internal",
            )],
        )
        .unwrap_err();
        assert!(
            err.contains("VESTIBULE_SERVER__TRUSTED_PROXIES") && err.contains("proxy.internal"),
            "{err}"
        );
        let err = load("[server]\ntrusted_proxies = 10\n", &[]).unwrap_err();
        assert!(err.contains("trusted_proxies"), "{err}");
    }
}
