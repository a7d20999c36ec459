//! `tee(filename, { append, shared, maxFileSize, maxFileCount, rotateInterval })`:
//! writes the stream's Data to a file, passing every event on.
//!
//! As upstream: the filename (or a function giving it, asked at the first
//! Data) is opened per stream, truncated unless `append`; with `shared`, all
//! streams writing the same path share one file, which rotates: before a
//! write that would take it past `maxFileSize`, or once it is older than
//! `rotateInterval` seconds, it is renamed with a `YYYY-MM-DD-HH-MM-SS-`
//! prefix (its creation time; UTC here, local time upstream) and a new one is
//! started, keeping at most `maxFileCount` of the renamed ones. `-` is the
//! standard output.
//!
//! Files are written by one background thread, so a slow disk never blocks
//! the data path; what waits for it is bounded ([`MAX_QUEUED`]), and past that
//! bound Data is left out of the file (and counted in a warning) rather than
//! held.

use crate::util::{js, Callback};
use bytes::Bytes;
use pipy_core::{Event, Filter, FilterTemplate, Output, StreamError};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Bytes queued for the writer thread at most.
pub const MAX_QUEUED: usize = 64 << 20;

/// Options of `tee`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TeeOptions {
    /// Append to an existing file instead of truncating it.
    pub append: bool,
    /// One file for every stream writing the same path.
    pub shared: bool,
    /// Rotate a shared file before it grows past this many bytes (0: never).
    pub max_file_size: u64,
    /// Rotated files kept (0: all).
    pub max_file_count: usize,
    /// Rotate a shared file older than this (zero: never).
    pub rotate_interval: Duration,
}

/// Template of `tee`.
pub struct TeeTemplate {
    filename: Callback,
    options: TeeOptions,
}

impl TeeTemplate {
    /// Writes to `filename` (a path or a function giving one).
    pub fn new(filename: Callback, options: TeeOptions) -> Self {
        Self { filename, options }
    }
}

impl FilterTemplate for TeeTemplate {
    fn name(&self) -> &'static str {
        "tee"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Tee {
            filename: self.filename.clone(),
            options: self.options.clone(),
            target: None,
        })
    }
}

enum Target {
    Own(u64),
    Shared(PathBuf),
}

struct Tee {
    filename: Callback,
    options: TeeOptions,
    target: Option<Target>,
}

impl Tee {
    fn open(&mut self, out: &Output<'_>) -> Option<()> {
        let v = self.filename.call(&[], out)?;
        let name = js(|ctx| v.to_string(ctx).map(|s| s.to_std_string_escaped())).ok()?;
        let path = if name == "-" {
            PathBuf::from("-")
        } else {
            std::path::absolute(&name).unwrap_or_else(|_| PathBuf::from(&name))
        };
        if self.options.shared {
            self.target = Some(Target::Shared(path));
        } else {
            static NEXT: AtomicU64 = AtomicU64::new(1);
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            send(Job::Open {
                id,
                path,
                append: self.options.append,
            });
            self.target = Some(Target::Own(id));
        }
        Some(())
    }
}

impl Filter for Tee {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match &evt {
            Event::Data(d) if !d.is_empty() => {
                if self.target.is_none() && self.open(out).is_none() {
                    return out.fail(StreamError::RuntimeError);
                }
                let bytes: Vec<Bytes> = d.chunks().cloned().collect();
                match &self.target {
                    Some(Target::Own(id)) => write(Job::Write { id: *id, bytes }, d.len()),
                    Some(Target::Shared(path)) => write(
                        Job::Shared {
                            path: path.clone(),
                            options: self.options.clone(),
                            bytes,
                        },
                        d.len(),
                    ),
                    None => {}
                }
            }
            Event::StreamEnd(_) => {
                if let Some(Target::Own(id)) = self.target.take() {
                    send(Job::Close { id });
                }
            }
            _ => {}
        }
        out.push(evt);
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        if let Some(Target::Own(id)) = self.target.take() {
            send(Job::Close { id });
        }
    }
}

enum Job {
    Open {
        id: u64,
        path: PathBuf,
        append: bool,
    },
    Write {
        id: u64,
        bytes: Vec<Bytes>,
    },
    Close {
        id: u64,
    },
    Shared {
        path: PathBuf,
        options: TeeOptions,
        bytes: Vec<Bytes>,
    },
}

static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// Waits, at most `limit`, until every queued write reached its file: called
/// before the process exits, so that what a stream wrote last is not lost.
pub fn drain(limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while QUEUED.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}
static DROPPED: AtomicU64 = AtomicU64::new(0);
static DROPS: AtomicU64 = AtomicU64::new(0);

fn writer() -> &'static Sender<Job> {
    static WRITER: OnceLock<Sender<Job>> = OnceLock::new();
    WRITER.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let _ = std::thread::Builder::new()
            .name("pipy-tee".into())
            .spawn(move || {
                let mut files = Files::default();
                while let Ok(job) = rx.recv() {
                    files.run(job);
                }
            });
        tx
    })
}

/// Hands a job to the writer thread; false when it is gone.
fn send(job: Job) -> bool {
    writer().send(job).is_ok()
}

/// Appends `bytes` to the file at `path` shared by everything writing it (as
/// a `shared` tee), rotated by `options`: what a logger's `toFile` writes.
/// Never blocks; past [`MAX_QUEUED`] the bytes are left out and counted.
pub fn append_shared(path: PathBuf, options: TeeOptions, bytes: Bytes) {
    let len = bytes.len();
    write(
        Job::Shared {
            path,
            options,
            bytes: vec![bytes],
        },
        len,
    );
}

fn write(job: Job, len: usize) {
    if QUEUED.fetch_add(len, Ordering::AcqRel) + len > MAX_QUEUED {
        QUEUED.fetch_sub(len, Ordering::AcqRel);
        let n = DROPPED.fetch_add(len as u64, Ordering::Relaxed) + len as u64;
        // One warning per 1000 writes left out, not one each (a logger
        // writes a line at a time).
        if (DROPS.fetch_add(1, Ordering::Relaxed) + 1) % 1000 == 1 {
            tracing::warn!("tee: the disk is behind; {n} bytes left out of files so far");
        }
        return;
    }
    if !send(job) {
        QUEUED.fetch_sub(len, Ordering::AcqRel);
    }
}

enum Sink {
    File(File),
    Stdout,
}

impl Sink {
    fn open(path: &Path, append: bool) -> std::io::Result<Self> {
        if path == Path::new("-") {
            return Ok(Sink::Stdout);
        }
        let mut o = OpenOptions::new();
        o.create(true);
        if append {
            o.append(true);
        } else {
            o.write(true).truncate(true);
        }
        o.open(path).map(Sink::File)
    }

    fn write(&mut self, bytes: &[Bytes]) -> std::io::Result<()> {
        match self {
            Sink::File(f) => bytes.iter().try_for_each(|b| f.write_all(b)),
            Sink::Stdout => {
                let mut o = std::io::stdout().lock();
                bytes.iter().try_for_each(|b| o.write_all(b))?;
                o.flush()
            }
        }
    }
}

struct SharedFile {
    sink: Sink,
    created: SystemTime,
    written: u64,
    last_write: std::time::Instant,
}

/// Shared paths remembered as opened before, at most.
const MAX_STARTED: usize = 4096;

/// A shared file nobody wrote to for this long is closed (and opened again
/// when written to).
const SHARED_IDLE: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Files {
    own: HashMap<u64, Sink>,
    shared: HashMap<PathBuf, SharedFile>,
    /// Shared paths opened before: one closed while idle is opened again
    /// for appending, never truncated.
    started: std::collections::HashSet<PathBuf>,
}

impl Files {
    fn run(&mut self, job: Job) {
        match job {
            Job::Open { id, path, append } => match Sink::open(&path, append) {
                Ok(s) => {
                    self.own.insert(id, s);
                }
                Err(e) => tracing::error!("tee: cannot open {}: {e}", path.display()),
            },
            Job::Write { id, bytes } => {
                let len: usize = bytes.iter().map(|b| b.len()).sum();
                if let Some(s) = self.own.get_mut(&id) {
                    if let Err(e) = s.write(&bytes) {
                        tracing::error!("tee: write failed: {e}");
                    }
                }
                QUEUED.fetch_sub(len, Ordering::AcqRel);
            }
            Job::Close { id } => {
                self.own.remove(&id);
            }
            Job::Shared {
                path,
                options,
                bytes,
            } => {
                let len: usize = bytes.iter().map(|b| b.len()).sum();
                self.write_shared(&path, &options, &bytes, len as u64);
                QUEUED.fetch_sub(len, Ordering::AcqRel);
            }
        }
    }

    fn write_shared(&mut self, path: &Path, o: &TeeOptions, bytes: &[Bytes], len: u64) {
        self.shared
            .retain(|p, f| p == path || f.last_write.elapsed() < SHARED_IDLE);
        let is_file = path != Path::new("-");
        if let Some(f) = self.shared.get(path) {
            let too_big = o.max_file_size > 0 && f.written + len > o.max_file_size;
            let too_old = !o.rotate_interval.is_zero()
                && f.created.elapsed().unwrap_or_default() > o.rotate_interval;
            if is_file && f.written > 0 && (too_big || too_old) {
                let created = f.created;
                self.shared.remove(path);
                rotate(path, created, o.max_file_count);
            }
        }
        if !self.shared.contains_key(path) {
            if self.started.len() >= MAX_STARTED {
                // Bounded: past this many paths, forgetting costs at most a
                // truncation on reopening a non-append file idle for a minute.
                self.started.clear();
            }
            let append = o.append || !self.started.insert(path.to_owned());
            let (mut created, mut written) = (SystemTime::now(), 0);
            if let Some(m) = std::fs::metadata(path).ok().filter(|_| is_file) {
                if m.is_file() && append {
                    created = m.created().or_else(|_| m.modified()).unwrap_or(created);
                    written = m.len();
                }
            }
            match Sink::open(path, append) {
                Ok(sink) => {
                    self.shared.insert(
                        path.to_owned(),
                        SharedFile {
                            sink,
                            created,
                            written,
                            last_write: std::time::Instant::now(),
                        },
                    );
                }
                Err(e) => {
                    tracing::error!("tee: cannot open {}: {e}", path.display());
                    return;
                }
            }
        }
        if let Some(f) = self.shared.get_mut(path) {
            f.last_write = std::time::Instant::now();
            match f.sink.write(bytes) {
                Ok(()) => f.written += len,
                Err(e) => tracing::error!("tee: write to {} failed: {e}", path.display()),
            }
        }
    }
}

/// Renames `path` to its dated name and removes the oldest dated names past
/// `keep` (0: keep all).
fn rotate(path: &Path, created: SystemTime, keep: usize) {
    let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
        return;
    };
    let base = base.to_string_lossy();
    let stamp = date_prefix(created);
    let dated = dir.join(format!("{stamp}{base}"));
    if let Err(e) = move_aside(path, &dated) {
        tracing::error!("tee: cannot rotate {}: {e}", path.display());
    }
    if keep == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // Only this file's rotated names: a date prefix, then the name.
    let dated = |n: &str| {
        n.len() == base.len() + 20
            && n.ends_with(base.as_ref())
            && n.bytes().take(20).enumerate().all(|(i, c)| match i {
                4 | 7 | 10 | 13 | 16 | 19 => c == b'-',
                _ => c.is_ascii_digit(),
            })
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| dated(n))
        .collect();
    // Newest first: the dated names sort by their date.
    names.sort_by(|a, b| b.cmp(a));
    for old in names.iter().skip(keep) {
        let _ = std::fs::remove_file(dir.join(old));
    }
}

/// Renames `path` to `dated`. Files made within one second share a dated
/// name; upstream's rename then replaces the older one, losing it: here the
/// newer one's lines are appended to it instead.
fn move_aside(path: &Path, dated: &Path) -> std::io::Result<()> {
    if !dated.exists() {
        return std::fs::rename(path, dated);
    }
    let mut from = File::open(path)?;
    let mut to = OpenOptions::new().append(true).open(dated)?;
    std::io::copy(&mut from, &mut to)?;
    std::fs::remove_file(path)
}

/// `YYYY-MM-DD-HH-MM-SS-` of a time, in UTC.
fn date_prefix(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let dt =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rotating_twice_in_one_second_loses_nothing() {
        let dir = std::env::temp_dir().join(format!("pipy-tee-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.log");
        let now = std::time::SystemTime::now();
        for text in ["one\n", "two\n"] {
            std::fs::write(&path, text).unwrap();
            super::rotate(&path, now, 0);
        }
        let dated = dir.join(format!("{}a.log", super::date_prefix(now)));
        assert_eq!(std::fs::read_to_string(dated).unwrap(), "one\ntwo\n");
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn date_prefix_is_upstreams_format() {
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(super::date_prefix(t), "2023-11-14-22-13-20-");
    }
}
