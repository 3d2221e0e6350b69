//! Stage 5: ring all-reduce over TCP (reduce-scatter then all-gather, as NCCL's ring), f32 sum,
//! pipelined so that sending one chunk overlaps receiving and adding the next, with the result
//! checked, reported like nccl-tests: size, count, time, algbw, busbw.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeResult {
    pub bytes: usize,
    pub count: usize,
    /// Mean time of one all-reduce on this rank, microseconds.
    pub time_us: f64,
    pub correct: bool,
}

/// Rank r's input: element j = (r + 1) * ((j % 7) + 1). Sums stay exact in f32 for any rank
/// count this stage sees (< 2^24 / 7).
pub fn input(rank: usize, count: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(count * 4);
    for j in 0..count {
        v.extend_from_slice(&(((rank + 1) * ((j % 7) + 1)) as f32).to_le_bytes());
    }
    v
}

pub fn check(n: usize, out: &[u8]) -> bool {
    let total = (n * (n + 1) / 2) as f32;
    out.chunks_exact(4).enumerate().all(|(j, c)| {
        let got = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        got == total * ((j % 7) + 1) as f32
    })
}

/// Adds little-endian f32s of `src` into `dst`. Written over bytes so that the buffers go to
/// the socket as they are, with no conversion pass; the loop vectorises.
fn add_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
        let v = f32::from_le_bytes([d[0], d[1], d[2], d[3]])
            + f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        d.copy_from_slice(&v.to_le_bytes());
    }
}

/// Segment boundaries (in bytes, f32-aligned) of a buffer split n ways.
fn segments(len: usize, n: usize) -> Vec<std::ops::Range<usize>> {
    let elems = len / 4;
    (0..n)
        .map(|i| {
            let a = elems * i / n;
            let b = elems * (i + 1) / n;
            a * 4..b * 4
        })
        .collect()
}

/// One all-reduce in place. `next` is the stream to ring position+1, `prev` the stream from
/// position-1.
///
/// The segment a rank receives (and reduces) in one step is exactly the segment it sends in
/// the next, so each chunk is forwarded the moment it has been added: a sender thread writes
/// chunks in order while this thread receives, adds and queues them. The ring is then
/// pipelined across steps, not only within one.
pub fn ring_allreduce(
    buf: &mut [u8],
    rank: usize,
    n: usize,
    next: &mut TcpStream,
    prev: &mut TcpStream,
    chunk: usize,
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    if n < 2 {
        return Ok(());
    }
    let segs = segments(buf.len(), n);
    let chunk = (chunk.max(4) / 4) * 4;
    if scratch.len() < chunk {
        scratch.resize(chunk, 0);
    }
    let chunks = |seg: &std::ops::Range<usize>| -> Vec<std::ops::Range<usize>> {
        let mut v = Vec::new();
        let mut at = seg.start;
        while at < seg.end {
            let end = (at + chunk).min(seg.end);
            v.push(at..end);
            at = end;
        }
        v
    };
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    // Step 0 of the reduce-scatter sends this rank's own segment as it is.
    for c in chunks(&segs[rank]) {
        let _ = tx.send(buf[c].to_vec());
    }
    std::thread::scope(|s| {
        let sender = s.spawn(move || -> std::io::Result<()> {
            for piece in rx {
                next.write_all(&piece)?;
            }
            Ok(())
        });
        let steps = 2 * (n - 1);
        let mut result = Ok(());
        'steps: for step in 0..steps {
            // Reduce-scatter steps 0..n-1 receive segment rank-step-1 and add it in; the
            // all-gather steps receive finished segments and copy them.
            let (seg_i, reduce) = if step < n - 1 {
                ((rank + 2 * n - step - 1) % n, true)
            } else {
                let t = step - (n - 1);
                ((rank + 2 * n - t) % n, false)
            };
            let forward = step + 1 < steps;
            for c in chunks(&segs[seg_i]) {
                let tmp = &mut scratch[..c.len()];
                if let Err(e) = prev.read_exact(tmp) {
                    result = Err(e);
                    break 'steps;
                }
                let dst = &mut buf[c];
                if reduce {
                    add_into(dst, tmp);
                } else {
                    dst.copy_from_slice(tmp);
                }
                if forward && tx.send(dst.to_vec()).is_err() {
                    break 'steps;
                }
            }
        }
        drop(tx);
        let send_result = sender
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("sender thread panicked")));
        result.and(send_result)
    })
}

/// Runs every size `iters` times after one warm-up, checking the result of the warm-up.
pub fn run_sizes(
    rank: usize,
    n: usize,
    next: &mut TcpStream,
    prev: &mut TcpStream,
    sizes: &[usize],
    iters: usize,
    chunk: usize,
    deadline: Instant,
) -> std::io::Result<Vec<SizeResult>> {
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for &bytes in sizes {
        let count = bytes / 4;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "all-reduce deadline passed",
            ));
        }
        for s in [&*next, &*prev] {
            s.set_read_timeout(Some(remaining.max(Duration::from_millis(1))))?;
            s.set_write_timeout(Some(remaining.max(Duration::from_millis(1))))?;
        }
        let mut buf = input(rank, count);
        ring_allreduce(&mut buf, rank, n, next, prev, chunk, &mut scratch)?;
        let correct = check(n, &buf);
        let start = Instant::now();
        for _ in 0..iters {
            // Data need not be fresh for timing; sums grow but stay finite for a few iterations.
            ring_allreduce(&mut buf, rank, n, next, prev, chunk, &mut scratch)?;
        }
        let time_us = start.elapsed().as_secs_f64() * 1e6 / iters.max(1) as f64;
        out.push(SizeResult {
            bytes: count * 4,
            count,
            time_us,
            correct,
        });
    }
    Ok(out)
}

/// nccl-tests' definitions: algbw = size / time; busbw = algbw * 2(n-1)/n for all-reduce.
pub fn bandwidths(bytes: usize, time_us: f64, n: usize) -> (f64, f64) {
    if time_us <= 0.0 || n == 0 {
        return (0.0, 0.0);
    }
    let algbw = bytes as f64 / (time_us * 1e-6) / 1e9;
    (algbw, algbw * 2.0 * (n as f64 - 1.0) / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A ring of n ranks as threads over loopback.
    fn ring(n: usize, bytes: usize) -> Vec<Vec<SizeResult>> {
        let listeners: Vec<TcpListener> = (0..n)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = listeners
                .into_iter()
                .enumerate()
                .map(|(r, l)| {
                    let next_addr = addrs[(r + 1) % n];
                    s.spawn(move || {
                        let mut next = TcpStream::connect(next_addr).unwrap();
                        let (mut prev, _) = l.accept().unwrap();
                        run_sizes(
                            r,
                            n,
                            &mut next,
                            &mut prev,
                            &[bytes, 4 * 1000 + 8],
                            2,
                            4096,
                            Instant::now() + Duration::from_secs(30),
                        )
                        .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn ring_sums_are_exact_for_odd_and_even_rank_counts() {
        for n in [2, 3, 4, 5] {
            for per_rank in ring(n, 1 << 16) {
                assert!(per_rank.iter().all(|s| s.correct), "n={n}: {per_rank:?}");
                assert_eq!(per_rank[1].bytes, 4008, "sizes keep their element count");
            }
        }
    }

    #[test]
    fn wrong_sums_are_detected_and_bandwidths_follow_nccl_tests() {
        let mut b = input(0, 10);
        assert!(!check(2, &b));
        add_into(&mut b, &input(1, 10));
        assert!(check(2, &b));
        let (alg, bus) = bandwidths(1_000_000_000, 1e6, 4);
        assert!((alg - 1.0).abs() < 1e-9 && (bus - 1.5).abs() < 1e-9);
        assert_eq!(segments(40, 3).iter().map(|r| r.len()).sum::<usize>(), 40);
    }
}
