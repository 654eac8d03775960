//! Event timestamps as Falco prints them, through `jiff` (the project's one
//! date routine). JSON `time` and `evt.time.iso8601` are UTC; the text
//! times (`evt.time`, `evt.datetime`, the alert line's prefix) are in a
//! time zone: Falco uses the host's local time, [`local`] reads it from `TZ`
//! or `/etc/localtime` (UTC when neither is usable).

use jiff::Timestamp;
pub use jiff::tz::TimeZone;

/// The system's local time zone (`TZ`, else `/etc/localtime`, else UTC).
#[must_use]
pub fn local() -> TimeZone {
    TimeZone::system()
}

/// Nanoseconds since the epoch (every u64 is within jiff's range; the
/// fallback only keeps this total).
fn ts(ns: u64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(Timestamp::MAX)
}

/// `%FT%T.%09luZ` in UTC, e.g. `2023-05-25T13:44:05.478445995Z` (JSON `time`).
#[must_use]
pub fn format_rfc3339(ns: u64) -> String {
    ts(ns).strftime("%Y-%m-%dT%H:%M:%S.%NZ").to_string()
}

/// `evt.time.iso8601`: UTC with a numeric offset, `2023-05-25T13:44:05.478445995+0000`.
#[must_use]
pub fn format_iso8601(ns: u64) -> String {
    ts(ns).strftime("%Y-%m-%dT%H:%M:%S.%N+0000").to_string()
}

/// `HH:MM:SS.nnnnnnnnn` in `tz` (`evt.time`, Falco's text-output time).
#[must_use]
pub fn format_hms(ns: u64, tz: &TimeZone) -> String {
    ts(ns).to_zoned_datetime(tz.clone()).strftime("%H:%M:%S.%N").to_string()
}

/// `HH:MM:SS` in `tz` (`evt.time.s`).
#[must_use]
pub fn format_hms_s(ns: u64, tz: &TimeZone) -> String {
    ts(ns).to_zoned_datetime(tz.clone()).strftime("%H:%M:%S").to_string()
}

/// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` in `tz` (`evt.datetime`), or without the
/// fraction (`evt.datetime.s`).
#[must_use]
pub fn format_datetime(ns: u64, tz: &TimeZone, nanos: bool) -> String {
    let fmt = if nanos { "%Y-%m-%d %H:%M:%S.%N" } else { "%Y-%m-%d %H:%M:%S" };
    ts(ns).to_zoned_datetime(tz.clone()).strftime(fmt).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_685_022_245_478_445_995;

    #[test]
    fn utc_formats() {
        assert_eq!(format_rfc3339(T), "2023-05-25T13:44:05.478445995Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_rfc3339(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(format_iso8601(T), "2023-05-25T13:44:05.478445995+0000");
        assert_eq!(format_hms(T, &TimeZone::UTC), "13:44:05.478445995");
        assert_eq!(format_hms_s(T, &TimeZone::UTC), "13:44:05");
        assert_eq!(format_datetime(T, &TimeZone::UTC, true), "2023-05-25 13:44:05.478445995");
        assert_eq!(format_datetime(T, &TimeZone::UTC, false), "2023-05-25 13:44:05");
        assert_eq!(format_rfc3339(u64::MAX), "2554-07-21T23:34:33.709551615Z", "the whole u64 range");
    }

    #[test]
    fn zoned_formats_follow_the_zone_and_its_dst() {
        // POSIX TZ strings need no tz database: CET/CEST with EU rules.
        let berlin = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        assert_eq!(format_hms(T, &berlin), "15:44:05.478445995", "summer: UTC+2");
        let winter = 1_700_000_000_000_000_000; // 2023-11-14T22:13:20Z
        assert_eq!(format_hms(winter, &berlin), "23:13:20.000000000", "winter: UTC+1");
        assert_eq!(format_datetime(winter + 3_600_000_000_000, &berlin, false), "2023-11-15 00:13:20");
        let ny = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        assert_eq!(format_hms_s(T, &ny), "09:44:05");
    }
}
