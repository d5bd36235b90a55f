//! Times on the wire: the SIP `Date` header (RFC 3261 §20.17, an RFC 1123 date in
//! GMT) and RFC 3339 / ISO 8601 UTC timestamps (`2026-11-29T23:05:00Z`, as CPIM
//! `DateTime` and the JS API use). Seconds since the Unix epoch in between; no
//! time zones other than UTC, no leap seconds.

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01 (H. Hinnant's
/// civil-from-days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a civil date (days-from-civil).
fn days(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `Date` header value for `unix` seconds: `Sun, 29 Nov 2026 23:05:00 GMT`.
pub fn sip_date(unix: u64) -> String {
    let d = (unix / 86_400) as i64;
    let s = unix % 86_400;
    let (y, m, day) = civil(d);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(d % 7) as usize],
        day,
        MONTHS[(m - 1) as usize],
        y,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `2026-11-29T23:05:00Z` for `unix` seconds.
pub fn iso8601(unix: u64) -> String {
    let (y, m, d) = civil((unix / 86_400) as i64);
    let s = unix % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn num(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn unix_of(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> Option<u64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let t = days(y, m, d) * 86_400 + i64::from(hh * 3600 + mm * 60 + ss.min(59));
    u64::try_from(t).ok()
}

/// Seconds since the epoch of a `Date` header value (`Sun, 29 Nov 2026 23:05:00
/// GMT`), `None` when it is not one.
pub fn parse_sip_date(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let [_, day, mon, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let m = MONTHS.iter().position(|x| x == mon)? as u32 + 1;
    let t: Vec<&str> = time.split(':').collect();
    let [hh, mm, ss] = t.as_slice() else {
        return None;
    };
    unix_of(
        i64::from(num(year)?),
        m,
        num(day)?,
        num(hh)?,
        num(mm)?,
        num(ss)?,
    )
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp
/// (`2026-11-29T23:05:00Z`, fractional seconds ignored, `+00:00` accepted).
pub fn parse_iso8601(value: &str) -> Option<u64> {
    let v = value.trim();
    let (date, time) = v.split_once(['T', 't', ' '])?;
    let time = time
        .strip_suffix(['Z', 'z'])
        .or_else(|| time.strip_suffix("+00:00"))?;
    let time = time.split('.').next()?;
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let ([y, m, dd], [hh, mm, ss]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    unix_of(
        i64::from(num(y)?),
        num(m)?,
        num(dd)?,
        num(hh)?,
        num(mm)?,
        num(ss)?,
    )
}

/// Seconds since the epoch of an RFC 3339 date-time with any offset
/// (`2008-04-04T12:16:49-05:00`, `…Z`, `…+0100` too), as CPIM `DateTime` (RFC 3862
/// §4.4), IMDN `datetime` and isComposing `lastactive` carry them; fractions of a
/// second are dropped. `None` when it is not one, or is before 1970.
pub fn parse_rfc3339(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.ends_with(['Z', 'z']) {
        return parse_iso8601(v);
    }
    // The offset starts at the last sign of the time part (the date has `-` too).
    let t = v.find(['T', 't', ' '])?;
    let sign_at = t + v.get(t..)?.bytes().rposition(|c| c == b'+' || c == b'-')?;
    let (local, offset) = (v.get(..sign_at)?, v.get(sign_at..)?);
    let (sign, hhmm) = offset.split_at_checked(1)?;
    let (hh, mm) = hhmm
        .split_once(':')
        .or_else(|| hhmm.split_at_checked(2).filter(|_| hhmm.len() == 4))?;
    let two_digits = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    let (hh, mm) = (two_digits(hh)?, two_digits(mm)?);
    if hh > 23 || mm > 59 {
        return None;
    }
    let offset = (hh * 60 + mm) * 60 * if sign == "-" { -1 } else { 1 };
    let utc_as_if = i64::try_from(parse_iso8601(&format!("{local}Z"))?).ok()?;
    u64::try_from(utc_as_if.checked_sub(offset)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_both_ways() {
        // RFC 3261 §20.17's example.
        assert_eq!(
            parse_sip_date("Sat, 13 Nov 2010 23:29:00 GMT"),
            Some(1_289_690_940)
        );
        assert_eq!(sip_date(1_289_690_940), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(iso8601(1_289_690_940), "2010-11-13T23:29:00Z");
        assert_eq!(parse_iso8601("2010-11-13T23:29:00Z"), Some(1_289_690_940));
        assert_eq!(
            parse_iso8601("2010-11-13T23:29:00.250+00:00"),
            Some(1_289_690_940)
        );
        assert_eq!(sip_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // A leap day.
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_iso8601("2000-02-29T00:00:00Z"), Some(951_782_400));
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let mut t = 0u64;
        while t < 4_102_444_800 * 3 {
            assert_eq!(parse_sip_date(&sip_date(t)), Some(t), "{t}");
            assert_eq!(parse_iso8601(&iso8601(t)), Some(t), "{t}");
            t += 86_400 * 7 + 3_661;
        }
    }

    #[test]
    fn garbage_is_none() {
        for s in [
            "",
            "yesterday",
            "Sat, 13 Nov 2010 23:29:00 CET",
            "2010-13-01T00:00:00Z",
            "2010-11-13T25:00:00Z",
            "2010-11-13T23:29:00",
        ] {
            assert_eq!(parse_sip_date(s).or(parse_iso8601(s)), None, "{s}");
        }
    }
}
