//! Lines to the local syslog daemon, as the C library's `syslog(3)` sends
//! them (upstream calls it): one datagram per line on the daemon's socket,
//! `<PRI>Mmm dd hh:mm:ss ident: message`, facility `user`, ident the program's
//! name. The socket is `/dev/log`, or the path in `PIPY_SYSLOG_SOCKET`.
//! Timestamps are UTC (containers run in UTC; the C library uses local time).

use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;

/// The `user` facility, as `syslog(3)` uses without `openlog`.
const FACILITY_USER: u8 = 1;

/// The longest message sent; longer ones are cut (a datagram has a limit,
/// and daemons cut at 8 KiB by default).
const MAX_MESSAGE: usize = 8 * 1024;

/// The severities `toSyslog(priority)` takes, by their index (0 = EMERG).
pub(crate) const SEVERITIES: [&str; 8] = [
    "EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG",
];

/// The daemon's socket, opened on first use and again after it failed.
#[derive(Default)]
pub(crate) struct Syslog {
    socket: Option<Socket>,
    /// Sends failed in a row (warned about once).
    failing: bool,
}

enum Socket {
    Datagram(UnixDatagram),
    /// Some daemons listen on a stream socket; lines then end with a NUL.
    Stream(UnixStream),
}

fn socket_path() -> PathBuf {
    std::env::var_os("PIPY_SYSLOG_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/log"))
}

/// How long a send may wait for a busy daemon; the line is lost after that,
/// so the writer (which also serves the standard streams) moves on.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

fn open() -> std::io::Result<Socket> {
    let path = socket_path();
    let dgram = UnixDatagram::unbound()?;
    match dgram.connect(&path) {
        Ok(()) => {
            dgram.set_write_timeout(Some(SEND_TIMEOUT))?;
            Ok(Socket::Datagram(dgram))
        }
        // EPROTOTYPE: the daemon listens on a stream socket.
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
            let stream = UnixStream::connect(&path)?;
            stream.set_write_timeout(Some(SEND_TIMEOUT))?;
            Ok(Socket::Stream(stream))
        }
        Err(e) => Err(e),
    }
}

fn ident() -> String {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "pipy".into())
}

/// One line as `syslog(3)` writes it.
pub(crate) fn format_line(
    severity: u8,
    ident: &str,
    message: &[u8],
    now: time::OffsetDateTime,
) -> Vec<u8> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS[usize::from(u8::from(now.month())).saturating_sub(1) % 12];
    let head = format!(
        "<{}>{month} {:2} {:02}:{:02}:{:02} {ident}: ",
        FACILITY_USER * 8 + severity.min(7),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut line = head.into_bytes();
    line.extend_from_slice(&message[..message.len().min(MAX_MESSAGE)]);
    line
}

impl Syslog {
    /// Sends one message; a daemon that is not there loses it (with one
    /// warning until sending works again).
    pub(crate) fn send(&mut self, severity: u8, message: &[u8]) {
        let line = format_line(severity, &ident(), message, time::OffsetDateTime::now_utc());
        // One retry on a fresh socket: the daemon may have restarted.
        for _ in 0..2 {
            if self.socket.is_none() {
                match open() {
                    Ok(s) => self.socket = Some(s),
                    Err(e) => return self.failed(e),
                }
            }
            let sent = match &mut self.socket {
                Some(Socket::Datagram(s)) => s.send(&line).map(|_| ()),
                Some(Socket::Stream(s)) => {
                    use std::io::Write;
                    s.write_all(&line).and_then(|_| s.write_all(&[0]))
                }
                None => return,
            };
            match sent {
                Ok(()) => {
                    self.failing = false;
                    return;
                }
                Err(e) => {
                    self.socket = None;
                    if e.kind() != std::io::ErrorKind::ConnectionRefused
                        && e.kind() != std::io::ErrorKind::BrokenPipe
                        && e.kind() != std::io::ErrorKind::NotConnected
                    {
                        return self.failed(e);
                    }
                }
            }
        }
    }

    fn failed(&mut self, e: std::io::Error) {
        if !self.failing {
            tracing::warn!(
                "logging: cannot send to syslog at {}: {e}",
                socket_path().display()
            );
        }
        self.failing = true;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_are_those_of_syslog_3() {
        // 2026-12-07 09:05:03 UTC
        let t = time::OffsetDateTime::from_unix_timestamp(1_796_634_303).unwrap();
        let line = super::format_line(6, "pipy", b"hello", t);
        assert_eq!(line, b"<14>Dec  7 09:05:03 pipy: hello");
        let line = super::format_line(0, "x", b"", t);
        assert_eq!(line, b"<8>Dec  7 09:05:03 x: ");
    }
}
