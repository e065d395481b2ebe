//! Which connections are let in: a cap on open connections in all and per client address,
//! decided at accept time before a byte is read, so a flood costs one accept and one close
//! per refused connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::client_ip::TrustedProxies;

/// The number of connections a server has open, shared between the server that counts them
/// and the `/metrics` endpoint that reports them (`taskflow_http_open_connections`).
#[derive(Debug, Clone, Default)]
pub struct ConnectionGauge(Arc<AtomicUsize>);

impl ConnectionGauge {
    /// Connections open now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts open connections and refuses those over a cap.
#[derive(Debug)]
pub(super) struct Admission {
    max_total: usize,
    max_per_client: usize,
    /// Addresses the per-client cap does not apply to (trusted proxies carry many clients).
    exempt: TrustedProxies,
    open: ConnectionGauge,
    per_client: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// The server holds `max_connections` already.
    Full,
    /// This client address holds `max_connections_per_client` already.
    ClientFull,
}

/// An admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub(super) struct Admitted {
    admission: Arc<Admission>,
    client: Option<IpAddr>,
}

impl Admission {
    pub(super) fn new(
        max_total: usize,
        max_per_client: usize,
        exempt: TrustedProxies,
        open: ConnectionGauge,
    ) -> Self {
        Self {
            max_total: max_total.max(1),
            max_per_client: max_per_client.max(1),
            exempt,
            open,
            per_client: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a place for a connection from `client`, or says why there is none.
    pub(super) fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Admitted, Refused> {
        // IPv4 clients reach a dual-stack socket as ::ffff:a.b.c.d; count them as a.b.c.d.
        let client = client.to_canonical();
        let counted = !self.exempt.trusts(client);
        let mut per_client = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
        if self.open.get() >= self.max_total {
            return Err(Refused::Full);
        }
        if counted {
            let held = per_client.entry(client).or_insert(0);
            if *held >= self.max_per_client {
                return Err(Refused::ClientFull);
            }
            *held += 1;
        }
        self.open.0.fetch_add(1, Ordering::Relaxed);
        Ok(Admitted {
            admission: self.clone(),
            client: counted.then_some(client),
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut per_client = self
            .admission
            .per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(client) = self.client
            && let Some(held) = per_client.get_mut(&client)
        {
            *held -= 1;
            if *held == 0 {
                per_client.remove(&client);
            }
        }
        self.admission.open.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_client: usize, exempt: &[&str]) -> Arc<Admission> {
        Arc::new(Admission::new(
            total,
            per_client,
            TrustedProxies::parse(exempt).unwrap(),
            ConnectionGauge::default(),
        ))
    }

    #[test]
    fn caps_each_client_and_the_total_and_gives_places_back() {
        let a = admission(3, 2, &[]);
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        let first = a.admit(one).unwrap();
        let _second = a.admit(one).unwrap();
        assert_eq!(a.admit(one).unwrap_err(), Refused::ClientFull);
        let _third = a.admit(two).unwrap();
        assert_eq!(a.open.get(), 3);
        assert_eq!(a.admit(two).unwrap_err(), Refused::Full);
        drop(first);
        assert_eq!(a.open.get(), 2);
        let _again = a.admit(one).unwrap();
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4_and_exempt_networks_are_not_capped_per_client() {
        let a = admission(10, 1, &["10.1.0.0/16"]);
        let _v4 = a.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert_eq!(
            a.admit("::ffff:192.0.2.7".parse().unwrap()).unwrap_err(),
            Refused::ClientFull
        );
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| a.admit(proxy).unwrap()).collect();
        assert_eq!(held.len(), 5);
        drop(held);
        assert_eq!(a.open.get(), 1);
    }
}
