//! Time zones: UTC, a fixed offset, or an IANA zone (jiff, with its bundled copy of the
//! tz database, so that the browser and the server agree), for bucket alignment and
//! axis labels that are right on both sides of a daylight-saving change.

use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

use crate::error::{Error, Result};

/// A time zone.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    /// Fixed offset from UTC, seconds (UTC is 0).
    Fixed(i64),
    /// An IANA zone.
    Iana(TimeZone),
}

impl Default for Zone {
    fn default() -> Self {
        Zone::Fixed(0)
    }
}

impl Zone {
    /// `utc` / `UTC`, or an IANA name such as `America/New_York`.
    pub fn parse(name: &str) -> Result<Zone> {
        if name.eq_ignore_ascii_case("utc") {
            return Ok(Zone::Fixed(0));
        }
        TimeZone::get(name).map(Zone::Iana).map_err(|_| {
            Error::Spec(format!(
                "time_zone \"{}\" is not an IANA time zone name (such as America/New_York) or UTC",
                name.chars().take(64).collect::<String>()
            ))
        })
    }

    /// Seconds to add to UTC for local time at the instant `t` (unix seconds).
    pub fn offset(&self, t: i64) -> i64 {
        match self {
            Zone::Fixed(o) => *o,
            Zone::Iana(tz) => match Timestamp::from_second(t) {
                Ok(ts) => tz.to_offset(ts).seconds() as i64,
                Err(_) => 0,
            },
        }
    }

    /// The instant whose local time is `local` (seconds since the local epoch): the
    /// earlier one when a fall-back makes it happen twice; `None` in a spring-forward gap.
    pub fn to_utc(&self, local: i64) -> Option<i64> {
        match self {
            Zone::Fixed(o) => local.checked_sub(*o),
            Zone::Iana(tz) => {
                let civil = jiff::tz::Offset::UTC.to_datetime(Timestamp::from_second(local).ok()?);
                match tz.to_ambiguous_timestamp(civil).offset() {
                    AmbiguousOffset::Unambiguous { offset } => Some(local - offset.seconds() as i64),
                    AmbiguousOffset::Fold { before, after } => {
                        Some((local - before.seconds() as i64).min(local - after.seconds() as i64))
                    }
                    AmbiguousOffset::Gap { .. } => None,
                }
            }
        }
    }

    /// The start of the local-time step of `step` seconds holding `t` (unix seconds):
    /// steps are multiples of `step` in local time (a day step starts at local midnight).
    /// In a gap (local midnight skipped), the first instant after it.
    pub fn floor(&self, t: i64, step: i64) -> i64 {
        let step = step.max(1);
        let local = t.saturating_add(self.offset(t));
        let mut l = local.div_euclid(step) * step;
        for _ in 0..4 {
            if let Some(u) = self.to_utc(l) {
                if u <= t {
                    return u;
                }
                l -= step; // the step's start is later than t (offset changed): one back
                continue;
            }
            // Skipped local time: the gap's end is the first instant of the step.
            return self.gap_end(l).min(t);
        }
        t
    }

    /// The first instant at or after local time `l`, which lies in a gap.
    fn gap_end(&self, l: i64) -> i64 {
        // Gaps are at most a few hours, and local time resumes on a minute boundary.
        let mut k = l;
        for _ in 0..(24 * 60) {
            k += 60;
            if let Some(u) = self.to_utc(k) {
                return u;
            }
        }
        l
    }

    /// Bucket starts, unix seconds: local-time steps of `step` seconds from the one
    /// holding `start` until one reaches `end` (at most `max` buckets; `max + 1` cuts).
    pub fn cuts(&self, start: i64, end: i64, step: i64, max: usize) -> Vec<i64> {
        let step = step.max(1);
        let mut out = vec![self.floor(start, step)];
        let mut local = out[0] + self.offset(out[0]);
        local = local.div_euclid(step) * step;
        while *out.last().unwrap_or(&end) < end && out.len() <= max {
            local += step;
            let next = self.to_utc(local).unwrap_or_else(|| self.gap_end(local));
            if next > *out.last().unwrap_or(&i64::MIN) {
                out.push(next);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NY: &str = "America/New_York";

    #[test]
    fn parses_names() {
        assert_eq!(Zone::parse("utc").unwrap(), Zone::Fixed(0));
        assert!(matches!(Zone::parse(NY).unwrap(), Zone::Iana(_)));
        assert!(Zone::parse("Asia/Kolkata").is_ok() && Zone::parse("Europe/Berlin").is_ok());
        let e = Zone::parse("Mars/Olympus").unwrap_err();
        assert!(e.to_string().contains("Mars/Olympus"), "{e}");
    }

    #[test]
    fn offsets_across_dst() {
        let z = Zone::parse(NY).unwrap();
        // 2026-03-08 06:30 UTC is 01:30 EST (-5 h); 07:30 UTC is 03:30 EDT (-4 h).
        assert_eq!(z.offset(1_772_951_400), -5 * 3600);
        assert_eq!(z.offset(1_772_955_000), -4 * 3600);
    }

    #[test]
    fn days_start_at_local_midnight() {
        let z = Zone::parse(NY).unwrap();
        // 2026-03-07 00:00 EST = 05:00 UTC; 2026-03-08 00:00 EST = 05:00 UTC;
        // 2026-03-09 00:00 EDT = 04:00 UTC: the day of the change has 23 hours.
        let (d7, d8, d9) = (1_772_859_600, 1_772_946_000, 1_773_028_800);
        assert_eq!(z.floor(d8 + 12 * 3600, 86_400), d8);
        let cuts = z.cuts(d7 + 3600, d9 + 3600, 86_400, 100);
        assert_eq!(cuts, vec![d7, d8, d9, d9 + 86_400]);
        assert_eq!(cuts[2] - cuts[1], 23 * 3600);
        // Fall back: 2026-11-01 has 25 hours.
        let (n1, n2) = (1_793_505_600, 1_793_595_600);
        assert_eq!(z.cuts(n1, n2, 86_400, 10), vec![n1, n2]);
        assert_eq!(n2 - n1, 25 * 3600);
        // UTC: plain multiples.
        assert_eq!(Zone::Fixed(0).cuts(10, 200_000, 86_400, 10), vec![0, 86_400, 172_800, 259_200]);
    }
}
