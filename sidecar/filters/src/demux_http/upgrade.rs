//! A request that asked to `Upgrade`: what the client sends after it waits in
//! the decoder until the answer decides whether it is tunnel data or HTTP.

use super::DemuxHttp;
use pipy_core::{Event, Output, StreamError};

impl DemuxHttp {
    /// After a request that asked to `Upgrade`, the decoder holds what follows
    /// until the answer is known: a `101` makes it tunnel data for that request's
    /// sub-pipeline, any other answer makes it HTTP again.
    /// (A `101` to a request without `Upgrade` makes a tunnel too, once the
    /// request is complete and nothing more is buffered.)
    pub(super) fn settle_upgrade(&mut self, out: &mut Output<'_>) {
        let awaits = self.decoder.awaits_upgrade();
        match self.streams.back() {
            Some(s)
                if s.tunnel
                    && s.request_done
                    && (awaits || self.decoder.is_idle())
                    && !self.decoder.is_tunnel() =>
            {
                let p = s.pipeline.clone();
                self.decoder.start_tunnel(&mut |e| {
                    if let Some(p) = &p {
                        p.input(e);
                    }
                });
                if let (true, Some(p)) = (self.input_ended, p) {
                    p.input(Event::StreamEnd(StreamError::NoError));
                }
            }
            Some(s) if !awaits || !s.response_started || s.tunnel => {}
            _ if awaits => self.decode(None, out),
            _ => {}
        }
    }
}
