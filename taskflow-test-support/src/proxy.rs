//! A TCP proxy the test controls, between the server and its database. Two ways to lose
//! the database:
//! - `cut()`: live connections drop and new ones are refused (a crashed or restarted
//!   database: the client sees errors at once);
//! - `stall()`: connections stay open but nothing passes, and new ones are accepted and
//!   held (a network partition or a hung database: only timeouts end the wait).
//!
//! `restore()` lets traffic through again; connections held by a stall are dropped then,
//! as a partition that heals leaves the old TCP sessions broken.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const OPEN: u8 = 0;
const CUT: u8 = 1;
const STALLED: u8 = 2;

/// A running proxy to `target`.
pub struct Proxy {
    /// The port to connect to instead of the target's.
    pub port: u16,
    state: Arc<AtomicU8>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        // Ends every connection task (held or forwarding).
        self.generation.send_modify(|g| *g += 1);
    }
}

impl Proxy {
    /// Starts forwarding `127.0.0.1:<port>` to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(AtomicU8::new(OPEN));
        let (generation, _) = watch::channel(0u64);
        let (gate, gen_tx) = (state.clone(), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let mut changed = gen_tx.subscribe();
                match gate.load(Ordering::SeqCst) {
                    CUT => drop(client),
                    STALLED => {
                        // Accepted, never answered, dropped when the state changes.
                        tokio::spawn(async move {
                            let _ = changed.changed().await;
                            drop(client);
                        });
                    }
                    _ => {
                        let target = target.clone();
                        let gate = gate.clone();
                        tokio::spawn(async move {
                            let Ok(mut upstream) = TcpStream::connect(&target).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => return,
                                _ = changed.changed() => {}
                            }
                            if gate.load(Ordering::SeqCst) == STALLED {
                                // Hold both ends silent until the stall ends.
                                let _ = changed.changed().await;
                            }
                        });
                    }
                }
            }
        });
        Self {
            port,
            state,
            generation,
            task,
        }
    }

    /// The database becomes unreachable: live connections drop, new ones are refused.
    pub fn cut(&self) {
        self.set(CUT);
    }

    /// The database stops answering: connections stay open and silent.
    pub fn stall(&self) {
        self.set(STALLED);
    }

    /// The database is reachable again.
    pub fn restore(&self) {
        self.set(OPEN);
    }

    fn set(&self, state: u8) {
        self.state.store(state, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}
