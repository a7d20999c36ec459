//! Where the local log goes: `--log-local=stdout|stderr|null`, or a file with
//! `--log-file`, rotated by size (`--log-file-max-size`), by age
//! (`--log-file-rotate-interval`) and kept to `--log-file-max-count` files
//! (`FILE.1` is the newest old one), as upstream's options say.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// When a log file is rotated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rotation {
    /// Bytes after which the file is rotated (0: never by size).
    pub max_size: u64,
    /// Files kept, the current one included (at least 1).
    pub max_count: usize,
    /// Age after which the file is rotated (`None`: never by age).
    pub interval: Option<Duration>,
}

struct Inner {
    path: PathBuf,
    file: File,
    size: u64,
    opened: Instant,
    rotation: Rotation,
}

impl Inner {
    fn rotate(&mut self) -> io::Result<()> {
        let name = |i: usize| -> PathBuf {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            p.into()
        };
        let keep = self.rotation.max_count.max(1);
        if keep > 1 {
            for i in (1..keep - 1).rev() {
                let _ = std::fs::rename(name(i), name(i + 1));
            }
            std::fs::rename(&self.path, name(1))?;
        }
        self.file = File::create(&self.path)?;
        self.size = 0;
        self.opened = Instant::now();
        Ok(())
    }
}

/// A log file shared by the threads that log.
#[derive(Clone)]
pub(crate) struct LogFile(Arc<Mutex<Inner>>);

impl LogFile {
    /// Opens (appends to) `path`.
    pub(crate) fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self(Arc::new(Mutex::new(Inner {
            path: path.to_path_buf(),
            file,
            size,
            opened: Instant::now(),
            rotation,
        }))))
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut f = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let by_size = f.rotation.max_size > 0 && f.size + buf.len() as u64 > f.rotation.max_size;
        let by_age = f.rotation.interval.is_some_and(|t| f.opened.elapsed() >= t);
        if (by_size && f.size > 0) || by_age {
            f.rotate()?;
        }
        f.file.write_all(buf)?;
        f.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .file
            .flush()
    }
}

/// The writer of the local log, from the log options.
pub(crate) fn writer(
    file: Option<&Path>,
    local: &str,
    rotation: Rotation,
) -> Result<BoxMakeWriter, String> {
    if let Some(path) = file {
        let f = LogFile::open(path, rotation)
            .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
        return Ok(BoxMakeWriter::new(move || f.clone()));
    }
    match local {
        "stderr" => Ok(BoxMakeWriter::new(io::stderr)),
        "stdout" => Ok(BoxMakeWriter::new(io::stdout)),
        "null" => Ok(BoxMakeWriter::new(io::sink)),
        other => Err(format!("unknown log output: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_max_count_files() {
        let dir = std::env::temp_dir().join(format!("pipy-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("pipy.log");
        let mut f = LogFile::open(
            &path,
            Rotation {
                max_size: 10,
                max_count: 3,
                interval: None,
            },
        )
        .expect("open");
        for line in ["aaaaaaaa\n", "bbbbbbbb\n", "cccccccc\n", "dddddddd\n"] {
            f.write_all(line.as_bytes()).expect("write");
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        assert_eq!(read(&path), "dddddddd\n");
        assert_eq!(read(&dir.join("pipy.log.1")), "cccccccc\n");
        assert_eq!(read(&dir.join("pipy.log.2")), "bbbbbbbb\n");
        assert!(!dir.join("pipy.log.3").exists(), "only three files kept");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
