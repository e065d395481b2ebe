//! TaskFlow's MongoDB store on the official `mongodb` driver.
//!
//! Not implemented yet: this crate is a workspace member so the layout is fixed from the
//! start; the store arrives with its own issue.
