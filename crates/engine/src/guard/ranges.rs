//! The address ranges the target guard refuses: one table, here, and nowhere else.
//!
//! Source: IANA's IPv4 and IPv6 Special-Purpose Address Registries
//! (iana-ipv4-special-registry and iana-ipv6-special-registry, as of 2025), taking every entry that is not
//! globally reachable, plus the multicast blocks, and, conservatively, a few that the registries mark
//! reachable but that are never a customer's API (NAT64's 64:ff9b::/96, all of 192.0.0.0/24 and
//! 2001::/23, the deprecated 6to4 relay anycast). IPv6 outside 2000::/3 (not allocated for global unicast)
//! is refused too, so a range IANA adds later outside it is refused before this table learns its name.

use std::net::IpAddr;
use std::sync::LazyLock;

use ipnet::IpNet;

/// A refused range: the network, what it is, and the document that defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialRange {
    pub network: IpNet,
    pub name: &'static str,
    pub source: &'static str,
}

const TABLE: &[(&str, &str, &str)] = &[
    // IPv4 Special-Purpose Address Registry
    ("0.0.0.0/8", "\"this network\"", "RFC 791"),
    ("10.0.0.0/8", "private use", "RFC 1918"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)", "RFC 6598"),
    ("127.0.0.0/8", "loopback", "RFC 1122"),
    (
        "169.254.0.0/16",
        "link local (includes the cloud metadata service 169.254.169.254)",
        "RFC 3927",
    ),
    ("172.16.0.0/12", "private use", "RFC 1918"),
    ("192.0.0.0/24", "IETF protocol assignments", "RFC 6890"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526"),
    ("192.168.0.0/16", "private use", "RFC 1918"),
    ("198.18.0.0/15", "benchmarking", "RFC 2544"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737"),
    ("224.0.0.0/4", "multicast", "RFC 5771"),
    (
        "240.0.0.0/4",
        "reserved (includes the limited broadcast 255.255.255.255)",
        "RFC 1112, RFC 919",
    ),
    // IPv6 Special-Purpose Address Registry
    ("::/128", "unspecified", "RFC 4291"),
    ("::1/128", "loopback", "RFC 4291"),
    ("::ffff:0:0/96", "IPv4-mapped", "RFC 4291"),
    ("::/96", "IPv4-compatible (deprecated)", "RFC 4291"),
    ("64:ff9b::/96", "IPv4/IPv6 translation (NAT64)", "RFC 6052"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation", "RFC 8215"),
    ("100::/64", "discard-only", "RFC 6666"),
    ("2001::/23", "IETF protocol assignments", "RFC 2928"),
    ("2001::/32", "Teredo", "RFC 4380"),
    ("2001:2::/48", "benchmarking", "RFC 5180"),
    ("2001:db8::/32", "documentation", "RFC 3849"),
    ("2002::/16", "6to4", "RFC 3056"),
    ("3fff::/20", "documentation", "RFC 9637"),
    ("5f00::/16", "segment routing SIDs", "RFC 9602"),
    ("fc00::/7", "unique local", "RFC 4193"),
    ("fe80::/10", "link-local unicast", "RFC 4291"),
    ("fec0::/10", "site-local (deprecated)", "RFC 3879"),
    ("ff00::/8", "multicast", "RFC 4291"),
];

static RANGES: LazyLock<Vec<SpecialRange>> = LazyLock::new(|| {
    TABLE
        .iter()
        .filter_map(|(network, name, source)| {
            network
                .parse()
                .ok()
                .map(|network| SpecialRange { network, name, source })
        })
        .collect()
});

static GLOBAL_UNICAST_V6: LazyLock<Option<IpNet>> = LazyLock::new(|| "2000::/3".parse().ok());

/// The most specific refused range holding `ip`, if any. IPv6 outside 2000::/3 (and not in the table)
/// answers a range named for that.
pub fn special_purpose(ip: IpAddr) -> Option<SpecialRange> {
    let most_specific = RANGES
        .iter()
        .filter(|range| range.network.contains(&ip))
        .max_by_key(|range| range.network.prefix_len())
        .copied();
    if most_specific.is_some() {
        return most_specific;
    }
    match (ip, *GLOBAL_UNICAST_V6) {
        (IpAddr::V6(_), Some(global)) if !global.contains(&ip) => Some(SpecialRange {
            network: global,
            name: "outside 2000::/3, not allocated for global unicast",
            source: "RFC 4291",
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> Option<&'static str> {
        special_purpose(ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"))).map(|r| r.name)
    }

    #[test]
    fn every_table_entry_parses() {
        assert_eq!(RANGES.len(), TABLE.len());
        assert!(GLOBAL_UNICAST_V6.is_some());
    }

    #[test]
    fn each_ipv4_range_is_refused_at_both_edges_and_its_neighbours_are_not() {
        let edges = [
            ("0.0.0.0", "0.255.255.255", None, Some("1.0.0.0")),
            ("10.0.0.0", "10.255.255.255", Some("9.255.255.255"), Some("11.0.0.0")),
            (
                "100.64.0.0",
                "100.127.255.255",
                Some("100.63.255.255"),
                Some("100.128.0.0"),
            ),
            (
                "127.0.0.0",
                "127.255.255.255",
                Some("126.255.255.255"),
                Some("128.0.0.0"),
            ),
            (
                "169.254.0.0",
                "169.254.255.255",
                Some("169.253.255.255"),
                Some("169.255.0.0"),
            ),
            (
                "172.16.0.0",
                "172.31.255.255",
                Some("172.15.255.255"),
                Some("172.32.0.0"),
            ),
            ("192.0.0.0", "192.0.0.255", Some("191.255.255.255"), Some("192.0.1.0")),
            ("192.0.2.0", "192.0.2.255", Some("192.0.1.255"), Some("192.0.3.0")),
            (
                "192.168.0.0",
                "192.168.255.255",
                Some("192.167.255.255"),
                Some("192.169.0.0"),
            ),
            (
                "198.18.0.0",
                "198.19.255.255",
                Some("198.17.255.255"),
                Some("198.20.0.0"),
            ),
            (
                "198.51.100.0",
                "198.51.100.255",
                Some("198.51.99.255"),
                Some("198.51.101.0"),
            ),
            (
                "203.0.113.0",
                "203.0.113.255",
                Some("203.0.112.255"),
                Some("203.0.114.0"),
            ),
            ("224.0.0.0", "239.255.255.255", Some("223.255.255.255"), None),
            ("240.0.0.0", "255.255.255.255", None, None),
        ];
        for (first, last, below, above) in edges {
            assert!(refused(first).is_some(), "{first}");
            assert!(refused(last).is_some(), "{last}");
            for outside in [below, above].into_iter().flatten() {
                assert_eq!(refused(outside), None, "{outside} is public");
            }
        }
    }

    #[test]
    fn the_metadata_service_and_loopback_are_named() {
        assert!(refused("169.254.169.254").is_some_and(|n| n.contains("metadata")));
        assert_eq!(refused("127.0.0.1"), Some("loopback"));
    }

    #[test]
    fn ipv6_special_ranges_are_refused_at_their_edges() {
        let inside = [
            "::",
            "::1",
            "::ffff:0.0.0.0",
            "::ffff:169.254.169.254",
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "64:ff9b::",
            "64:ff9b::ffff:ffff",
            "64:ff9b:1::",
            "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
            "100::",
            "2001::",
            "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db8::",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            "2002::",
            "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff::",
            "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
            "5f00::",
            "fc00::",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::",
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fec0::",
            "ff00::",
            "ff02::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "1::",
            "4000::",
        ];
        for ip in inside {
            assert!(refused(ip).is_some(), "{ip} should be refused");
        }
        let public = [
            "2001:200::",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "2003::",
            "2606:4700::1111",
            "3ffe::",
            "3fff:1000::",
        ];
        for ip in public {
            assert_eq!(refused(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "192.0.1.1",
            "223.255.255.255",
        ] {
            assert_eq!(refused(ip), None, "{ip}");
        }
    }
}

#[cfg(test)]
mod properties {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    /// A random address inside `network`.
    fn inside(network: IpNet, bits: u128) -> IpAddr {
        match network {
            IpNet::V4(n) => {
                let host = (bits as u32) & !u32::from(n.netmask());
                IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | host))
            }
            IpNet::V6(n) => {
                let host = bits & !u128::from(n.netmask());
                IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) | host))
            }
        }
    }

    proptest! {
        #[test]
        fn every_address_in_a_refused_range_is_refused(index in 0..TABLE.len(), bits in any::<u128>()) {
            let range = RANGES[index];
            let ip = inside(range.network, bits);
            prop_assert!(special_purpose(ip).is_some(), "{ip} in {} ({})", range.network, range.name);
        }

        #[test]
        fn addresses_in_public_blocks_pass(block in prop::sample::select(vec![1u8, 8, 23, 45, 93, 104, 151, 185, 208, 212]), rest in any::<u32>()) {
            let ip = IpAddr::V4(Ipv4Addr::from((u32::from(block) << 24) | (rest & 0x00ff_ffff)));
            prop_assert_eq!(special_purpose(ip), None, "{}", ip);
        }

        #[test]
        fn ipv4_mapped_forms_of_any_address_are_refused(v4 in any::<u32>()) {
            let mapped = IpAddr::V6(Ipv4Addr::from(v4).to_ipv6_mapped());
            prop_assert!(special_purpose(mapped).is_some(), "{mapped}");
        }
    }
}
