//! Webhooks for integrators (chapter 6 of the design): which changes are
//! published as events, whom an event concerns, where a delivery may be
//! sent (no loopback, private or link-local address unless allowed), and
//! when a failed delivery is tried again.

use crate::validation::{Checks, Invalid};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An event type of the published catalogue, with the audited change it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    /// `booking.approved`: what subscriptions name.
    pub name: &'static str,
    /// The audit action of the change (`booking.approve`).
    pub action: &'static str,
    /// What it means, for an integrator.
    pub description: &'static str,
}

const fn ev(name: &'static str, action: &'static str, description: &'static str) -> EventType {
    EventType {
        name,
        action,
        description,
    }
}

/// The published catalogue of event types.
pub const EVENT_TYPES: &[EventType] = &[
    ev(
        "booking.created",
        "booking.create",
        "A booking was requested (pending or approved at once).",
    ),
    ev("booking.approved", "booking.approve", "A pending booking was approved."),
    ev("booking.rejected", "booking.reject", "A pending booking was rejected."),
    ev("booking.cancelled", "booking.cancel", "A booking was cancelled."),
    ev("booking.checked_in", "booking.check_in", "The user was checked in."),
    ev(
        "booking.checked_out",
        "booking.check_out",
        "The user was checked out; the booking is completed.",
    ),
    ev("booking.no_show", "booking.no_show", "The user did not come."),
    ev(
        "booking.expired",
        "booking.expire",
        "A booking still pending at its start expired.",
    ),
    ev(
        "service_order.created",
        "service_order.create",
        "A service order was placed.",
    ),
    ev(
        "service_order.accepted",
        "service_order.accept",
        "A service order was accepted.",
    ),
    ev(
        "service_order.rejected",
        "service_order.reject",
        "A service order was rejected.",
    ),
    ev(
        "service_order.samples_received",
        "service_order.receive",
        "The samples of an order were received.",
    ),
    ev(
        "service_order.completed",
        "service_order.complete",
        "A service order was completed.",
    ),
    ev(
        "service_order.cancelled",
        "service_order.cancel",
        "A service order was cancelled.",
    ),
    ev(
        "usage.recorded",
        "usage.record",
        "A use of an instrument was recorded at check-out.",
    ),
    ev(
        "usage.recorded",
        "usage.walk_in",
        "A walk-in use of an instrument was recorded.",
    ),
    ev(
        "charge.created",
        "charge.create",
        "A charge (or an adjustment of one) was made.",
    ),
    ev(
        "statement.generated",
        "statement.generate",
        "A monthly statement was drafted.",
    ),
    ev(
        "statement.issued",
        "statement.issue",
        "A statement was issued to its payer.",
    ),
    ev(
        "statement.paid",
        "statement.pay",
        "A statement's payment was confirmed.",
    ),
    ev(
        "statement.disputed",
        "statement.dispute",
        "A statement was disputed by its payer.",
    ),
    ev(
        "statement.resolved",
        "statement.resolve",
        "A dispute over a statement was resolved.",
    ),
    ev(
        "instrument.created",
        "instrument.create",
        "An instrument was registered.",
    ),
    ev(
        "instrument.updated",
        "instrument.update",
        "An instrument's record or status changed.",
    ),
    ev(
        "listing.submitted",
        "listing.submit",
        "An instrument was submitted for listing.",
    ),
    ev(
        "listing.approved",
        "listing.approve",
        "An instrument's listing was approved.",
    ),
    ev(
        "listing.rejected",
        "listing.reject",
        "An instrument's listing was rejected.",
    ),
    ev(
        "fee_standard.proposed",
        "fee_standard.propose",
        "A fee standard was proposed.",
    ),
    ev(
        "fee_standard.approved",
        "fee_standard.approve",
        "A fee standard was approved.",
    ),
    ev(
        "fee_standard.rejected",
        "fee_standard.reject",
        "A fee standard was rejected.",
    ),
    ev(
        "subsidy_grant.applied",
        "subsidy_grant.apply",
        "A subsidy grant was applied for.",
    ),
    ev(
        "subsidy_grant.approved",
        "subsidy_grant.approve",
        "A subsidy grant was approved.",
    ),
    ev(
        "subsidy_grant.rejected",
        "subsidy_grant.reject",
        "A subsidy grant was rejected.",
    ),
    ev(
        "purchase_review.filed",
        "purchase_review.file",
        "A purchase review was filed.",
    ),
    ev(
        "purchase_review.approved",
        "purchase_review.approve",
        "A purchase review was approved.",
    ),
    ev(
        "purchase_review.rejected",
        "purchase_review.reject",
        "A purchase review was rejected.",
    ),
    ev(
        "purchase_review.withdrawn",
        "purchase_review.withdraw",
        "A purchase review was withdrawn.",
    ),
    ev(
        "assessment.published",
        "assessment.publish",
        "An assessment's results were published.",
    ),
];

/// The event type a test delivery (`ping`) carries; never produced by a change.
pub const PING: &str = "webhook.ping";

/// The event type an audited change publishes, if any.
pub fn event_type_of(action: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().find(|e| e.action == action).map(|e| e.name)
}

/// The distinct event type names of the catalogue, in catalogue order.
pub fn event_type_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for e in EVENT_TYPES {
        if !names.contains(&e.name) {
            names.push(e.name);
        }
    }
    names
}

/// Whether a subscription to `subscribed` receives `event_type`: by name,
/// or `*` for every event.
pub fn subscribed_to(subscribed: &[String], event_type: &str) -> bool {
    subscribed.iter().any(|s| s == "*" || s == event_type)
}

/// Checks the event types of a subscription: at least one, each from the
/// catalogue (or `*`), no repeats.
///
/// # Errors
/// [`Invalid`] naming `event_types` (or one element of it).
pub fn check_event_types(types: &[String]) -> Result<(), Invalid> {
    let mut checks = Checks::new();
    checks.require(!types.is_empty(), "event_types", "non_empty", || {
        "name at least one event type".into()
    });
    checks.require(types.len() <= 64, "event_types", "length", || {
        "at most 64 event types".into()
    });
    let known = event_type_names();
    for (i, t) in types.iter().enumerate() {
        checks.require(
            t == "*" || known.contains(&t.as_str()),
            &format!("event_types/{i}"),
            "event_type",
            || format!("`{t}` is not an event type of the catalogue (GET /api/v1/webhooks/event-types)"),
        );
        checks.require(!types[..i].contains(t), &format!("event_types/{i}"), "unique", || {
            format!("`{t}` is named twice")
        });
    }
    checks.finish()
}

/// Why an address may not receive deliveries, or `None` when it is public.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() {
        Some("the broadcast address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if a >= 240 {
        Some("a reserved address")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("an IETF protocol address")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking address")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if first & 0xffc0 == 0xfec0 {
        Some("a site-local address")
    } else if ip.segments()[..6] == [0, 0, 0, 0, 0, 0] {
        // IPv4-compatible (deprecated) addresses reach IPv4 hosts.
        Some("an IPv4-compatible address")
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        Some("a NAT64 address")
    } else {
        None
    }
}

/// Hosts, addresses and networks deliveries may reach although they are
/// not public (configuration: `LABSHARE_WEBHOOK_ALLOW`). An allowed host may
/// also be reached over plain `http`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    hosts: Vec<String>,
    networks: Vec<(IpAddr, u8)>,
}

impl AllowList {
    /// Reads a comma-separated list of host names, addresses and CIDR networks.
    ///
    /// # Errors
    /// The entry that is none of these.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut list = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bare = entry.trim_start_matches('[').trim_end_matches(']');
            if let Some((addr, bits)) = bare.split_once('/') {
                let ip: IpAddr = addr.parse().map_err(|_| entry.to_owned())?;
                let bits: u8 = bits.parse().map_err(|_| entry.to_owned())?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if bits > max {
                    return Err(entry.to_owned());
                }
                list.networks.push((ip, bits));
            } else if let Ok(ip) = bare.parse::<IpAddr>() {
                list.networks.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
            } else if !bare.is_empty() && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                list.hosts.push(bare.to_ascii_lowercase());
            } else {
                return Err(entry.to_owned());
            }
        }
        Ok(list)
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.networks.is_empty()
    }

    /// Whether the host name (or literal address) is allowed as such.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.allows_ip(ip);
        }
        self.hosts.contains(&host)
    }

    /// Whether an address lies in an allowed network.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.networks.iter().any(|(net, bits)| in_network(ip, *net, *bits))
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Why a delivery may not go to `host` resolved to `addresses`, or `None`
/// when every address is public or allowed. All addresses are checked, not
/// only the first, so that a name cannot hide a private address behind a
/// public one.
pub fn refuse_destination(host: &str, addresses: &[IpAddr], allow: &AllowList) -> Option<String> {
    if allow.allows_host(host) {
        return None;
    }
    if addresses.is_empty() {
        return Some(format!("`{host}` does not resolve to any address"));
    }
    addresses.iter().find_map(|ip| {
        if allow.allows_ip(*ip) {
            return None;
        }
        // The address a name resolves to is not told: the check is no
        // window into the platform's own network.
        non_public(*ip).map(
            |why| match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                Ok(_) => format!("`{host}` is {why}"),
                Err(_) => format!("`{host}` resolves to {why}"),
            },
        )
    })
}

/// How many attempts a delivery gets before it is given up as failed (about
/// 14 hours of retries).
pub const MAX_ATTEMPTS: i32 = 12;

/// The wait before the next attempt after `attempts` failed ones (30 s,
/// doubling, at most 6 h), or `None` when the delivery is given up.
pub fn retry_after(attempts: i32) -> Option<chrono::Duration> {
    if !(1..MAX_ATTEMPTS).contains(&attempts) {
        return None;
    }
    let seconds = 30_i64.saturating_mul(1_i64 << (attempts - 1).min(20));
    Some(chrono::Duration::seconds(seconds.min(6 * 3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "ff02::1",
        ] {
            assert!(non_public(ip(a)).is_some(), "{a} should not be public");
        }
        for a in ["8.8.8.8", "202.103.224.68", "100.128.0.1", "2001:4860:4860::8888"] {
            assert_eq!(non_public(ip(a)), None, "{a} is public");
        }
    }

    #[test]
    fn an_allow_list_admits_hosts_addresses_and_networks() {
        let allow = AllowList::parse("hooks.internal, 127.0.0.1, 10.20.0.0/16, [fd00::1]").unwrap_or_default();
        assert!(allow.allows_host("HOOKS.internal"));
        assert!(allow.allows_host("127.0.0.1"));
        assert!(allow.allows_ip(ip("::ffff:127.0.0.1")));
        assert!(allow.allows_ip(ip("10.20.3.4")));
        assert!(!allow.allows_ip(ip("10.21.3.4")));
        assert!(allow.allows_ip(ip("fd00::1")));
        assert!(!allow.allows_host("localhost"));
        assert_eq!(AllowList::parse("10.0.0.0/33"), Err("10.0.0.0/33".to_owned()));
        assert_eq!(AllowList::parse("bad host"), Err("bad host".to_owned()));
    }

    #[test]
    fn a_name_hiding_a_private_address_behind_a_public_one_is_refused() {
        let allow = AllowList::default();
        assert!(refuse_destination("x.example", &[ip("8.8.8.8"), ip("10.0.0.1")], &allow).is_some());
        assert_eq!(refuse_destination("x.example", &[ip("8.8.8.8")], &allow), None);
        assert!(refuse_destination("x.example", &[], &allow).is_some());
    }

    #[test]
    fn retries_back_off_exponentially_up_to_six_hours_then_give_up() {
        let s = |n| retry_after(n).map(|d| d.num_seconds());
        assert_eq!(s(1), Some(30));
        assert_eq!(s(2), Some(60));
        assert_eq!(s(3), Some(120));
        assert_eq!(s(9), Some(7680));
        assert_eq!(s(11), Some(6 * 3600));
        assert_eq!(s(MAX_ATTEMPTS), None);
    }

    #[test]
    fn changes_map_to_catalogue_events_and_subscriptions_are_checked() {
        assert_eq!(event_type_of("booking.approve"), Some("booking.approved"));
        assert_eq!(event_type_of("usage.walk_in"), Some("usage.recorded"));
        assert_eq!(event_type_of("calendar_token.rotate"), None);
        assert!(check_event_types(&["booking.approved".into(), "*".into()]).is_ok());
        assert!(check_event_types(&[]).is_err());
        assert!(check_event_types(&["booking.approve".into()]).is_err());
        assert!(subscribed_to(&["*".into()], "charge.created"));
        assert!(!subscribed_to(&["booking.created".into()], "charge.created"));
    }
}
