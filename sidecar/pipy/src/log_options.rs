//! `--log-level` and the log topics, as upstream spells them: `info`, `warn`,
//! `error`, `debug` (every topic) or `debug:TOPIC+TOPIC` (debug lines of those
//! topics only). A topic is a tracing target of the same name.

/// The topics upstream knows, in its order.
pub(crate) const TOPICS: [&str; 17] = [
    "alloc", "thread", "pipeline", "dump", "listener", "inbound", "outbound", "socket", "files",
    "subproc", "tcp", "udp", "http2", "elf", "bpf", "user", "codebase",
];

/// The tracing filter directive for an upstream `--log-level` value.
pub(crate) fn directive(level: &str) -> Result<String, String> {
    match level {
        "debug" => return Ok("debug".into()),
        "info" | "warn" | "error" => return Ok(level.into()),
        _ => {}
    }
    let Some(topics) = level.strip_prefix("debug:") else {
        return Err(format!("unknown log level: {level}"));
    };
    let mut out = String::from("info");
    for topic in topics.split('+') {
        if !TOPICS.contains(&topic) {
            return Err(format!(
                "unknown log topic: {topic} (available topics include: {})",
                TOPICS.join(" | ")
            ));
        }
        out.push_str(&format!(",{topic}=debug"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_topics_as_upstream() {
        assert_eq!(directive("debug").as_deref(), Ok("debug"));
        assert_eq!(directive("warn").as_deref(), Ok("warn"));
        assert_eq!(
            directive("debug:thread+listener").as_deref(),
            Ok("info,thread=debug,listener=debug")
        );
        assert!(directive("debug:nope")
            .unwrap_err()
            .contains("unknown log topic: nope"));
        assert_eq!(directive("trace").unwrap_err(), "unknown log level: trace");
    }
}
