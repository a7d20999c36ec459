//! Integration tests: the real `pipy` binary over real sockets on 127.0.0.1.

// Helpers are shared between test modules of this one crate.
#![allow(unreachable_pub)]

mod api;
mod backpressure;
mod body_limits;
mod cli;
mod codecs;
mod compression;
mod errors;
mod examples;
mod filters;
mod harness;
mod http2;
mod http_fuzz;
mod http_helpers;
mod http_limits;
mod http_proxy;
mod logging;
mod metrics;
mod nmi;
mod protocol;
mod samples;
mod scripts;
mod sessions;
mod socket_options;
mod stream_tools;
mod throttle;
mod tls;
mod tunnels;
mod udp;
mod websocket;
mod workers;
