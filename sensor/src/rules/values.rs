//! Parsing of typed literal values the way libsinsp parses filter values
//! (`value_parser.cpp` `string_to_rawval`, `sinsp_numparser`, `tuples.cpp`).

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

/// A CIDR network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// `sinsp_numparser::parseu8`: `sscanf("%u")` with nothing after, cast to 8 bits.
fn parse_c_u8(s: &str) -> Option<u8> {
    parse_c_int(s).map(|v| v as u8)
}

impl IpNet {
    /// A network as libsinsp accepts it for IPNET fields: `a.b.c.d/len`
    /// (len ≤ 32) or `v6addr/len` (1 ≤ len ≤ 128). The `/len` is mandatory.
    #[must_use]
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = s.split_once('/')?;
        if s.contains('.') {
            let addr: Ipv4Addr = a.parse().ok()?;
            let prefix = parse_c_u8(p).filter(|p| *p <= 32)?;
            Some(IpNet { addr: IpAddr::V4(addr), prefix })
        } else {
            let addr: Ipv6Addr = a.parse().ok()?;
            let prefix = parse_c_u8(p).filter(|p| (1..=128).contains(p))?;
            Some(IpNet { addr: IpAddr::V6(addr), prefix })
        }
    }

    /// Whether `ip` is in the network. An address of the other family never
    /// is (libsinsp compares IPv4 networks with IPv4 addresses only).
    #[must_use]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            if prefix == 0 { 0 } else { bits >> (width - u32::from(prefix)) }
        }
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(n)), 32, self.prefix) == masked(u128::from(u32::from(*a)), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(*a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// An IPADDR value: IPv4 when it contains a dot, IPv6 otherwise.
#[must_use]
pub fn parse_ipaddr(s: &str) -> Option<IpAddr> {
    if s.contains('.') {
        s.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    }
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `sscanf("%d%c")` / `sscanf("%u%c")` == 1: optional leading white space,
/// an optional sign, decimal digits, and nothing else (no hex, no fraction,
/// no trailing blank). Out-of-range values saturate like `strtol`.
#[must_use]
pub fn parse_c_int(s: &str) -> Option<i128> {
    let s = s.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let limit = i128::from(u64::MAX);
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = (v * 10 + i128::from(b - b'0')).min(limit);
    }
    Some(if neg { -v } else { v })
}

/// Integer text from an event (decimal with optional sign, or `0x` hex),
/// used where a value's type is only known at run time.
#[must_use]
pub fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `true`/`false` as Falco's BOOL filter values.
#[must_use]
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

static SERVICES: Mutex<()> = Mutex::new(());

/// A port number, or a service name from the services database (libsinsp
/// uses `getservbyname`). Numbers keep their low 16 bits like libsinsp's
/// `uint16_t` store; the empty string is port 0.
#[must_use]
pub fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() {
        return Some(0);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // `std::stoi`: values beyond `int` throw.
        let v: i32 = s.parse().ok()?;
        return Some(v as u16);
    }
    let name = CString::new(s).ok()?;
    // getservbyname returns a pointer into static storage: serialize callers
    // and copy the port out before releasing the lock.
    let _lock = SERVICES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: `name` is a valid C string; a null protocol is allowed; the
    // returned entry is only read while the lock is held.
    let ent = unsafe { libc::getservbyname(name.as_ptr(), std::ptr::null()) };
    if ent.is_null() {
        return None;
    }
    // SAFETY: non-null entries point to a valid `servent`.
    let port = unsafe { (*ent).s_port };
    Some(u16::from_be(port as u16))
}

/// `sinsp_utils::unhex`: an even number of hex digits (possibly none).
#[must_use]
pub fn parse_hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // libs value_parser.cpp (PT_IPV4NET/PT_IPV6NET) and tuples.cpp `ipv6net`.
    #[test]
    fn nets() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(&"10.1.2.3".parse().unwrap()));
        assert!(!n.contains(&"11.1.2.3".parse().unwrap()));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(&"1.2.3.4".parse().unwrap()));
        assert!(IpNet::parse("fd00::/8").unwrap().contains(&"fd12::1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
        // The prefix is mandatory; IPv6 /0 is rejected.
        assert!(IpNet::parse("1.2.3.4").is_none());
        assert!(IpNet::parse("::/0").is_none());
        // No IPv4-mapped matching.
        assert!(!n.contains(&"::ffff:10.1.2.3".parse().unwrap()));
    }

    // libs utils.cpp `sinsp_numparser` (sscanf "%d%c").
    #[test]
    fn ints() {
        assert_eq!(parse_c_int("-1"), Some(-1));
        assert_eq!(parse_c_int("+7"), Some(7));
        assert_eq!(parse_c_int(" 5"), Some(5));
        assert_eq!(parse_c_int("5 "), None);
        assert_eq!(parse_c_int("0x10"), None);
        assert_eq!(parse_c_int("1.5"), None);
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_hex_bytes("cafebabe"), Some(vec![0xca, 0xfe, 0xba, 0xbe]));
        assert_eq!(parse_hex_bytes("caf"), None);
        assert_eq!(parse_hex_bytes(""), Some(vec![]));
        assert_eq!(parse_hex_bytes("abc_"), None);
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("22"), Some(22));
        assert_eq!(parse_port(""), Some(0));
        assert_eq!(parse_port("70000"), Some(4464));
        assert_eq!(parse_port("no-such-service-x"), None);
        if std::path::Path::new("/etc/services").exists() {
            assert_eq!(parse_port("ssh"), Some(22));
        }
    }

    #[test]
    fn ipaddrs() {
        assert!(parse_ipaddr("10.0.0.1").is_some());
        assert!(parse_ipaddr("::1").is_some());
        assert!(parse_ipaddr("10.0.0.0/8").is_none());
        assert!(parse_ipaddr("::ffff:1.2.3.4").is_none());
    }
}
