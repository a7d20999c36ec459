//! The one parser of durations and sizes written as text in scripts (`'10s'`,
//! `'100ms'`, `'64k'`). It lives here, below both the script host (whose
//! `algo.Cache` takes a `ttl`) and the runtime (whose filter options take many),
//! so that every option reads units the same way; `pipy_runtime::options`
//! re-exports it.

use std::time::Duration;

/// Parses a duration: a non-negative decimal number of seconds, or one followed by
/// a unit: `ms`, `s`, `m`, `h` or `d` (any case). Anything else is an error that
/// says what is wrong.
///
/// Upstream reads only the first letter of the unit, so its `'100ms'` is 100
/// minutes; here `ms` means milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let (n, unit) = split_number(s)
        .ok_or_else(|| format!("'{text}' is not a duration (a number with ms, s, m, h or d)"))?;
    let secs = match unit.to_ascii_lowercase().as_str() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => {
            return Err(format!(
                "'{text}' has an unknown duration unit '{unit}' (use ms, s, m, h or d)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{text}' is out of range"))
}

/// Parses a size in bytes: a non-negative number, optionally followed by `k`, `m`,
/// `g` or `t` (powers of 1024, as upstream) and an optional `b` (any case).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let (n, unit) = split_number(s)
        .ok_or_else(|| format!("'{text}' is not a size (a number with k, m, g or t)"))?;
    let unit = unit.to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(format!(
                "'{text}' has an unknown size unit (use k, m, g or t)"
            ))
        }
    };
    let bytes = n * scale as f64;
    if bytes > u64::MAX as f64 {
        return Err(format!("'{text}' is out of range"));
    }
    Ok(bytes as u64)
}

/// Splits `12.5ms` into `12.5` and `ms`; `None` without a leading number.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let n: f64 = num.parse().ok()?;
    n.is_finite().then_some((n, unit.trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1H"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 3 s "), Ok(Duration::from_secs(3)));
        for bad in ["x", "10x", "5y", "", "-1s", "1.2.3s", "s", "1e400"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("10x").unwrap_err().contains("'10x'"));
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("10"), Ok(10));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("2KB"), Ok(2048));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("1t"), Ok(1 << 40));
        for bad in ["10x", "k", "", "-5", "1kk"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
