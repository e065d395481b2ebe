//! Generated blocks in source files, kept equal to what the code says.
//!
//! A list that rustdoc must show (a crate's documented scenarios, say) cannot be produced
//! by a macro into `//!` text without hiding it from readers of the source. So the block
//! stays in the file, between two marker lines, and a test regenerates it and fails on
//! drift; `TASKFLOW_BLESS=1` writes the new block instead of failing.

use std::path::Path;

/// The variable that turns a drift failure into a rewrite of the block.
pub const BLESS: &str = "TASKFLOW_BLESS";

/// Asserts that the lines strictly between the line containing `begin` and the next line
/// containing `end` in the file at `path` are exactly `expected` (each line of `expected`
/// ending in a newline). With `TASKFLOW_BLESS=1`, rewrites the block to `expected` instead.
///
/// # Panics
/// When the file or a marker is missing, or the block differs (and blessing is off); the
/// message names the first differing line.
pub fn check_block(path: &Path, begin: &str, end: &str, expected: &str) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (start, stop) = block_range(&text, begin, end)
        .unwrap_or_else(|| panic!("{}: no block between {begin:?} and {end:?}", path.display()));
    let current = &text[start..stop];
    if current == expected {
        return;
    }
    if std::env::var(BLESS).is_ok_and(|v| v == "1") {
        let updated = format!("{}{expected}{}", &text[..start], &text[stop..]);
        std::fs::write(path, updated).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    let first_difference = current
        .lines()
        .zip(expected.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| current.lines().count().min(expected.lines().count()));
    panic!(
        "{} is out of date from line {} of its generated block:\n  found:    {:?}\n  expected: {:?}\n\
         rerun with {BLESS}=1 to regenerate it",
        path.display(),
        first_difference + 1,
        current
            .lines()
            .nth(first_difference)
            .unwrap_or("<end of block>"),
        expected
            .lines()
            .nth(first_difference)
            .unwrap_or("<end of block>"),
    );
}

/// Byte range of the lines between the `begin` line and the following `end` line.
fn block_range(text: &str, begin: &str, end: &str) -> Option<(usize, usize)> {
    let begin_at = text.find(begin)?;
    let start = begin_at + text[begin_at..].find('\n')? + 1;
    let end_at = start + text[start..].find(end)?;
    let stop = text[..end_at]
        .rfind('\n')
        .map_or(start, |n| (n + 1).max(start));
    Some((start, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "head\n// BEGIN\nold 1\nold 2\n// END\ntail\n";

    #[test]
    fn the_block_is_the_lines_between_the_markers() {
        let (start, stop) = block_range(FILE, "BEGIN", "END").unwrap();
        assert_eq!(&FILE[start..stop], "old 1\nold 2\n");
        let empty = "a\n// BEGIN\n// END\n";
        let (start, stop) = block_range(empty, "BEGIN", "END").unwrap();
        assert_eq!(&empty[start..stop], "");
        assert_eq!(block_range(FILE, "BEGIN", "MISSING"), None);
    }

    #[test]
    fn an_equal_block_passes_and_a_drifted_one_fails() {
        let dir = std::env::temp_dir().join(crate::unique_name("generated-"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("file.rs");
        std::fs::write(&path, FILE).unwrap();
        check_block(&path, "BEGIN", "END", "old 1\nold 2\n");
        let drift = std::panic::catch_unwind(|| check_block(&path, "BEGIN", "END", "old 1\n"));
        std::fs::remove_dir_all(&dir).unwrap();
        let message = *drift
            .expect_err("drift fails")
            .downcast::<String>()
            .unwrap();
        assert!(message.contains("from line 2"), "{message}");
    }
}
