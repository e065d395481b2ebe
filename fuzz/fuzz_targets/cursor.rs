//! Opaque listing cursors: `decode_cursor` on its own, and `list_tasks` in cursor mode.
//!
//! Input: `[sort, filter preset, limit, mode, cursor...]`. Mode even: the rest is the
//! cursor text; mode odd: the rest is the cursor's decoded payload (JSON), which the
//! target base64url-encodes, so the fuzzer works on the JSON a cursor carries.
//!
//! Invariants:
//! - a rejected cursor gets the one fixed message (no hint at which check failed), and
//!   `list_tasks` answers `validation_failed` naming `cursor` only;
//! - an accepted cursor is at most 512 bytes, carries a sort value of its sort key's kind
//!   (a valid priority rank; an instant in milliseconds that an RFC 3339 date-time can
//!   name), and is refused under every other sort and every other filter;
//! - the page it yields is exactly the reference: alice's matching tasks strictly after the
//!   position, in listing order, at most `limit`, no page number or total, and a
//!   `next_cursor` exactly when more follow, which decodes to the last item's position.
#![no_main]

use std::cmp::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use taskflow_core::query::decode_cursor;
use taskflow_core::{
    Error, Position, Priority, Scope, SortKey, SortValue, Task, TaskFilter, TaskQuery, TaskSort,
    to_millis,
};
use taskflow_fuzz::{PRESETS, SORTS, block_on, now, preset, world};

/// First and last second of RFC 3339 date-times (years 0000-9999, offsets to ±23:59): a
/// position outside can come from no task (and PostgreSQL refuses years before 4713 BC).
const RFC3339_FIRST: i64 = -62_167_305_540;
/// See [`RFC3339_FIRST`].
const RFC3339_LAST: i64 = 253_402_387_139;

fn filter_of(sort: &str, preset_index: usize, scope: Scope) -> TaskFilter {
    TaskQuery {
        sort: Some(sort.to_owned()),
        ..preset(preset_index)
    }
    .into_request(scope, now())
    .expect("presets are valid queries")
    .filter
}

fn check_kind(sort: TaskSort, position: &Position) {
    match (sort.key, position.value) {
        (SortKey::CreatedAt | SortKey::UpdatedAt, SortValue::Timestamp(t))
        | (SortKey::DueDate, SortValue::Timestamp(t)) => {
            assert_eq!(to_millis(t), t, "cursor timestamps are in milliseconds");
            assert!(
                (RFC3339_FIRST..=RFC3339_LAST).contains(&t.timestamp()),
                "a cursor at {t:?}, an instant no RFC 3339 date-time names"
            );
        }
        (SortKey::DueDate, SortValue::Null) => {}
        (SortKey::Priority, SortValue::Rank(r)) => {
            assert!(Priority::from_rank(r).is_some(), "rank {r} is no priority");
        }
        (key, value) => panic!("a {key:?} cursor decoded to {value:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let [sort_sel, preset_sel, limit_sel, mode, rest @ ..] = data else {
        return;
    };
    let raw = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(s) => s.to_owned(),
            Err(_) => return,
        }
    } else {
        URL_SAFE_NO_PAD.encode(rest)
    };
    let w = world();
    let scope = Scope::Owner(w.alice.user.id);
    let sort_name = SORTS[usize::from(*sort_sel) % SORTS.len()];
    let sort = TaskSort::parse(sort_name).expect("a valid sort");
    let preset_index = usize::from(*preset_sel) % PRESETS;
    let limit = 1 + u32::from(*limit_sel) % 100;
    let filter = filter_of(sort_name, preset_index, scope);

    let decoded = decode_cursor(&raw, sort, &filter);
    match decoded {
        Err(message) => {
            let reference = decode_cursor("", sort, &filter).expect_err("an empty cursor");
            assert_eq!(message, reference, "every rejection says the same");
        }
        Ok(position) => {
            assert!(raw.len() <= 512, "a {}-byte cursor was accepted", raw.len());
            check_kind(sort, &position);
            for other in SORTS.iter().filter(|s| **s != sort_name) {
                let other_sort = TaskSort::parse(other).expect("a valid sort");
                assert!(
                    decode_cursor(&raw, other_sort, &filter_of(other, preset_index, scope))
                        .is_err(),
                    "a {sort_name} cursor was accepted for {other}"
                );
            }
            for other in (0..PRESETS).filter(|i| *i != preset_index) {
                assert!(
                    decode_cursor(&raw, sort, &filter_of(sort_name, other, scope)).is_err(),
                    "a cursor of filter preset {preset_index} was accepted for preset {other}"
                );
            }
        }
    }

    let query = TaskQuery {
        sort: Some(sort_name.to_owned()),
        limit: Some(i64::from(limit)),
        cursor: Some(raw),
        ..preset(preset_index)
    };
    let listed = block_on(w.tf.list_tasks(&w.alice.principal, query));
    match (decoded, listed) {
        (Err(_), Err(Error::Validation(v))) => {
            let fields: Vec<&String> = v.fields().keys().collect();
            assert_eq!(fields, ["cursor"], "only the cursor is wrong");
        }
        (Err(_), other) => panic!("a rejected cursor listed as {other:?}"),
        (Ok(_), Err(e)) => panic!("an accepted cursor failed to list: {e:?}"),
        (Ok(position), Ok(page)) => {
            let mut expected: Vec<&Task> = w
                .alice_tasks()
                .filter(|t| filter.matches(t) && sort.compare_to(t, &position) == Ordering::Greater)
                .collect();
            expected.sort_by(|a, b| sort.compare(a, b));
            let limit_usize = limit as usize;
            assert_eq!(page.limit, limit);
            assert_eq!(page.page, None, "no page number in cursor mode");
            assert_eq!(page.total, None, "no total in cursor mode");
            let want: Vec<&Task> = expected.iter().take(limit_usize).copied().collect();
            let got: Vec<&Task> = page.items.iter().collect();
            assert_eq!(got, want, "the page after {position:?}");
            assert_eq!(
                page.next_cursor.is_some(),
                expected.len() > limit_usize,
                "next_cursor exactly when more follow"
            );
            if let Some(next) = &page.next_cursor {
                assert!(next.len() <= 512, "an issued cursor must be accepted back");
                let last = page.items.last().expect("a next page follows a full one");
                assert_eq!(
                    decode_cursor(next, sort, &filter),
                    Ok(Position::of(sort, last)),
                    "next_cursor decodes to the last item's position"
                );
            }
        }
    }
});
