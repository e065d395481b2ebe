//! The Rust side of the Python overhead comparison: the same calls on the same store
//! configuration as `benches/python/overhead.py` (`sqlite::memory:`, moka cache on,
//! default runtime), so the difference between the two is what the binding costs.
//!
//! ```text
//! cargo bench -p taskflow-benches --bench binding
//! python benches/python/overhead.py          # after `pip install ./taskflow-py`
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use taskflow_core::{MokaCache, NewTask, PasswordParams, Registration, TaskFlow};
use taskflow_store_sql::{SqlOptions, SqlStore};

fn main() {
    // Multi-thread, like the Python package's shared runtime; calls enter it with block_on.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (tf, me) = rt.block_on(async {
        let store = SqlStore::open("sqlite::memory:", &SqlOptions::default())
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let tf = TaskFlow::builder()
            .shared_store(store.shared())
            .cache(MokaCache::default())
            .jwt_secret(*b"taskflow-benchmarks-not-a-secret")
            .password_params(PasswordParams::insecure_fast_for_tests())
            .build()
            .expect("taskflow");
        tf.register(Registration {
            email: "bench@example.com".into(),
            password: "correct horse battery".into(),
            name: "Bench".into(),
        })
        .await
        .expect("register");
        let pair = tf
            .login("bench@example.com", "correct horse battery", None)
            .await
            .expect("login");
        let me = tf.authenticate(&pair.access_token).await.expect("auth");
        (tf, me)
    });

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut group = c.benchmark_group("binding_baseline");
    group.bench_function("create_then_get", |b| {
        b.iter(|| {
            rt.block_on(async {
                let task = tf
                    .create_task(&me, NewTask::new("overhead probe").tags(["bench"]))
                    .await
                    .expect("create");
                black_box(tf.get_task(&me, task.id).await.expect("get"))
            })
        })
    });
    let probe = rt
        .block_on(tf.create_task(&me, NewTask::new("cached probe")))
        .expect("create");
    group.bench_function("get_cached", |b| {
        b.iter(|| black_box(rt.block_on(tf.get_task(&me, probe.id)).expect("get")))
    });
    group.finish();
    c.final_summary();
}
