//! Time-to-live rules: when a tenant expires, and how far it may be extended.
//! Shared by `envctl extend` and the server's extend endpoint, so both refuse
//! the same things with the same words.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TtlError {
    #[error("the extension must be longer than zero; give a duration such as 1d or 12h")]
    NotPositive,
    #[error("tenant '{0}' never expires (it has no TTL); nothing to extend")]
    NeverExpires(String),
    #[error(
        "tenant '{tenant}' would then expire at {wanted}, more than {max} from now (the longest TTL allowed); extend by less, or ask an operator to raise max_ttl"
    )]
    TooLong {
        tenant: String,
        wanted: Timestamp,
        max: String,
    },
    #[error("duration {0} is out of range")]
    OutOfRange(String),
}

fn signed(d: Duration) -> Result<SignedDuration, TtlError> {
    SignedDuration::try_from(d)
        .map_err(|_| TtlError::OutOfRange(humantime::format_duration(d).to_string()))
}

/// The expiry of a tenant created at `now` with `ttl`.
pub fn expiry_from(now: Timestamp, ttl: Duration) -> Result<Timestamp, TtlError> {
    now.checked_add(signed(ttl)?)
        .map_err(|_| TtlError::OutOfRange(humantime::format_duration(ttl).to_string()))
}

/// The new expiry after extending `current` by `by`: counted from the current
/// expiry, or from `now` if that has already passed, and never more than
/// `max_ttl` from now.
pub fn extend(
    tenant: &str,
    current: Option<Timestamp>,
    by: Duration,
    now: Timestamp,
    max_ttl: Duration,
) -> Result<Timestamp, TtlError> {
    if by.is_zero() {
        return Err(TtlError::NotPositive);
    }
    let Some(current) = current else {
        return Err(TtlError::NeverExpires(tenant.into()));
    };
    let base = current.max(now);
    let wanted = expiry_from(base, by)?;
    if wanted > expiry_from(now, max_ttl)? {
        return Err(TtlError::TooLong {
            tenant: tenant.into(),
            wanted,
            max: fmt_ttl(max_ttl),
        });
    }
    Ok(wanted)
}

/// A time-to-live, compactly and in the same words `--ttl` takes: `14d`,
/// `1d12h`, `12h`, `45m`, `30s` (truncated to whole seconds).
pub fn fmt_ttl(d: Duration) -> String {
    let mut left = d.as_secs();
    if left == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if left >= secs {
            out.push_str(&format!("{}{unit}", left / secs));
            left %= secs;
        }
    }
    out
}

/// Whether a tenant with this expiry has expired at `now`.
pub fn is_expired(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_some_and(|at| at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(3600);

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn extends_from_the_current_expiry_when_it_is_still_ahead() {
        let now = t("2026-01-01T00:00:00Z");
        let got = extend(
            "a",
            Some(t("2026-01-02T00:00:00Z")),
            24 * H,
            now,
            30 * 24 * H,
        );
        assert_eq!(got, Ok(t("2026-01-03T00:00:00Z")));
    }

    #[test]
    fn extends_from_now_when_the_expiry_has_passed() {
        let now = t("2026-01-05T00:00:00Z");
        let got = extend("a", Some(t("2026-01-02T00:00:00Z")), H, now, 30 * 24 * H);
        assert_eq!(got, Ok(t("2026-01-05T01:00:00Z")));
    }

    #[test]
    fn refuses_zero_no_ttl_and_past_the_maximum() {
        let now = t("2026-01-01T00:00:00Z");
        assert_eq!(
            extend("a", Some(now), Duration::ZERO, now, H),
            Err(TtlError::NotPositive)
        );
        assert_eq!(
            extend("a", None, H, now, 30 * 24 * H),
            Err(TtlError::NeverExpires("a".into()))
        );
        let err = extend(
            "a",
            Some(t("2026-01-10T00:00:00Z")),
            24 * H,
            now,
            7 * 24 * H,
        )
        .unwrap_err();
        assert!(err.to_string().contains("more than 7d from now"), "{err}");
    }

    #[test]
    fn ttls_print_compactly_and_parse_back() {
        for (secs, text) in [
            (14 * 86_400, "14d"),
            (86_400 + 12 * 3_600, "1d12h"),
            (2_700, "45m"),
            (90, "1m30s"),
        ] {
            let d = Duration::from_secs(secs);
            assert_eq!(fmt_ttl(d), text);
            assert_eq!(humantime::parse_duration(text).unwrap(), d);
        }
    }

    #[test]
    fn expiry_is_inclusive_of_the_instant() {
        let now = t("2026-01-01T00:00:00Z");
        assert!(is_expired(Some(now), now));
        assert!(!is_expired(Some(t("2026-01-01T00:00:01Z")), now));
        assert!(!is_expired(None, now));
    }
}
