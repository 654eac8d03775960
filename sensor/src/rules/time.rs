//! Timestamp formatting without a timezone database: alerts use UTC, as
//! Falco's JSON `time` does.

/// (year, month, day, hour, minute, second, nanos) in UTC.
#[allow(clippy::many_single_char_names)] // the algorithm's published names
fn civil(ns: u64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = ns / 1_000_000_000;
    let nanos = u32::try_from(ns % 1_000_000_000).unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let small = |v: i64| u32::try_from(v).unwrap_or(0);
    let small_u = |v: u64| u32::try_from(v).unwrap_or(0);
    (y, small(m), small(d), small_u(hh), small_u(mm), small_u(ss), nanos)
}

/// `%FT%T.%09luZ`, e.g. `2023-05-25T13:44:05.478445995Z`.
#[must_use]
#[allow(clippy::many_single_char_names)]
pub fn format_rfc3339(ns: u64) -> String {
    let (y, mo, d, h, mi, s, n) = civil(ns);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{n:09}Z")
}

/// `HH:MM:SS.nnnnnnnnn` (Falco's text-output time, here in UTC).
#[must_use]
pub fn format_hms(ns: u64) -> String {
    let (_, _, _, h, mi, s, n) = civil(ns);
    format!("{h:02}:{mi:02}:{s:02}.{n:09}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::format_rfc3339(1_685_022_245_478_445_995), "2023-05-25T13:44:05.478445995Z");
        assert_eq!(super::format_hms(1_685_022_245_478_445_995), "13:44:05.478445995");
        assert_eq!(super::format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(super::format_rfc3339(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z");
    }
}
