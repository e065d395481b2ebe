//! Passwords too common to accept (ASVS 5.0 6.2.4): the most frequent leaked passwords that
//! would otherwise satisfy the length policy, compared case-insensitively, since a
//! guessing attack tries case variants of a common password first.

use std::collections::HashSet;
use std::sync::LazyLock;

/// One lower-case password per line; `#` lines are the source note.
const LIST: &str = include_str!("common_passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    LIST.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Whether `password` (in any letter case) is on the list.
pub(crate) fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_the_well_known_ones_in_any_case() {
        assert!(COMMON.len() > 3000, "ASVS asks for at least the top 3000");
        for common in ["password", "Password", "12345678", "iloveyou", "QWERTYUIOP"] {
            assert!(is_common(common), "{common}");
        }
        for fine in ["correct horse battery", "a new password", "long enough pw"] {
            assert!(!is_common(fine), "{fine}");
        }
    }
}
