//! The few operating-system calls pipy makes on raw memory, each behind a safe
//! function. The rest of the workspace forbids `unsafe`.

/// Gives back the pages of this program's own code and read-only data that
/// are resident now, so that its resident set is what it goes on to run.
///
/// Loading a codebase runs much of the program once (the script engine's
/// set-up of its built-ins touches code all over a large binary, and the
/// kernel maps each touched page's neighbours too): most of the program ends
/// up resident although a running proxy uses a small part of it. Clean pages
/// of the executable can be dropped at any time and come back, from the page
/// cache, when next run. Pages shared with another process stay. Linux only
/// (`MADV_PAGEOUT`, 5.4 and later); elsewhere, or when the kernel refuses,
/// nothing happens. Returns the bytes advised.
pub fn release_program_pages() -> usize {
    #[cfg(target_os = "linux")]
    {
        linux::release_program_pages()
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

#[cfg(target_os = "linux")]
mod linux {
    /// The executable's mappings that are not writable: `(start, length)`.
    fn program_mappings() -> Vec<(usize, usize)> {
        let (Ok(exe), Ok(maps)) = (
            std::fs::read_link("/proc/self/exe"),
            std::fs::read_to_string("/proc/self/maps"),
        ) else {
            return Vec::new();
        };
        let Some(exe) = exe.to_str() else {
            return Vec::new();
        };
        maps.lines()
            .filter_map(|line| {
                // start-end perms offset dev inode path
                let mut fields = line.split_whitespace();
                let range = fields.next()?;
                let perms = fields.next()?;
                let path = fields.nth(3)?;
                if path != exe || perms.contains('w') {
                    return None;
                }
                let (start, end) = range.split_once('-')?;
                let start = usize::from_str_radix(start, 16).ok()?;
                let end = usize::from_str_radix(end, 16).ok()?;
                (end > start).then_some((start, end - start))
            })
            .collect()
    }

    pub(super) fn release_program_pages() -> usize {
        let mut advised = 0;
        for (start, len) in program_mappings() {
            // SAFETY: the range is a whole mapping of this process's own
            // executable, read-only and file-backed, as /proc/self/maps lists
            // it. MADV_PAGEOUT only lets the kernel reclaim those pages; their
            // content stays the file's, and any access maps them back. No
            // Rust reference is invalidated.
            let r = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
            if r == 0 {
                advised += len;
            }
        }
        advised
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_test_binary_has_read_only_mappings_and_gives_them_back() {
            let rss_file = || {
                std::fs::read_to_string("/proc/self/status")
                    .unwrap()
                    .lines()
                    .find_map(|l| l.strip_prefix("RssFile:"))
                    .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
                    .unwrap()
            };
            let maps = super::program_mappings();
            assert!(!maps.is_empty(), "the executable's own mappings are found");
            let before = rss_file();
            assert!(super::release_program_pages() > 0);
            let after = rss_file();
            assert!(
                after < before,
                "resident file pages: {before} kB, then {after} kB"
            );
            // Code runs on after its pages were given back.
            assert_eq!(format!("{}", 6 * 7), "42");
        }
    }
}
