//! Responses the HTTP server side makes up itself: for a request it could not
//! decode, and for a sub-pipeline that failed before answering.

use bytes::Bytes;
use pipy_core::{Data, Event, Head, ResponseHead, StreamError};

/// The status a failed sub-pipeline maps to when no response was produced.
pub(crate) fn status_for(err: StreamError) -> u16 {
    use StreamError::*;
    match err {
        ConnectionTimeout | ReadTimeout | WriteTimeout | IdleTimeout => 504,
        RuntimeError | UnknownError | BufferOverflow => 500,
        Unauthorized => 401,
        _ => 502,
    }
}

/// The answer to a request whose sub-pipeline failed before responding: the
/// status for the error, the error's name in words as reason phrase, no body.
pub(crate) fn error_response(status: u16, err: StreamError) -> Vec<Event> {
    let head = error_head(status, err);
    vec![
        Event::MessageStart(Head::Response(Box::new(head))),
        Event::MessageEnd(Head::None),
    ]
}

/// The head of such an answer: `status`, and the error's name in words.
pub(crate) fn error_head(status: u16, err: StreamError) -> ResponseHead {
    let mut text = String::new();
    for (i, c) in err.name().chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            text.push(' ');
        }
        text.push(c);
    }
    ResponseHead {
        status,
        status_text: text,
        ..Default::default()
    }
}

/// A minimal response with a text body.
pub(crate) fn simple_response(status: u16, body: &str, close: bool) -> Vec<Event> {
    let mut head = ResponseHead {
        status,
        ..Default::default()
    };
    head.headers.append(
        Bytes::from_static(b"content-type"),
        Bytes::from_static(b"text/plain"),
    );
    if close {
        head.headers.append(
            Bytes::from_static(b"connection"),
            Bytes::from_static(b"close"),
        );
    }
    let mut events = vec![Event::MessageStart(Head::Response(Box::new(head)))];
    if !body.is_empty() {
        events.push(Event::Data(Data::from(body.to_string())));
    }
    events.push(Event::MessageEnd(Head::None));
    events
}
