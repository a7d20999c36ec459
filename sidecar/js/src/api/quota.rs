//! `algo.Quota`: an amount that streams consume and that comes back, for the
//! throttle filters.
//!
//! As upstream: `new algo.Quota(initial, { key, max, per, produce })`. With
//! `per`, once something was consumed the quota is topped up `per` later: by
//! `produce` at a time (and again every `per`) when `produce` is given, or
//! back to `initial` at once. `max` caps what `produce()` can add. With `key`,
//! every Quota of that key, on every worker thread, shares one counter, as
//! upstream shares it; without, a Quota is its own.
//!
//! Top-ups are computed when the counter is next looked at, not by a timer
//! of the counter's own, so a shared counter belongs to no thread; a Quota
//! with streams waiting sets a timer of its own for the next top-up, and is
//! woken across threads when another thread produces.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use pipy_core::{Data, Event, EventTarget};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How a counter refills.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuotaOptions {
    /// Most the counter holds (`produce()` is capped here).
    pub max: f64,
    /// Top-up period (none: no top-up).
    pub per: Option<Duration>,
    /// Amount per top-up (0: back to the initial value at once).
    pub produce: f64,
}

impl Default for QuotaOptions {
    fn default() -> Self {
        Self {
            max: f64::INFINITY,
            per: None,
            produce: 0.0,
        }
    }
}

struct CounterState {
    initial: f64,
    current: f64,
    options: QuotaOptions,
    next_top_up: Option<Instant>,
}

impl CounterState {
    /// Applies the top-ups due by `now`.
    fn top_up(&mut self, now: Instant) {
        while let (Some(at), Some(per)) = (self.next_top_up, self.options.per) {
            if at > now {
                break;
            }
            let missing = self.initial - self.current;
            let step = self.options.produce;
            if step > 0.0 && step < missing {
                self.current += step;
                self.next_top_up = Some(at + per.max(Duration::from_millis(1)));
            } else {
                if missing > 0.0 {
                    self.current = self.initial;
                }
                self.next_top_up = None;
            }
        }
    }

    fn schedule(&mut self, now: Instant) {
        if self.next_top_up.is_none() && self.current < self.initial {
            if let Some(per) = self.options.per {
                self.next_top_up = Some(now + per);
            }
        }
    }
}

/// The amount behind one or more Quotas (more when they share a key).
pub struct Counter {
    state: Mutex<CounterState>,
    /// Quotas with streams waiting, to wake when something is produced.
    waiting: Mutex<Vec<std::sync::Weak<Notify>>>,
}

impl Counter {
    fn new(initial: f64, options: QuotaOptions) -> Self {
        Self {
            state: Mutex::new(CounterState {
                initial,
                current: initial,
                options,
                next_top_up: None,
            }),
            waiting: Mutex::new(Vec::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut CounterState) -> R) -> R {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.top_up(Instant::now());
        f(&mut st)
    }

    fn wake_all(&self) {
        let mut w = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        w.retain(|n| match n.upgrade() {
            Some(n) => {
                n.notify_one();
                true
            }
            None => false,
        });
    }

    /// Re-initialised by a new Quota of the same key (a reload): a bigger
    /// initial value adds the difference now.
    fn reinit(&self, initial: f64, options: QuotaOptions) {
        let grew = self.with(|st| {
            let old = st.current;
            if initial > st.initial {
                st.current += initial - st.initial;
            }
            st.initial = initial;
            st.options = options;
            st.current = st.current.min(options.max);
            st.schedule(Instant::now());
            st.current > old
        });
        if grew {
            self.wake_all();
        }
    }
}

fn shared(key: &str, initial: f64, options: QuotaOptions) -> Arc<Counter> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, std::sync::Weak<Counter>>>> = OnceLock::new();
    let mut map = REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.retain(|_, c| c.strong_count() > 0);
    if let Some(c) = map.get(key).and_then(|c| c.upgrade()) {
        c.reinit(initial, options);
        return c;
    }
    let c = Arc::new(Counter::new(initial, options));
    map.insert(key.to_owned(), Arc::downgrade(&c));
    c
}

/// A Quota as the filters use it, on one worker thread.
pub struct Quota {
    counter: Arc<Counter>,
    shared: bool,
    /// Streams waiting for more, in order: each is told (an empty Data event)
    /// to try again.
    waiters: RefCell<VecDeque<EventTarget>>,
    notify: Arc<Notify>,
    listening: Cell<bool>,
    /// Whether `notify` is in the counter's list (once for good).
    registered: Cell<bool>,
    timer_at: Cell<Option<Instant>>,
    me: Weak<Quota>,
}

impl Quota {
    /// A Quota of `initial`, shared by every Quota of `key` when given.
    pub fn new(initial: f64, options: QuotaOptions, key: Option<&str>) -> Rc<Self> {
        let counter = match key {
            Some(k) => shared(k, initial, options),
            None => Arc::new(Counter::new(initial, options)),
        };
        Rc::new_cyclic(|me| Quota {
            counter,
            shared: key.is_some(),
            waiters: RefCell::new(VecDeque::new()),
            notify: Arc::new(Notify::new()),
            listening: Cell::new(false),
            registered: Cell::new(false),
            timer_at: Cell::new(None),
            me: me.clone(),
        })
    }

    /// The initial value.
    pub fn initial(&self) -> f64 {
        self.counter.with(|st| st.initial)
    }

    /// What is left now.
    pub fn current(&self) -> f64 {
        self.counter.with(|st| st.current)
    }

    /// Takes up to `value`; returns what it took.
    pub fn consume(&self, value: f64) -> f64 {
        if value.is_nan() || value <= 0.0 {
            return 0.0;
        }
        self.counter.with(|st| {
            let taken = value.min(st.current.max(0.0));
            st.current -= taken;
            st.schedule(Instant::now());
            taken
        })
    }

    /// Gives back `value` (capped at `max`) and wakes waiting streams.
    pub fn produce(&self, value: f64) {
        if value.is_nan() || value <= 0.0 {
            return;
        }
        self.counter
            .with(|st| st.current = st.options.max.min(st.current + value));
        self.counter.wake_all();
        if !self.shared {
            // Not registered with the counter while nobody waits: wake here.
            self.notify.notify_one();
        }
    }

    /// Back to the initial value (a shared counter is left alone, as
    /// upstream leaves it).
    pub fn reset(&self) {
        if self.shared {
            return;
        }
        let missing = self.counter.with(|st| {
            if st.current >= st.initial {
                st.current = st.initial;
                0.0
            } else {
                st.initial - st.current
            }
        });
        self.produce(missing);
    }

    /// Has `target` told (an empty Data event) when more is available.
    pub fn wait(&self, target: EventTarget) {
        self.waiters.borrow_mut().push_back(target);
        self.listen();
        self.arm_timer();
    }

    /// While streams wait: a task that wakes on produce (from any thread).
    fn listen(&self) {
        if self.listening.replace(true) {
            return;
        }
        if !self.registered.replace(true) {
            self.counter
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Arc::downgrade(&self.notify));
        }
        let notify = self.notify.clone();
        let me = self.me.clone();
        pipy_core::io::spawn(Box::pin(async move {
            loop {
                notify.notified().await;
                let Some(q) = me.upgrade() else { return };
                q.wake_waiters();
                if q.waiters.borrow().is_empty() {
                    q.listening.set(false);
                    return;
                }
            }
        }));
    }

    /// A timer for the next top-up, when one is due and streams wait.
    fn arm_timer(&self) {
        let Some(at) = self.counter.with(|st| st.next_top_up) else {
            return;
        };
        if self.timer_at.get().is_some_and(|t| t <= at) {
            return;
        }
        self.timer_at.set(Some(at));
        let me = self.me.clone();
        let delay = at.saturating_duration_since(Instant::now());
        pipy_core::io::after(
            delay,
            Box::new(move || {
                if let Some(q) = me.upgrade() {
                    q.timer_at.set(None);
                    q.wake_waiters();
                    if !q.waiters.borrow().is_empty() {
                        q.arm_timer();
                    }
                }
            }),
        );
    }

    /// Tells waiting streams to try again, in order, while there is some left.
    fn wake_waiters(&self) {
        let waiting = std::mem::take(&mut *self.waiters.borrow_mut());
        let mut rest = waiting.into_iter();
        for target in rest.by_ref() {
            if target.is_closed() {
                continue;
            }
            if self.current() <= 0.0 {
                self.waiters.borrow_mut().push_front(target);
                break;
            }
            target.send(Event::Data(Data::new()));
        }
        // Those not told keep their place ahead of any that waited again.
        let mut w = self.waiters.borrow_mut();
        let again: Vec<_> = w.drain(..).collect();
        w.extend(rest);
        for t in again.into_iter().rev() {
            w.push_front(t);
        }
    }
}

/// The script object of `algo.Quota`.
#[derive(Trace, Finalize, JsData)]
pub struct QuotaObject {
    #[unsafe_ignore_trace]
    quota: Rc<Quota>,
}

/// The Quota behind a script value, if it is one.
pub fn quota_of(v: &JsValue) -> Option<Rc<Quota>> {
    v.as_object()?
        .downcast_ref::<QuotaObject>()
        .map(|q| q.quota.clone())
}

fn this_quota(this: &JsValue) -> JsResult<Rc<Quota>> {
    quota_of(this).ok_or_else(|| {
        JsNativeError::typ()
            .with_message("not an algo.Quota")
            .into()
    })
}

fn number_arg(args: &[JsValue], ctx: &mut Context) -> JsResult<f64> {
    args.first().cloned().unwrap_or_default().to_number(ctx)
}

impl Class for QuotaObject {
    const NAME: &'static str = "Quota";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let initial = match args.first() {
            Some(v) if !v.is_null_or_undefined() => v.to_number(ctx)?,
            _ => 0.0,
        };
        let mut options = QuotaOptions::default();
        let mut key = None;
        if let Some(o) = args.get(1).and_then(|v| v.as_object()) {
            let k = o.get(js_string!("key"), ctx)?;
            if !k.is_null_or_undefined() {
                key = Some(k.to_string(ctx)?.to_std_string_escaped());
            }
            let m = o.get(js_string!("max"), ctx)?;
            if !m.is_null_or_undefined() {
                options.max = m.to_number(ctx)?;
            }
            let p = o.get(js_string!("per"), ctx)?;
            if !p.is_null_or_undefined() {
                options.per = Some(seconds(&p, ctx)?).filter(|d| !d.is_zero());
            }
            let n = o.get(js_string!("produce"), ctx)?;
            if !n.is_null_or_undefined() {
                options.produce = n.to_number(ctx)?;
            }
        }
        Ok(QuotaObject {
            quota: Quota::new(initial, options, key.as_deref()),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let getter = |f: fn(&Quota) -> f64| {
            NativeFunction::from_copy_closure(move |this, _, _| {
                Ok(JsValue::from(f(&*this_quota(this)?)))
            })
            .to_js_function(&realm)
        };
        let (initial, current) = (getter(Quota::initial), getter(Quota::current));
        let attrs = Attribute::ENUMERABLE | Attribute::CONFIGURABLE;
        class.accessor(js_string!("initial"), Some(initial), None, attrs);
        class.accessor(js_string!("current"), Some(current), None, attrs);
        class.method(
            js_string!("reset"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                this_quota(this)?.reset();
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("produce"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let v = number_arg(args, ctx)?;
                this_quota(this)?.produce(v);
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("consume"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let v = number_arg(args, ctx)?;
                Ok(JsValue::from(this_quota(this)?.consume(v)))
            }),
        );
        Ok(())
    }
}

/// Seconds as a number, or text with a unit.
fn seconds(v: &JsValue, ctx: &mut Context) -> JsResult<Duration> {
    if let Some(n) = v.as_number() {
        return Ok(Duration::from_secs_f64(if n.is_finite() && n > 0.0 {
            n
        } else {
            0.0
        }));
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    pipy_core::units::parse_duration(&s).map_err(|e| {
        JsNativeError::typ()
            .with_message(format!("algo.Quota: per: {e}"))
            .into()
    })
}

/// Whether a script value is an `algo.Quota`.
pub fn is_quota(v: &JsValue) -> bool {
    v.as_object()
        .is_some_and(|o: JsObject| o.downcast_ref::<QuotaObject>().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_takes_what_is_left_and_tops_up_per_period() {
        let q = Quota::new(
            10.0,
            QuotaOptions {
                per: Some(Duration::from_millis(30)),
                produce: 4.0,
                ..Default::default()
            },
            None,
        );
        assert_eq!(q.consume(3.0), 3.0);
        assert_eq!(q.consume(30.0), 7.0);
        assert_eq!(q.consume(1.0), 0.0);
        std::thread::sleep(Duration::from_millis(35));
        assert_eq!(q.current(), 4.0);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(q.current(), 8.0);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(q.current(), 10.0, "the last top-up fills up to initial");
        q.produce(100.0);
        assert_eq!(q.current(), 110.0, "produce is capped by max only");
        q.reset();
        assert_eq!(q.current(), 10.0);
    }

    #[test]
    fn quotas_of_a_key_share_one_counter_across_threads() {
        let a = Quota::new(5.0, QuotaOptions::default(), Some("test-shared"));
        assert_eq!(a.consume(2.0), 2.0);
        let other = std::thread::spawn(|| {
            let b = Quota::new(5.0, QuotaOptions::default(), Some("test-shared"));
            b.consume(10.0)
        })
        .join()
        .unwrap();
        assert_eq!(other, 3.0);
        assert_eq!(a.current(), 0.0);
        a.produce(1.0);
        let c = Quota::new(
            5.0,
            QuotaOptions {
                max: 2.0,
                ..Default::default()
            },
            Some("test-shared"),
        );
        assert_eq!(c.current(), 1.0);
        c.produce(5.0);
        assert_eq!(a.current(), 2.0, "the new max applies to all");
    }
}
