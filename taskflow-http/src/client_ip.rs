//! The client's IP address: the socket peer, unless the peer is a configured trusted proxy,
//! in which case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
//! Trusting the header from anyone else would let every client pick its own rate-limit key.

use std::net::IpAddr;

use ipnet::IpNet;
use poem::Request;
use poem::web::RemoteAddr;

/// The resolved client address, attached to each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From a list of addresses or CIDR networks (`10.0.0.0/8`, `127.0.0.1`).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        items
            .iter()
            .map(|s| {
                let s = s.as_ref().trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("not an IP address or CIDR network: {s:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Resolves the client of `req`; `None` when the transport has no IP (e.g. a Unix socket).
    pub fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        let peer = peer_ip(req.remote_addr())?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        for value in req.headers().get_all("x-forwarded-for").iter().rev() {
            let Ok(value) = value.to_str() else {
                return Some(client);
            };
            for hop in value.rsplit(',') {
                match hop.trim().parse::<IpAddr>() {
                    Ok(ip) if self.trusts(ip) => client = ip,
                    Ok(ip) => return Some(ip),
                    Err(_) => return Some(client),
                }
            }
        }
        Some(client)
    }
}

fn peer_ip(addr: &RemoteAddr) -> Option<IpAddr> {
    addr.as_socket_addr().map(|a| a.ip().to_canonical())
}
