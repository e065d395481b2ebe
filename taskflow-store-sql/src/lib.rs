//! TaskFlow's SQL stores: SQLite (the embedded default) and PostgreSQL on sqlx.
//!
//! Not implemented yet: this crate is a workspace member so the layout is fixed from the
//! start; the stores arrive with their own issue. Until then, embed
//! [`taskflow_core::MemoryStore`].
