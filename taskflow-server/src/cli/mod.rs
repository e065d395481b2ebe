//! Command line of the `taskflow` binary (the README's "Server configuration" lists the
//! flags). Flags mirror environment variables; flags win.

mod log_writer;
mod logging;
mod secret;
mod store;

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use taskflow_core::{EmailNormalization, MokaCache, Registration, TaskFlow};
use taskflow_http::HttpConfig;

use taskflow_stores::AnyStore;

/// TaskFlow: a task-management backend (HTTP API server).
#[derive(Debug, Parser)]
#[command(name = "taskflow", version, about)]
struct Cli {
    /// Log format.
    #[arg(long, env = "TASKFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Create an admin account; the password is read from stdin, never from argv.
    CreateAdmin(CreateAdminArgs),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Args)]
struct DbArgs {
    /// `sqlite://path`, `postgres://…` or `mongodb://…`.
    #[arg(
        long,
        env = "TASKFLOW_DATABASE_URL",
        default_value = "sqlite://taskflow.db"
    )]
    database_url: String,
}

#[derive(Debug, Args)]
struct SecretArgs {
    /// File holding the JWT signing secret (at least 32 bytes). Without it and without
    /// TASKFLOW_JWT_SECRET, a secret is generated on first run and kept in a 0600 file
    /// beside the SQLite database.
    #[arg(long, env = "TASKFLOW_JWT_SECRET_FILE")]
    jwt_secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TASKFLOW_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    secret: SecretArgs,
    /// Requests per minute per client IP, all API routes; 0 switches it off.
    #[arg(long, env = "TASKFLOW_RATE_LIMIT_PER_IP", default_value_t = taskflow_http::DEFAULT_RATE_LIMIT_PER_IP)]
    rate_limit_per_ip: u32,
    /// Requests per minute per client IP on /auth/login and /auth/register; 0 switches it off.
    #[arg(long, env = "TASKFLOW_AUTH_RATE_LIMIT_PER_IP", default_value_t = taskflow_http::DEFAULT_AUTH_RATE_LIMIT_PER_IP)]
    auth_rate_limit_per_ip: u32,
    /// Requests per minute per authenticated user; 0 switches it off.
    #[arg(long, env = "TASKFLOW_RATE_LIMIT_PER_USER", default_value_t = taskflow_http::DEFAULT_RATE_LIMIT_PER_USER)]
    rate_limit_per_user: u32,
    /// The in-process cache.
    #[arg(long, env = "TASKFLOW_CACHE", value_enum, default_value_t = Switch::On)]
    cache: Switch,
    /// Comma list of proxies (IPs or CIDR networks) whose X-Forwarded-For is trusted.
    #[arg(long, env = "TASKFLOW_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Comma list of origins allowed by CORS (e.g. `https://app.example.com`).
    #[arg(long, env = "TASKFLOW_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Send Strict-Transport-Security (when clients reach the server over TLS).
    #[arg(long, env = "TASKFLOW_HSTS")]
    hsts: bool,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "TASKFLOW_SHUTDOWN_TIMEOUT", default_value_t = 20)]
    shutdown_timeout: u64,
    #[command(flatten)]
    connections: ConnectionArgs,
    #[command(flatten)]
    changes: ChangeArgs,
}

/// How this instance follows the change log (docs/running-several-instances.md).
#[derive(Debug, Args)]
struct ChangeArgs {
    /// Milliseconds within which a write made through another instance (a logout, a
    /// disabled account, an updated task) is honoured here: past it without proof that the
    /// change log was read, the cache is not trusted and reads go to the database.
    #[arg(long, env = "TASKFLOW_COHERENCE_BOUND_MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    coherence_bound_ms: u64,
    /// Milliseconds between reads of the change log when no wake-up arrives (PostgreSQL
    /// wakes followers with LISTEN/NOTIFY; SQLite processes and MongoDB without change
    /// streams rely on this poll).
    #[arg(long, env = "TASKFLOW_CHANGE_POLL_MS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    change_poll_ms: u64,
    /// Days change-log events are kept: clients that were offline longer start over.
    #[arg(long, env = "TASKFLOW_CHANGE_RETENTION_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=3650))]
    change_retention_days: u64,
}

impl ChangeArgs {
    fn follower(&self) -> Result<taskflow_core::FollowerConfig, String> {
        let bound = Duration::from_millis(self.coherence_bound_ms);
        let poll = Duration::from_millis(self.change_poll_ms);
        if poll * 2 > bound {
            return Err(format!(
                "--change-poll-ms ({}) must be at most half of --coherence-bound-ms ({}), \
                 or the cache would keep falling out of trust between two reads",
                self.change_poll_ms, self.coherence_bound_ms
            ));
        }
        Ok(taskflow_core::FollowerConfig {
            poll_interval: poll,
            stale_after: bound,
            ..taskflow_core::FollowerConfig::default()
        })
    }

    fn retention(&self) -> Duration {
        Duration::from_secs(self.change_retention_days * 24 * 3600)
    }
}

/// Connection limits (SECURITY.md, "Connection limits", says what each defends against).
#[derive(Debug, Args)]
struct ConnectionArgs {
    /// Seconds a request's head (request line and headers) may take once its first byte
    /// arrived; the connection is dropped beyond.
    #[arg(long, env = "TASKFLOW_HEADER_READ_TIMEOUT", default_value_t = taskflow_http::DEFAULT_HEADER_READ_TIMEOUT.as_secs_f64())]
    header_read_timeout: f64,
    /// Seconds a request body may take to arrive; `408` beyond.
    #[arg(long, env = "TASKFLOW_BODY_READ_TIMEOUT", default_value_t = taskflow_http::DEFAULT_BODY_READ_TIMEOUT.as_secs_f64())]
    body_read_timeout: f64,
    /// Seconds a keep-alive connection may sit idle before it is closed.
    #[arg(long, env = "TASKFLOW_IDLE_TIMEOUT", default_value_t = taskflow_http::DEFAULT_IDLE_TIMEOUT.as_secs_f64())]
    idle_timeout: f64,
    /// Most bytes of request line and headers per request (`431` beyond; at least 8192).
    #[arg(long, env = "TASKFLOW_MAX_HEADER_BYTES", default_value_t = taskflow_http::DEFAULT_MAX_HEADER_BYTES as u32, value_parser = clap::value_parser!(u32).range(8192..))]
    max_header_bytes: u32,
    /// Most open connections; further ones are answered `503` and closed at once. Lowered to
    /// what the open-file limit allows.
    #[arg(long, env = "TASKFLOW_MAX_CONNECTIONS", default_value_t = taskflow_http::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Most open connections from one client address (trusted proxies are exempt).
    #[arg(long, env = "TASKFLOW_MAX_CONNECTIONS_PER_CLIENT", default_value_t = taskflow_http::DEFAULT_MAX_CONNECTIONS_PER_CLIENT)]
    max_connections_per_client: usize,
    /// Serve HTTP/2 without TLS (h2c with prior knowledge) besides HTTP/1.1.
    #[arg(long, env = "TASKFLOW_HTTP2")]
    http2: bool,
    /// Most concurrent streams per HTTP/2 connection.
    #[arg(long, env = "TASKFLOW_HTTP2_MAX_STREAMS", default_value_t = taskflow_http::DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS)]
    http2_max_streams: u32,
}

/// A whole or fractional number of seconds from the command line.
fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--{flag} must be a positive number of seconds, not {value}"))
}

#[derive(Debug, Args)]
struct CreateAdminArgs {
    /// The admin's email.
    #[arg(long)]
    email: String,
    /// The admin's display name.
    #[arg(long, default_value = "Administrator")]
    name: String,
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    secret: SecretArgs,
}

/// Entry point: parses the command line and runs the command on a Tokio runtime.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Declared first, so dropped last: queued log lines are flushed before the process exits.
    let _log_writer = logging::init(cli.log_format == LogFormat::Json);
    if let Command::Openapi = cli.command {
        println!("{}", taskflow_http::openapi_json());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Migrate(args) => migrate(args).await,
            Command::CreateAdmin(args) => create_admin(args).await,
            Command::Openapi => unreachable!("handled above"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), String>;

async fn migrate(args: DbArgs) -> CliResult {
    let store = store::open(&args.database_url).await?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let report = normalize_emails(&store).await;
    store.close().await;
    let report = report?;
    println!(
        "migrations applied to {}",
        store::redact(&args.database_url)
    );
    if !report.rewritten.is_empty() {
        println!("normalised {} stored email(s)", report.rewritten.len());
    }
    for line in email_problems(&report) {
        println!("warning: {line}");
    }
    Ok(())
}

/// The one-time normalisation of stored emails (idempotent), after the migrations: each
/// rewrite logged at INFO, each collision or unusable email at WARN. Nothing is merged.
async fn normalize_emails(store: &AnyStore) -> Result<EmailNormalization, String> {
    let report = taskflow_core::normalize_stored_emails(&*store.shared())
        .await
        .map_err(|e| format!("email normalisation failed: {e}"))?;
    for r in &report.rewritten {
        tracing::info!(user_id = %r.user_id, from = %r.from, to = %r.to, "normalised a stored email");
    }
    for line in email_problems(&report) {
        tracing::warn!("{line}");
    }
    Ok(report)
}

/// One line per account group the normalisation left for an operator to resolve.
fn email_problems(report: &EmailNormalization) -> Vec<String> {
    let collisions = report.collisions.iter().map(|c| {
        let accounts: Vec<String> = c
            .accounts
            .iter()
            .map(|a| format!("{} ({:?})", a.user_id, a.email))
            .collect();
        format!(
            "email collision: accounts {} all normalise to {:?}; none was changed, \
             resolve them by hand (only the one stored as {:?}, if any, can log in)",
            accounts.join(", "),
            c.normalized,
            c.normalized
        )
    });
    let invalid = report.invalid.iter().map(|a| {
        format!(
            "email of account {} ({:?}) does not normalise to a valid email; left unchanged, \
             it cannot log in",
            a.user_id, a.email
        )
    });
    collisions.chain(invalid).collect()
}

/// How `serve` runs the change log: the follower's numbers and the retention. Other
/// commands do not follow it.
struct Following {
    follower: taskflow_core::FollowerConfig,
    retention: Duration,
}

async fn handle(
    store: &AnyStore,
    secret: &secret::Secret,
    cache: bool,
    following: Option<Following>,
) -> Result<TaskFlow, String> {
    let mut builder = TaskFlow::builder()
        .shared_store(store.shared())
        .jwt_secret(secret.expose());
    if cache {
        builder = builder.cache(MokaCache::default());
    }
    builder = match following {
        Some(f) => builder
            .follow_changes(Some(f.follower))
            .change_retention(f.retention),
        None => builder.follow_changes(None),
    };
    builder.build().map_err(|e| match e {
        taskflow_core::Error::Validation(v) if v.fields().contains_key("jwt_secret") => {
            "the JWT secret is shorter than 32 bytes; refusing to start".to_owned()
        }
        other => format!("invalid configuration: {other}"),
    })
}

async fn serve(args: ServeArgs) -> CliResult {
    let following = Following {
        follower: args.changes.follower()?,
        retention: args.changes.retention(),
    };
    let store = store::open(&args.db.database_url).await?;
    // The secret before the migrations: a configuration error is reported without waiting
    // on the database.
    let secret = secret::resolve(
        args.secret.jwt_secret_file.as_deref(),
        &args.db.database_url,
    )?;
    // Migrated before the handle is built: its follower reads the change log at once.
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    normalize_emails(&store).await?;
    let tf = handle(&store, &secret, args.cache == Switch::On, Some(following)).await?;
    let housekeeping = tokio::spawn(housekeeping(tf.clone()));
    let limits = &args.connections;
    let connections = taskflow_http::ConnectionGauge::default();
    let serve_config = taskflow_http::ServeConfig {
        header_read_timeout: seconds(limits.header_read_timeout, "header-read-timeout")?,
        idle_timeout: seconds(limits.idle_timeout, "idle-timeout")?,
        max_header_bytes: limits.max_header_bytes as usize,
        max_connections: connection_cap(limits.max_connections),
        max_connections_per_client: limits.max_connections_per_client,
        exempt_from_client_cap: args.trusted_proxies.clone(),
        http2: limits.http2,
        http2_max_concurrent_streams: limits.http2_max_streams,
        grace: Duration::from_secs(args.shutdown_timeout),
        connections: connections.clone(),
    };
    let config = HttpConfig {
        body_read_timeout: seconds(limits.body_read_timeout, "body-read-timeout")?,
        connections,
        rate_limit_per_ip: args.rate_limit_per_ip,
        auth_rate_limit_per_ip: args.auth_rate_limit_per_ip,
        rate_limit_per_user: args.rate_limit_per_user,
        trusted_proxies: args.trusted_proxies,
        cors_origins: args.cors_origins,
        hsts: args.hsts,
        pools: store::pool_source(&store),
        ..HttpConfig::default()
    };
    let app = taskflow_http::app(tf, config).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        database = %store::redact(&args.db.database_url),
        cache = ?args.cache,
        "TaskFlow listening on http://{addr} (Swagger UI: http://{addr}/docs)"
    );
    let served = taskflow_http::serve(
        listener,
        app,
        taskflow_http::shutdown_signal(),
        serve_config,
    )
    .await;
    housekeeping.abort();
    store.close().await;
    tracing::info!("stopped");
    served.map_err(|e| format!("server error: {e}"))
}

/// How often `serve` prunes the change log and purges expired sessions.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// Prunes change-log events past the retention and purges expired sessions, now and then.
/// Both are idempotent, so every instance of a fleet may run them.
async fn housekeeping(tf: TaskFlow) {
    let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
    loop {
        every.tick().await;
        match tf.prune_changes().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned change-log events past the retention"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the change log; retrying later"),
        }
        if let Err(e) = tf.purge_expired_sessions().await {
            tracing::warn!(error = %e, "cannot purge expired sessions; retrying later");
        }
    }
}

/// File descriptors kept for the store, logs and the listener beyond client connections.
const RESERVED_FILES: u64 = 64;

/// `wanted`, lowered to what the open-file limit leaves for connections (after raising the
/// soft limit to the hard one): past it, `accept` fails and every client waits.
fn connection_cap(wanted: usize) -> usize {
    let Ok(limit) = rlimit::increase_nofile_limit(u64::MAX) else {
        return wanted;
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(usize::MAX);
    if wanted > room {
        tracing::warn!(
            wanted,
            open_file_limit = limit,
            "--max-connections lowered to {room} to stay within the open-file limit"
        );
        return room;
    }
    wanted
}

async fn create_admin(args: CreateAdminArgs) -> CliResult {
    let password = read_password()?;
    let store = store::open(&args.db.database_url).await?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let secret = secret::resolve(
        args.secret.jwt_secret_file.as_deref(),
        &args.db.database_url,
    )?;
    let tf = handle(&store, &secret, false, None).await?;
    let result = tf
        .create_admin(Registration {
            email: args.email,
            password,
            name: args.name,
        })
        .await;
    store.close().await;
    let user = result.map_err(|e| match e {
        taskflow_core::Error::Validation(v) => format!(
            "invalid input: {}",
            v.fields()
                .iter()
                .map(|(f, m)| format!("{f}: {}", m.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => other.to_string(),
    })?;
    println!("created admin {} ({})", user.email, user.id);
    Ok(())
}

/// The password from stdin: prompted without echo on a terminal, else the first line.
fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return rpassword::prompt_password("Password for the new admin: ")
            .map_err(|e| format!("cannot read the password: {e}"));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err("no password on stdin (pipe it in, e.g. `printf %s \"$PW\" | taskflow create-admin ...`)".into());
    }
    Ok(password)
}
