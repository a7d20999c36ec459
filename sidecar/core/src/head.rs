//! Message heads: native HTTP heads, or an object owned by the script host.

use bytes::Bytes;
use std::any::Any;
use std::fmt;
use std::rc::Rc;

/// HTTP protocol version of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    #[default]
    Http11,
    /// HTTP/2 (a head that came or goes in HTTP/2 frames).
    Http2,
}

impl Version {
    /// The text as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2",
        }
    }
}

/// Header fields in arrival order. Names keep their original case on the wire and
/// compare case-insensitively.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    fields: Vec<(Bytes, Bytes)>,
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            fields: Vec::with_capacity(n),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Appends a field, keeping any existing one of the same name.
    pub fn append(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.fields.push((name.into(), value.into()));
    }

    /// Replaces every field of this name with one field.
    pub fn set(&mut self, name: &str, value: impl Into<Bytes>) {
        self.remove(name);
        self.fields
            .push((Bytes::copy_from_slice(name.as_bytes()), value.into()));
    }

    /// Removes every field of this name.
    pub fn remove(&mut self, name: &str) {
        self.fields
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
    }

    /// The first value of this name.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of this name, as text if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of this name.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.fields.iter().map(|(n, v)| (n, v))
    }
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.fields
                    .iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

/// Head of an HTTP request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Request target as sent (`/path?query`).
    pub path: String,
    /// HTTP version.
    pub version: Version,
    /// Header fields.
    pub headers: HeaderMap,
}

/// Head of an HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Reason phrase; empty means "the standard one for the status".
    pub status_text: String,
    /// HTTP version.
    pub version: Version,
    /// Header fields.
    pub headers: HeaderMap,
}

impl Default for ResponseHead {
    fn default() -> Self {
        Self {
            status: 200,
            status_text: String::new(),
            version: Version::Http11,
            headers: HeaderMap::new(),
        }
    }
}

/// A head object owned by the script host (a JS object in PipyJS). The core never
/// looks inside; codecs ask the host to turn it into a native head.
#[derive(Clone)]
pub struct ScriptHead(pub Rc<dyn Any>);

impl fmt::Debug for ScriptHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScriptHead")
    }
}

/// What a decoder knows of a message at its end (upstream Pipy's `MessageTail`):
/// the size on the wire of its head and of its body (for a chunked body, the
/// chunk framing included). Plain numbers, so a `MessageEnd` carrying them
/// allocates nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageTail {
    /// Bytes of the head, its final empty line included.
    pub head_size: u64,
    /// Bytes of the body as they were framed on the wire.
    pub body_size: u64,
}

/// What a `MessageStart` (a head) or a `MessageEnd` (a tail) carries.
#[derive(Clone, Debug, Default)]
pub enum Head {
    /// No head (a plain message).
    #[default]
    None,
    /// A decoded HTTP request head.
    Request(Box<RequestHead>),
    /// A decoded HTTP response head.
    Response(Box<ResponseHead>),
    /// A head built or touched by the script.
    Script(ScriptHead),
    /// The tail of a decoded message (in a `MessageEnd`).
    Tail(MessageTail),
    /// Trailer fields ending a message (in a `MessageEnd`): HTTP/2's, which
    /// carry gRPC's status.
    Trailers(Box<HeaderMap>),
}
