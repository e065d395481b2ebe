//! The `taskflow` binary: the embedded default with a generated 0600 secret, refusing
//! short or exposed secrets, `create-admin` reading the password from stdin, `migrate`,
//! `openapi`, graceful shutdown on SIGTERM with requests in flight, and owner-only database
//! files.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use support::binary::{client, serve, taskflow, terminate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_sqlite_server_with_generated_secret_and_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(dir.path(), &["--auth-rate-limit-per-ip", "0"]);
    let secret = dir.path().join("taskflow.db.jwt-secret");
    let meta = std::fs::metadata(&secret).expect("secret file beside the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert!(meta.len() >= 32);
    assert!(dir.path().join("taskflow.db").exists());

    let http = client();
    let r = http
        .post(format!("{}/api/v1/auth/register", s.origin))
        .json(&json!({"email": "ann@example.com", "password": "long enough pw", "name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let login = || {
        http.post(format!("{}/api/v1/auth/login", s.origin))
            .json(&json!({"email": "ann@example.com", "password": "long enough pw"}))
            .send()
    };
    let pair: Value = login().await.unwrap().json().await.unwrap();
    let token = pair["access_token"].as_str().unwrap().to_owned();

    // Logins in flight (argon2, the slowest route) finish after SIGTERM.
    let in_flight: Vec<_> = (0..4).map(|_| tokio::spawn(login())).collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let status = terminate(&mut s);
    assert!(status.success(), "exit status {status:?}");
    for r in in_flight {
        assert_eq!(r.await.unwrap().unwrap().status(), 200);
    }

    // Restarted, the server reuses the secret: earlier tokens stay valid.
    let s = serve(dir.path(), &[]);
    let me = http
        .get(format!("{}/api/v1/auth/me", s.origin))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

/// `serve` on a fresh SQLite path creates the database, its WAL and shared-memory file and
/// the secret mode 0600, without warning; a database open to others is warned about on
/// stderr (file, mode, `chmod 600`) and left as it is.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_creates_owner_only_files_and_warns_about_exposed_ones() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |name: &str| {
        let meta =
            std::fs::metadata(dir.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        format!("{:04o}", meta.permissions().mode() & 0o777)
    };
    let s = serve(dir.path(), &[]);
    let r = client()
        .post(format!("{}/api/v1/auth/register", s.origin))
        .json(&json!({"email": "ann@example.com", "password": "long enough pw", "name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for name in [
        "taskflow.db",
        "taskflow.db-wal",
        "taskflow.db-shm",
        "taskflow.db.jwt-secret",
    ] {
        assert_eq!(mode(name), "0600", "{name}");
    }
    let log = s.startup_log.join("\n");
    assert!(!log.contains("WARN"), "{log}");
    drop(s);

    // The default URL is relative, and so is the file the warning names.
    std::fs::set_permissions(
        dir.path().join("taskflow.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let s = serve(dir.path(), &[]);
    let warning = s
        .startup_log
        .iter()
        .find(|l| l.contains("WARN") && l.contains("database file taskflow.db "))
        .unwrap_or_else(|| panic!("no warning: {:#?}", s.startup_log));
    assert!(warning.contains("mode 0644"), "{warning}");
    assert!(warning.contains("chmod 600"), "{warning}");
    assert_eq!(mode("taskflow.db"), "0644", "not changed silently");
}

#[test]
fn refuses_short_or_exposed_secrets_and_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = taskflow(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TASKFLOW_JWT_SECRET", "too short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than 32 bytes"));

    let file = dir.path().join("secret");
    std::fs::write(&file, "a secret that is long enough, really long").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = taskflow(dir.path())
            .args(["serve", "--bind", "127.0.0.1:0", "--jwt-secret-file"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    }

    let out = taskflow(dir.path())
        .args(["migrate", "--database-url", "postgres://127.0.0.1:1/none"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unreachable database fails");
    let out = taskflow(dir.path())
        .args(["serve", "--database-url", "mysql://localhost/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
}

#[test]
fn server_databases_need_an_explicit_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = taskflow(dir.path())
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            "postgres://u:pw@127.0.0.1:1/db",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("JWT secret is required") || stderr.contains("cannot"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("pw@"),
        "passwords never reach the logs: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_admin_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = taskflow(dir.path())
        .args([
            "create-admin",
            "--email",
            "Root@Example.com",
            "--name",
            "Root",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"an admin password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("root@example.com"));

    let out = taskflow(dir.path())
        .args(["create-admin", "--email", "other@example.com"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "no password on stdin is an error");

    let s = serve(dir.path(), &[]);
    let http = client();
    let pair: Value = http
        .post(format!("{}/api/v1/auth/login", s.origin))
        .json(&json!({"email": "root@example.com", "password": "an admin password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pair["user"]["role"], "admin");
    let users = http
        .get(format!("{}/api/v1/users", s.origin))
        .bearer_auth(pair["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);
}

#[test]
fn migrate_and_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let out = taskflow(dir.path())
        .args(["migrate", "--database-url", "sqlite://data.db"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("data.db").exists());

    let out = taskflow(dir.path()).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let spec: Value = serde_json::from_slice(&out.stdout).expect("the document is JSON");
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.0"));
    let paths = spec["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/auth/register", &["post"][..]),
        ("/auth/login", &["post"]),
        ("/auth/refresh", &["post"]),
        ("/auth/logout", &["post"]),
        ("/auth/logout-all", &["post"]),
        ("/auth/me", &["get", "patch"]),
        ("/auth/password", &["post"]),
        ("/tasks", &["get", "post"]),
        ("/tasks/{id}", &["get", "patch", "delete"]),
        ("/tasks/bulk-status", &["post"]),
        ("/tasks/stats", &["get"]),
        ("/users", &["get"]),
        ("/users/{id}", &["get", "patch"]),
        ("/health", &["get"]),
        ("/health/ready", &["get"]),
    ] {
        for m in methods {
            let op = &paths[path][*m];
            assert!(op.is_object(), "{m} {path} documented");
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{m} {path}: success documented"
            );
            if path != "/health" && path != "/health/ready" {
                for code in ["400", "401", "404", "422", "429", "500", "503"] {
                    assert!(
                        responses.contains_key(code),
                        "{m} {path}: {code} documented"
                    );
                }
            }
        }
    }
    assert_eq!(spec["servers"][0]["url"], "/api/v1");
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// `migrate` normalises stored emails after the migrations: a legacy NFD email is rewritten,
/// a collision (an NFD copy of an account's email) is printed and logged at WARN with both
/// accounts and changes neither, and a second run rewrites nothing and warns again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_normalises_stored_emails_and_reports_collisions() {
    use taskflow_core::{PasswordParams, Registration, TaskFlow, UserId, UserRecord};
    use taskflow_stores::AnyStore;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("data.db").display());
    let migrate = || {
        let out = taskflow(dir.path())
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (stdout, stderr)
    };
    migrate();

    // Legacy rows, planted below core's normalisation: copies of a registered account.
    let store = AnyStore::open(&url).await.unwrap();
    let tf = TaskFlow::builder()
        .shared_store(store.shared())
        .jwt_secret([7u8; 32])
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .unwrap();
    let zoe = tf
        .register(Registration {
            email: "zo\u{eb}@example.com".into(),
            password: "a long enough password".into(),
            name: "Zoe".into(),
        })
        .await
        .unwrap();
    let template = store.shared().get_user(zoe.id).await.unwrap().unwrap();
    let plant = async |email: &str| {
        let mut record: UserRecord = template.clone();
        record.user.id = UserId::new();
        record.user.email = email.to_owned();
        store.shared().insert_user(&record).await.unwrap();
        record.user.id
    };
    let zoe_nfd = plant("zoe\u{308}@example.com").await;
    let rene = plant("rene\u{301}@example.com").await;
    store.close().await;

    let (stdout, stderr) = migrate();
    assert!(stdout.contains("normalised 1 stored email(s)"), "{stdout}");
    let collision = stdout
        .lines()
        .find(|l| l.starts_with("warning: email collision"))
        .unwrap_or_else(|| panic!("no collision printed: {stdout}"));
    assert!(collision.contains(&zoe.id.to_string()) && collision.contains(&zoe_nfd.to_string()));
    assert!(
        stderr.contains("WARN") && stderr.contains("email collision"),
        "{stderr}"
    );

    let store = AnyStore::open(&url).await.unwrap();
    let shared = store.shared();
    let rewritten = shared.get_user(rene).await.unwrap().unwrap();
    assert_eq!(rewritten.user.email, "ren\u{e9}@example.com");
    let untouched = shared.get_user(zoe_nfd).await.unwrap().unwrap();
    assert_eq!(untouched.user.email, "zoe\u{308}@example.com");
    store.close().await;

    // Idempotent: nothing more to rewrite; the collision is still reported.
    let (stdout, _) = migrate();
    assert!(!stdout.contains("normalised"), "{stdout}");
    assert!(stdout.contains("warning: email collision"), "{stdout}");
}
