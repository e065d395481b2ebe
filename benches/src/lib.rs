//! Criterion benchmarks of TaskFlow live in `benches/`; this library is empty.
