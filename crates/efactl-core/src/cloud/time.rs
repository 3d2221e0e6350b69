//! Points in time as AWS reports them, and the clock the orchestration waits on.
//!
//! A std-only UTC timestamp rather than a date-time crate: efactl only orders AWS's
//! timestamps, adds durations to them and prints them in RFC 3339, and the SDK's own
//! `DateTime` converts to seconds + nanoseconds directly.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(1000))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Time from `earlier` to `self`; zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// `2016-03-15T20:54:31.809Z`, `2010-07-27T22:26:28Z` or with a `+hh:mm` offset, as AWS
    /// writes them in responses and its API reference.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = s.get(r)?;
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        if second > 60 {
            return None;
        }
        let mut rest = &s[19..];
        let mut millis = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let padded: String = frac[..digits]
                .chars()
                .chain("000".chars())
                .take(3)
                .collect();
            millis = padded.parse().ok()?;
            rest = &frac[digits..];
        }
        let offset_secs = match rest {
            "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return None,
                };
                let (h, m) = rest.get(1..)?.split_once(':')?;
                let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
                sign * (h * 3600 + m * 60)
            }
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
        Some(Timestamp(secs * 1000 + millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let millis = self.0.rem_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )?;
        if millis != 0 {
            write!(f, ".{millis:03}")?;
        }
        f.write_str("Z")
    }
}

// Howard Hinnant's days-from-civil and its inverse (proleptic Gregorian, day 0 = 1970-01-01).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// How a sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Elapsed,
    /// The user pressed Ctrl-C (or the caller otherwise asked the wait to stop).
    Interrupted,
}

/// The time the orchestration reads and waits on: injected, so tests run a 45-minute stack
/// wait in microseconds and see every delay it chose.
pub trait Clock {
    /// Wall-clock time, comparable with AWS's event timestamps up to clock skew.
    fn now(&self) -> Timestamp;
    fn sleep(&self, d: Duration) -> Wake;
}

/// The real clock. Its sleeps end early when the flag from [`SystemClock::interrupt_flag`]
/// is set (the CLI sets it from its Ctrl-C handler), so a wait can say how to resume instead
/// of dying mid-line.
#[derive(Debug, Clone, Default)]
pub struct SystemClock {
    interrupted: Arc<AtomicBool>,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock::default()
    }

    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.interrupted)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(_) => Timestamp(0),
        }
    }

    fn sleep(&self, d: Duration) -> Wake {
        // Short slices so that Ctrl-C is answered within a tenth of a second.
        let slice = Duration::from_millis(100);
        let mut left = d;
        while !left.is_zero() {
            if self.interrupted.load(Ordering::SeqCst) {
                return Wake::Interrupted;
            }
            let step = left.min(slice);
            std::thread::sleep(step);
            left = left.saturating_sub(step);
        }
        if self.interrupted.load(Ordering::SeqCst) {
            Wake::Interrupted
        } else {
            Wake::Elapsed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_aws_examples() {
        for s in [
            "2016-03-15T20:54:31.809Z",
            "2010-07-27T22:26:28Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59.001Z",
        ] {
            let t = Timestamp::parse_rfc3339(s).unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2016-03-15T20:54:31.809Z")
                .unwrap()
                .millis(),
            1_458_075_271_809
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2016-03-15T21:54:31.809+01:00"),
            Timestamp::parse_rfc3339("2016-03-15T20:54:31.809Z")
        );
        for bad in [
            "",
            "2016-03-15",
            "2016-13-15T20:54:31Z",
            "2016-03-15T20:54:31",
            "x".repeat(30).as_str(),
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn interrupted_sleep_returns_at_once() {
        let c = SystemClock::new();
        c.interrupt_flag().store(true, Ordering::SeqCst);
        assert_eq!(c.sleep(Duration::from_secs(60)), Wake::Interrupted);
    }
}
