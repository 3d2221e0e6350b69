//! Stages 3 and 4: round-trip latency and link bandwidth of one pair.

use super::data::{BANDWIDTH, LATENCY, PING_BYTES};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyResult {
    pub from: usize,
    pub to: usize,
    pub samples: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BandwidthResult {
    pub from: usize,
    pub to: usize,
    pub streams: usize,
    pub bytes: u64,
    pub seconds: f64,
    pub gbps: f64,
    pub error: Option<String>,
}

fn connect(addr: SocketAddr, kind: u8, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(&[kind])?;
    Ok(s)
}

/// Ping-pong of 64-byte messages: `iters` round trips after a short warm-up, or fewer if
/// `budget` runs out.
pub fn latency(
    me: usize,
    peer: usize,
    addr: SocketAddr,
    iters: usize,
    budget: Duration,
) -> LatencyResult {
    let mut out = LatencyResult {
        from: me,
        to: peer,
        samples: 0,
        p50_us: 0.0,
        p99_us: 0.0,
        error: None,
    };
    let run = || -> std::io::Result<Vec<f64>> {
        let mut s = connect(addr, LATENCY, Duration::from_secs(5))?;
        s.set_nodelay(true)?;
        let msg = [0x5au8; PING_BYTES];
        let mut back = [0u8; PING_BYTES];
        let end = Instant::now() + budget;
        for _ in 0..10 {
            s.write_all(&msg)?;
            s.read_exact(&mut back)?;
        }
        let mut samples = Vec::with_capacity(iters);
        while samples.len() < iters && Instant::now() < end {
            let t = Instant::now();
            s.write_all(&msg)?;
            s.read_exact(&mut back)?;
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Ok(samples)
    };
    match run() {
        Ok(mut v) if !v.is_empty() => {
            v.sort_by(|a, b| a.total_cmp(b));
            out.samples = v.len();
            out.p50_us = percentile(&v, 50.0);
            out.p99_us = percentile(&v, 99.0);
        }
        Ok(_) => out.error = Some("no sample within the time budget".into()),
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Sends for `duration` over `streams` parallel connections (a thread each: unlike iperf3,
/// which drives every stream from one thread) and reports what the receiver counted.
pub fn bandwidth(
    me: usize,
    peer: usize,
    addr: SocketAddr,
    streams: usize,
    duration: Duration,
) -> BandwidthResult {
    let streams = streams.max(1);
    let start = Instant::now();
    let end = start + duration;
    let results: Vec<std::io::Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..streams)
            .map(|_| {
                s.spawn(move || -> std::io::Result<u64> {
                    let mut c = connect(addr, BANDWIDTH, Duration::from_secs(5))?;
                    let buf = vec![0xa5u8; 1 << 20];
                    while Instant::now() < end {
                        c.write_all(&buf)?;
                    }
                    c.shutdown(std::net::Shutdown::Write)?;
                    // The receiver answers with what it got once it has drained the stream.
                    c.set_read_timeout(Some(Duration::from_secs(30)))?;
                    let mut n = [0u8; 8];
                    c.read_exact(&mut n)?;
                    Ok(u64::from_be_bytes(n))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("stream thread panicked")))
            })
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut bytes = 0;
    let mut error = None;
    for r in results {
        match r {
            Ok(b) => bytes += b,
            Err(e) => error = Some(e.to_string()),
        }
    }
    BandwidthResult {
        from: me,
        to: peer,
        streams,
        bytes,
        seconds,
        gbps: if seconds > 0.0 {
            bytes as f64 * 8.0 / seconds / 1e9
        } else {
            0.0
        },
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_and_bandwidth_against_a_local_data_plane() {
        let dp = super::super::data::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", dp.port).parse().unwrap();
        let l = latency(0, 1, addr, 200, Duration::from_secs(2));
        assert!(l.error.is_none(), "{l:?}");
        assert_eq!(l.samples, 200);
        assert!(l.p50_us > 0.0 && l.p99_us >= l.p50_us);
        let b = bandwidth(0, 1, addr, 2, Duration::from_millis(200));
        assert!(b.error.is_none(), "{b:?}");
        assert!(b.bytes >= 1 << 20, "{b:?}");
        assert!(b.gbps > 0.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 3.0);
    }
}
