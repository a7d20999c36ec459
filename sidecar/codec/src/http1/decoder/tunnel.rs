//! Leaving HTTP: a decoder becomes a tunnel after a `101` or a `CONNECT`, and
//! on the request side may hold what follows an `Upgrade` request until the
//! answer is known.

use super::{Decoder, State};
use crate::http1::DecodeError;
use pipy_core::Event;

impl Decoder {
    /// Makes the decoder hold the bytes that follow a request with an `Upgrade`
    /// field until the caller knows the answer (a server that may pass the
    /// request to something that switches protocols). Off by default: such
    /// requests are then plain requests.
    pub fn hold_after_upgrade(&mut self, on: bool) {
        self.hold_upgrades = on;
    }

    /// Makes every further byte tunnel data, passed on as `Data` outside any message.
    /// Bytes already buffered as the start of a head are emitted now.
    pub fn start_tunnel(&mut self, out: &mut dyn FnMut(Event)) {
        if matches!(self.state, State::Failed(_) | State::Closed) {
            return;
        }
        if !self.head_buf.is_empty() {
            out(Event::Data(self.head_buf.split().freeze().into()));
        }
        self.eoh = 0;
        self.state = State::Tunnel;
    }

    /// Whether the decoder holds the bytes after an `Upgrade` request, waiting for
    /// [`start_tunnel`](Self::start_tunnel) or [`resume`](Self::resume).
    pub fn awaits_upgrade(&self) -> bool {
        matches!(self.state, State::AwaitUpgrade)
    }

    /// The `Upgrade` was refused: decodes the bytes held since as HTTP again.
    pub fn resume(&mut self, out: &mut dyn FnMut(Event)) -> Result<(), DecodeError> {
        if !self.awaits_upgrade() {
            return Ok(());
        }
        self.state = State::Head;
        self.eoh = 0;
        let held = self.head_buf.split().freeze();
        self.decode(held.into(), out)
    }

    /// Whether the decoder has become a tunnel.
    pub fn is_tunnel(&self) -> bool {
        matches!(self.state, State::Tunnel)
    }
}
