//! Stage 2: the connectivity matrix. Each rank connects to every other rank's data port and to
//! the extra ports, a bounded number at a time, each with its own timeout: N ranks finish in
//! time that grows with N, not N².

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellState {
    /// Connected.
    Ok,
    /// The host answered with a reset: it is up and the path is open, nothing listens.
    Refused,
    /// No answer before the timeout: dropped by a security group, NACL or firewall.
    Timeout,
    /// No route to the host.
    Unreachable,
    /// Any other local error.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    pub from: usize,
    pub to: usize,
    pub port: u16,
    /// The doctor's own data port (as opposed to a user port such as 22 or 29500).
    pub data_port: bool,
    pub state: CellState,
    pub millis: f64,
}

pub struct Target {
    pub rank: usize,
    pub addr: std::net::IpAddr,
    pub port: u16,
    pub data_port: bool,
}

/// Probes every target; returns cells in target order.
pub fn probe_all(me: usize, targets: &[Target], timeout: Duration, parallel: usize) -> Vec<Cell> {
    let next = Mutex::new(0usize);
    let results = Mutex::new(vec![None; targets.len()]);
    let workers = parallel.clamp(1, targets.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = {
                    let Ok(mut n) = next.lock() else { return };
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(t) = targets.get(i) else { return };
                let cell = probe_one(me, t, timeout);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(cell);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

fn probe_one(me: usize, t: &Target, timeout: Duration) -> Cell {
    let start = Instant::now();
    let addr = SocketAddr::new(t.addr, t.port);
    let state = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(mut s) => {
            if t.data_port {
                let _ = s.set_write_timeout(Some(timeout));
                let _ = s.write_all(&[super::data::PROBE]);
            }
            CellState::Ok
        }
        Err(e) => classify(&e),
    };
    Cell {
        from: me,
        to: t.rank,
        port: t.port,
        data_port: t.data_port,
        state,
        millis: start.elapsed().as_secs_f64() * 1e3,
    }
}

pub fn classify(e: &std::io::Error) -> CellState {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused | K::ConnectionReset => CellState::Refused,
        K::TimedOut | K::WouldBlock => CellState::Timeout,
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => CellState::Unreachable,
        _ => match e.raw_os_error() {
            // EHOSTUNREACH / ENETUNREACH on kernels whose kinds std does not map.
            Some(113) | Some(101) => CellState::Unreachable,
            Some(110) => CellState::Timeout,
            _ => CellState::Error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, TcpListener};

    #[test]
    fn open_and_closed_ports_are_told_apart() {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let open_port = open.local_addr().unwrap().port();
        let closed_port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let targets = vec![
            Target {
                rank: 1,
                addr: lo,
                port: open_port,
                data_port: false,
            },
            Target {
                rank: 2,
                addr: lo,
                port: closed_port,
                data_port: false,
            },
        ];
        let cells = probe_all(0, &targets, Duration::from_secs(2), 8);
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0].state, CellState::Ok);
        assert_eq!(cells[1].state, CellState::Refused);
        assert_eq!((cells[1].from, cells[1].to), (0, 2));
    }
}
