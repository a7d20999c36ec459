//! pipy-filters: one file per filter (or tight family), named as scripts spell it.
//!
//! Each file holds a template (what `pipy().xxx(...)` appends to a layout, with
//! its parsed arguments) and the filter it creates per pipeline. Templates know
//! nothing of the Configuration builder; the builder in `pipy-runtime` parses
//! script arguments into the `new` functions here.
//!
//! Where each filter lives, by the name a script calls it: [`SOURCE_FILES`]
//! (a test checks each file names its filters).

pub mod bgp;
pub mod branch;
pub mod chain;
pub mod compress;
pub mod connect;
pub mod decompress;
pub mod deframe;
pub mod demux;
pub mod demux_http;
pub mod deposit_message;
pub mod detect_protocol;
pub mod dubbo;
pub mod dump;
pub mod exec;
pub mod fastcgi;
pub mod handle;
mod head_codec;
mod http2;
pub mod http_codec;
mod http_reply;
pub mod http_tunnel;
pub mod insert;
pub mod link_async;
pub mod r#loop;
pub mod mqtt;
pub mod multipart;
pub mod mux;
pub mod mux_http;
mod mux_pool;
pub mod netlink;
pub mod pack;
mod payload_codec;
pub mod pipe;
pub mod produce;
pub mod proxy_protocol;
pub mod read;
pub mod replace;
pub mod replay;
pub mod resp;
pub mod serve_http;
mod slot;
pub mod socks;
pub mod split;
pub mod swap;
pub mod tee;
pub mod thrift;
pub mod throttle;
pub mod tls;
mod util;
pub mod wait;
pub mod websocket;

pub use slot::SubLayout;

/// The HTTP status that stands for a stream that ended with `err` before a
/// response came (502, 504 for timeouts, 500 for script errors, ...).
pub fn error_status(err: pipy_core::StreamError) -> u16 {
    http_reply::status_for(err)
}

/// The response head that stands for a stream that ended with `err` before
/// a response came: [`error_status`] and the error's name in words
/// (`502 Connection Refused`), as upstream answers.
pub fn error_head(err: pipy_core::StreamError) -> pipy_core::ResponseHead {
    http_reply::error_head(http_reply::status_for(err), err)
}
pub use util::Callback;

/// The source file of every filter, by the name a script calls it.
pub const SOURCE_FILES: &[(&str, &str)] = &[
    ("acceptHTTPTunnel", "http_tunnel.rs"),
    ("acceptProxyProtocol", "proxy_protocol.rs"),
    ("acceptSOCKS", "socks.rs"),
    ("acceptTLS", "tls.rs"),
    ("branch", "branch.rs"),
    ("branchMessage", "branch.rs"),
    ("branchMessageStart", "branch.rs"),
    ("chain", "chain.rs"),
    ("compress", "compress.rs"),
    ("compressHTTP", "compress.rs"),
    ("connect", "connect.rs"),
    ("connectHTTPTunnel", "http_tunnel.rs"),
    ("connectProxyProtocol", "proxy_protocol.rs"),
    ("connectSOCKS", "socks.rs"),
    ("connectTLS", "tls.rs"),
    ("decodeBGP", "bgp.rs"),
    ("decodeDubbo", "dubbo.rs"),
    ("decodeHTTPRequest", "http_codec.rs"),
    ("decodeHTTPResponse", "http_codec.rs"),
    ("decodeMQTT", "mqtt.rs"),
    ("decodeMultipart", "multipart.rs"),
    ("decodeRESP", "resp.rs"),
    ("decodeThrift", "thrift.rs"),
    ("decodeWebSocket", "websocket.rs"),
    ("decompress", "decompress.rs"),
    ("decompressHTTP", "decompress.rs"),
    ("deframe", "deframe.rs"),
    ("demux", "demux.rs"),
    ("demuxQueue", "demux.rs"),
    ("demuxHTTP", "demux_http.rs"),
    ("detectProtocol", "detect_protocol.rs"),
    ("dummy", "dump.rs"),
    ("dump", "dump.rs"),
    ("encodeBGP", "bgp.rs"),
    ("encodeDubbo", "dubbo.rs"),
    ("encodeHTTPRequest", "http_codec.rs"),
    ("encodeHTTPResponse", "http_codec.rs"),
    ("encodeMQTT", "mqtt.rs"),
    ("encodeRESP", "resp.rs"),
    ("encodeThrift", "thrift.rs"),
    ("encodeWebSocket", "websocket.rs"),
    ("exec", "exec.rs"),
    ("fork", "branch.rs"),
    ("handleData", "handle.rs"),
    ("handleMessage", "handle.rs"),
    ("handleMessageBody", "handle.rs"),
    ("handleMessageEnd", "handle.rs"),
    ("handleMessageStart", "handle.rs"),
    ("handleStreamEnd", "handle.rs"),
    ("handleStreamStart", "handle.rs"),
    ("handleTLSClientHello", "tls.rs"),
    ("insert", "insert.rs"),
    ("link", "branch.rs"),
    ("loop", "loop.rs"),
    ("mux", "mux.rs"),
    ("muxQueue", "mux.rs"),
    ("muxHTTP", "mux_http.rs"),
    ("onEnd", "dump.rs"),
    ("onStart", "dump.rs"),
    ("pack", "pack.rs"),
    ("print", "dump.rs"),
    ("read", "read.rs"),
    ("replaceData", "replace.rs"),
    ("replaceMessage", "replace.rs"),
    ("replaceMessageBody", "replace.rs"),
    ("replaceMessageEnd", "replace.rs"),
    ("replaceMessageStart", "replace.rs"),
    ("replaceStreamEnd", "replace.rs"),
    ("replaceStreamStart", "replace.rs"),
    ("replay", "replay.rs"),
    ("forkJoin", "branch.rs"),
    ("forkRace", "branch.rs"),
    ("handle", "handle.rs"),
    ("pipe", "pipe.rs"),
    ("pipeNext", "chain.rs"),
    ("replace", "replace.rs"),
    ("demuxFastCGI", "fastcgi.rs"),
    ("muxFastCGI", "fastcgi.rs"),
    ("produce", "produce.rs"),
    ("linkAsync", "link_async.rs"),
    ("depositMessage", "deposit_message.rs"),
    ("decodeNetlink", "netlink.rs"),
    ("encodeNetlink", "netlink.rs"),
    ("serveHTTP", "serve_http.rs"),
    ("split", "split.rs"),
    ("swap", "swap.rs"),
    ("tee", "tee.rs"),
    ("throttleConcurrency", "throttle.rs"),
    ("throttleDataRate", "throttle.rs"),
    ("throttleMessageRate", "throttle.rs"),
    ("use", "chain.rs"),
    ("wait", "wait.rs"),
];

#[cfg(test)]
mod source_files {
    #[test]
    fn every_filter_file_names_its_filters() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for (name, file) in super::SOURCE_FILES {
            let text =
                std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            let named = [
                format!("\"{name}\""),
                format!("`{name}"),
                format!("{name}("),
            ]
            .iter()
            .any(|n| text.contains(n.as_str()));
            assert!(named, "{file} does not mention {name}");
        }
    }
}

#[cfg(test)]
mod tests;
