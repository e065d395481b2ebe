//! Task ETags: the strong validator `"<version>"`.

/// `"<version>"`.
pub fn format(version: u64) -> String {
    format!("\"{version}\"")
}

/// What an `If-Match` header asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current representation.
    Any,
    /// One of these versions.
    Versions(Vec<u64>),
    /// Nothing this server could have issued (weak or foreign tags): never matches.
    Nothing,
}

/// The `If-Match` value to honour, given what the parameter parser read. That parser drops
/// a value that is not visible ASCII as if the header were absent, which would make a
/// conditional change unconditional; such a value names no version, so it reads as an
/// empty list and the precondition fails.
pub fn if_match_of(parsed: Option<String>, req: &poem::Request) -> Option<String> {
    parsed.or_else(|| {
        req.headers()
            .contains_key(poem::http::header::IF_MATCH)
            .then(String::new)
    })
}

/// Parses `If-Match`. It uses strong comparison (RFC 9110 §13.1.1), so weak tags never match.
pub fn parse_if_match(header: &str) -> IfMatch {
    if header.trim() == "*" {
        return IfMatch::Any;
    }
    let versions: Vec<u64> = header
        .split(',')
        .filter_map(|tag| strong_version(tag.trim()))
        .collect();
    if versions.is_empty() {
        IfMatch::Nothing
    } else {
        IfMatch::Versions(versions)
    }
}

/// Does `If-None-Match` match `version`? Weak comparison (RFC 9110 §13.1.2).
pub fn none_match_hits(header: &str, version: u64) -> bool {
    header.trim() == "*"
        || header.split(',').any(|tag| {
            let tag = tag.trim();
            strong_version(tag.strip_prefix("W/").unwrap_or(tag)) == Some(version)
        })
}

fn strong_version(tag: &str) -> Option<u64> {
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_forms() {
        assert_eq!(parse_if_match("*"), IfMatch::Any);
        assert_eq!(parse_if_match("\"3\""), IfMatch::Versions(vec![3]));
        assert_eq!(
            parse_if_match("\"3\", \"5\""),
            IfMatch::Versions(vec![3, 5])
        );
        assert_eq!(parse_if_match("W/\"3\""), IfMatch::Nothing);
        assert_eq!(parse_if_match("3"), IfMatch::Nothing);
        assert_eq!(parse_if_match("\"x\""), IfMatch::Nothing);
        assert_eq!(parse_if_match(""), IfMatch::Nothing);
    }

    #[test]
    fn if_none_match_forms() {
        assert!(none_match_hits("*", 1));
        assert!(none_match_hits("\"2\"", 2));
        assert!(none_match_hits("W/\"2\"", 2));
        assert!(none_match_hits("\"1\", \"2\"", 2));
        assert!(!none_match_hits("\"1\"", 2));
        assert!(!none_match_hits("2", 2));
    }
}
