//! The optimistic read-modify-write loop every versioned write of the services runs.
//!
//! A macro rather than a function taking an async closure: the futures of async closures
//! are not provably `Send` for every lifetime, and every service future must be `Send`
//! (servers spawn them). The body keeps `?` and `return` of the enclosing function.

/// Attempts of an optimistic read-modify-write before giving up.
pub(super) const MAX_ATTEMPTS: usize = 16;

/// `retry_lost_races!(what, |attempt| body)`: evaluates `body` (an `Option`) up to
/// [`MAX_ATTEMPTS`] times, `attempt` counting from 0, until it is `Some(done)`, which is
/// the result; `None` means a concurrent write won the race and the read is repeated.
/// After the last lost race the result is a `conflict` naming `what`, so a hot record
/// cannot spin a request forever.
macro_rules! retry_lost_races {
    ($what:expr, |$attempt:pat_param| $body:block) => {{
        let mut outcome: $crate::Result<_> = Err($crate::Conflict::Contended($what).into());
        for $attempt in 0..$crate::service::optimistic::MAX_ATTEMPTS {
            if let Some(done) = $body {
                outcome = Ok(done);
                break;
            }
        }
        outcome
    }};
}
pub(super) use retry_lost_races;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Contended, Result};

    fn always_losing(calls: &mut usize) -> Result<()> {
        retry_lost_races!(Contended::Task, |_| {
            *calls += 1;
            None
        })
    }

    #[test]
    fn gives_up_with_a_contended_conflict() {
        let mut calls = 0;
        let err = always_losing(&mut calls).unwrap_err();
        assert_eq!(calls, MAX_ATTEMPTS);
        assert_eq!(err.code(), "conflict");
        assert_eq!(
            err.to_string(),
            "the task is being changed concurrently; retry"
        );
    }

    #[test]
    fn stops_at_the_first_result() {
        let done: Result<usize> = retry_lost_races!(Contended::User, |n| { (n == 2).then_some(n) });
        assert_eq!(done.unwrap(), 2);
    }
}
