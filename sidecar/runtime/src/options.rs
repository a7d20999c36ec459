//! Parsing of option values scripts pass to filters (durations, sizes).

use boa_engine::{js_string, Context, JsObject, JsResult, JsValue};
use std::time::Duration;

/// A duration given as seconds (number) or text with a unit (`100ms`, `5s`, `2m`,
/// `1h`, `1d`).
pub fn duration(v: &JsValue, ctx: &mut Context) -> JsResult<Option<Duration>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if let Some(n) = v.as_number() {
        return Ok(Some(Duration::from_secs_f64(n.max(0.0))));
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    Ok(parse_duration(&s))
}

/// Parses `100ms`, `5s`, `2m`, `1h`, `1d` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

/// Parses `64`, `16k`, `1.5m`, `2g`, `1t` (also `kb`, `MB`...; powers of 1024).
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        _ => return None,
    };
    Some((n * (1u64 << shift) as f64) as usize)
}

/// A property of an options object (undefined when absent or not an object).
pub fn get(opts: Option<&JsObject>, key: &str, ctx: &mut Context) -> JsResult<JsValue> {
    match opts {
        Some(o) => o.get(js_string!(key), ctx),
        None => Ok(JsValue::undefined()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("5y"), None);
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("64"), Some(64));
        assert_eq!(parse_size("16k"), Some(16 << 10));
        assert_eq!(parse_size("1.5m"), Some(3 << 19));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("10x"), None);
        assert_eq!(parse_size("k"), None);
    }
}
