//! Backing the graph with 2 MiB pages. A search at a million faces reads a few thousand vectors
//! and neighbour lists at random across hundreds of megabytes: with 4 KiB pages nearly every one
//! of those reads also misses the TLB, and in a virtual machine a TLB miss walks two page tables.
//! usearch allocates its graph and vectors with anonymous `mmap`s of its own, and the kernel
//! backs those with huge pages only when asked (`transparent_hugepage=madvise`, the usual
//! default). So the anonymous memory a build or a load mapped is asked for huge pages
//! (`MADV_HUGEPAGE`, which also covers its later faults) and collapsed into them at once
//! (`MADV_COLLAPSE`, Linux 6.1 and later). Where the kernel refuses, only the speed differs.

/// The process's private anonymous read-write mappings at one moment, as address ranges.
pub(crate) struct Mappings(Vec<(usize, usize)>);

const HUGE_PAGE: usize = 2 << 20;

impl Mappings {
    #[cfg(target_os = "linux")]
    pub(crate) fn now() -> Self {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        Self(maps.lines().filter_map(anonymous_range).collect())
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn now() -> Self {
        Self(Vec::new())
    }

    /// Asks for huge pages over the memory mapped since `before`, in whole huge pages.
    pub(crate) fn advise_since(before: &Self) {
        for (start, end) in Self::now().0 {
            for (start, end) in subtract((start, end), &before.0) {
                let (start, end) = (
                    start.next_multiple_of(HUGE_PAGE),
                    end / HUGE_PAGE * HUGE_PAGE,
                );
                if end > start {
                    advise(start, end - start);
                }
            }
        }
    }
}

/// `start-end rw-p offset dev 0` with no path: memory no file or stack backs.
#[cfg(target_os = "linux")]
fn anonymous_range(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let (range, perms) = (fields.next()?, fields.next()?);
    let (_, _, inode, path) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next(),
    );
    if perms != "rw-p" || inode != "0" || path.is_some() {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some((
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    ))
}

/// The parts of `range` outside every range of `taken`.
fn subtract(range: (usize, usize), taken: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut parts = vec![range];
    for &(t_start, t_end) in taken {
        parts = parts
            .into_iter()
            .flat_map(|(s, e)| {
                [(s, e.min(t_start)), (s.max(t_end), e)]
                    .into_iter()
                    .filter(|(a, b)| a < b)
            })
            .collect();
    }
    parts
}

#[cfg(target_os = "linux")]
fn advise(start: usize, len: usize) {
    // SAFETY: both advices keep the range's contents and mapping as they are; only the pages
    // backing it change. The range lies inside a mapping this process holds.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        // One huge page at a time: the kernel stops collapsing a range at the first huge page
        // of it nothing was written to (usearch maps each arena whole and fills it in part),
        // which left most of a million faces' graph in small pages.
        for page in (start..start + len).step_by(HUGE_PAGE) {
            libc::madvise(page as *mut libc::c_void, HUGE_PAGE, libc::MADV_COLLAPSE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_start: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_was_not_mapped_before_is_left() {
        assert_eq!(subtract((0, 100), &[]), vec![(0, 100)]);
        assert_eq!(
            subtract((0, 100), &[(20, 30), (50, 60)]),
            vec![(0, 20), (30, 50), (60, 100)]
        );
        assert_eq!(subtract((0, 100), &[(0, 100)]), vec![]);
        assert_eq!(subtract((10, 20), &[(0, 15), (18, 40)]), vec![(15, 18)]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn anonymous_mappings_are_told_from_files_and_stacks() {
        let anon = "7f0000000000-7f0000400000 rw-p 00000000 00:00 0 ";
        assert_eq!(
            anonymous_range(anon),
            Some((0x7f00_0000_0000, 0x7f00_0040_0000))
        );
        assert_eq!(
            anonymous_range("7f0-7f1 rw-p 00000000 00:00 0    [stack]"),
            None
        );
        assert_eq!(
            anonymous_range("7f0-7f1 r-xp 00000000 08:01 1234 /usr/lib/libc.so"),
            None
        );
        assert_eq!(anonymous_range("7f0-7f1 r--p 00000000 00:00 0 "), None);
    }
}
