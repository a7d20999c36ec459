//! Pipelines of `admin(path)`: the admin port (its own thread) hands each
//! request for such a path to worker 0, which runs the pipeline the running
//! version defines for it and sends the response back.
//!
//! Differs from upstream 1.5.18 (compared side by side): upstream answers 200
//! with none of the response head's fields and shows the pipeline a request
//! head without its method; here the request is whole and the response is
//! the pipeline's own.

use crate::config::ConfigState;
use bytes::Bytes;
use pipy_core::{Data, Event, EventTarget, Head, HeaderMap, Pipeline, RequestHead, ResponseHead};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long an admin pipeline may take to answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of an admin pipeline's response body.
pub const MAX_BODY: usize = 16 << 20;

/// A response: status, header fields, body.
pub type Answer = (u16, Vec<(Bytes, Bytes)>, Bytes);

/// One request for an admin pipeline.
pub struct AdminRequest {
    /// Method, path and header fields.
    pub head: RequestHead,
    /// The body.
    pub body: Bytes,
    /// Where the response goes.
    pub reply: oneshot::Sender<Answer>,
}

struct Routes {
    paths: Vec<String>,
    tx: mpsc::Sender<AdminRequest>,
}

static ROUTES: Mutex<Option<Routes>> = Mutex::new(None);

/// The channel to the pipeline of `path`, if the running version has one.
pub fn route(path: &str) -> Option<mpsc::Sender<AdminRequest>> {
    let r = ROUTES.lock().unwrap_or_else(|e| e.into_inner());
    let r = r.as_ref()?;
    r.paths.iter().any(|p| p == path).then(|| r.tx.clone())
}

/// Worker 0: publishes the paths of `state` and serves their requests until
/// the worker ends.
pub(crate) fn serve(state: Rc<RefCell<Rc<RefCell<ConfigState>>>>) {
    let (tx, mut rx) = mpsc::channel::<AdminRequest>(64);
    publish(&state.borrow().borrow(), Some(tx));
    tokio::task::spawn_local(async move {
        while let Some(req) = rx.recv().await {
            let layout = {
                let current = state.borrow();
                let current = current.borrow();
                current
                    .admins
                    .iter()
                    .find(|(p, _)| *p == req.head.path.split('?').next().unwrap_or(""))
                    .map(|(_, l)| l.clone())
            };
            match layout {
                Some(l) => run(l, req),
                None => {
                    let _ = req.reply.send((404, Vec::new(), Bytes::new()));
                }
            }
        }
    });
}

/// Makes the paths of `state` the routed ones.
pub(crate) fn publish(state: &ConfigState, tx: Option<mpsc::Sender<AdminRequest>>) {
    let mut r = ROUTES.lock().unwrap_or_else(|e| e.into_inner());
    let paths: Vec<String> = state.admins.iter().map(|(p, _)| p.clone()).collect();
    match (r.as_mut(), tx) {
        (_, Some(tx)) => *r = Some(Routes { paths, tx }),
        (Some(routes), None) => routes.paths = paths,
        (None, None) => {}
    }
}

fn run(layout: pipy_core::Layout, req: AdminRequest) {
    #[derive(Default)]
    struct Out {
        head: Option<ResponseHead>,
        body: Data,
        reply: Option<oneshot::Sender<Answer>>,
        pipeline: Option<Pipeline>,
    }
    let out = Rc::new(RefCell::new(Out {
        reply: Some(req.reply),
        ..Default::default()
    }));
    let o = out.clone();
    let finish = move |o: &mut Out, fallback: u16| {
        let Some(reply) = o.reply.take() else { return };
        let head = o.head.take().unwrap_or_else(|| ResponseHead {
            status: fallback,
            ..Default::default()
        });
        let fields = head
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let body = std::mem::take(&mut o.body).to_bytes();
        let _ = reply.send((head.status, fields, body));
        o.pipeline = None;
    };
    let target = EventTarget::Func(Rc::new(move |evt: Event| {
        let mut o = o.borrow_mut();
        match evt {
            Event::MessageStart(h) => {
                let head = match h {
                    Head::Response(r) => Some(*r),
                    Head::Script(_) => {
                        pipy_js::with_js(|ctx| pipy_js::convert::response_head(&h, ctx)).ok()
                    }
                    _ => Some(ResponseHead::default()),
                };
                o.head = head;
            }
            Event::Data(d) => {
                if o.body.len() + d.len() <= MAX_BODY {
                    o.body.push(d);
                }
            }
            Event::MessageEnd(_) => finish(&mut o, 200),
            Event::StreamEnd(e) => {
                let status = pipy_filters::error_status(e);
                finish(&mut o, status)
            }
        }
    }));
    let p = Pipeline::new(&layout, pipy_core::Context::new(None), target);
    out.borrow_mut().pipeline = Some(p.clone());
    p.start();
    p.input(Event::MessageStart(Head::Request(Box::new(req.head))));
    if !req.body.is_empty() {
        p.input(Event::Data(Data::from(req.body)));
    }
    p.input(Event::MessageEnd(Head::None));
    // A pipeline that never answers is let go after a while.
    let weak = Rc::downgrade(&out);
    pipy_core::io::after_background(
        ANSWER_TIMEOUT,
        Box::new(move || {
            if let Some(o) = weak.upgrade() {
                let mut o = o.borrow_mut();
                if let Some(reply) = o.reply.take() {
                    let _ = reply.send((504, Vec::new(), Bytes::new()));
                }
                o.pipeline = None;
            }
        }),
    );
}

/// Header fields of a request, from the admin port's parsed request.
pub fn header_map(fields: impl IntoIterator<Item = (Bytes, Bytes)>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in fields {
        h.append(n, v);
    }
    h
}
