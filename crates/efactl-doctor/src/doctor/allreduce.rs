//! Stage 5: ring all-reduce over TCP (reduce-scatter then all-gather, as NCCL's ring), f32 sum,
//! pipelined so that sending one chunk overlaps receiving and adding the next, with the result
//! checked, reported like nccl-tests: size, count, time, algbw, busbw.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// This rank's place in the ring and its two links.
pub struct Ring<'a> {
    /// Stream to ring position `pos + 1`.
    pub next: &'a mut TcpStream,
    /// Stream from ring position `pos - 1`.
    pub prev: &'a mut TcpStream,
    pub pos: usize,
    pub n: usize,
    /// Pipelining unit in bytes.
    pub chunk: usize,
    pub deadline: Instant,
}

/// One all-reduce in place.
///
/// The segment a rank receives (and reduces) in one step is exactly the segment it sends in
/// the next, so each chunk is queued for sending the moment it has been added: the ring is
/// pipelined across steps, not only within one. One thread drives both sockets, non-blocking,
/// waiting in poll(2) only when neither can move: no hand-off between threads on the critical
/// path (each one costs a wake-up, which on a busy host is most of a small all-reduce).
pub fn ring_allreduce(
    buf: &mut [u8],
    ring: &mut Ring<'_>,
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    let (rank, n, chunk, deadline) = (ring.pos, ring.n, ring.chunk, ring.deadline);
    let (next, prev) = (&mut *ring.next, &mut *ring.prev);
    if n < 2 {
        return Ok(());
    }
    let segs = segments(buf.len(), n);
    let chunk = (chunk.max(4) / 4) * 4;
    if scratch.len() < chunk {
        scratch.resize(chunk, 0);
    }
    let chunks_of = |seg: &std::ops::Range<usize>| -> Vec<std::ops::Range<usize>> {
        let mut v = Vec::new();
        let mut at = seg.start;
        while at < seg.end {
            let end = (at + chunk).min(seg.end);
            v.push(at..end);
            at = end;
        }
        v
    };
    // What to receive, in order: (byte range of buf, add or copy, forward afterwards).
    let steps = 2 * (n - 1);
    let mut plan: std::collections::VecDeque<(std::ops::Range<usize>, bool, bool)> =
        Default::default();
    for step in 0..steps {
        let (seg_i, reduce) = if step < n - 1 {
            ((rank + 2 * n - step - 1) % n, true)
        } else {
            ((rank + 2 * n - (step - (n - 1))) % n, false)
        };
        for c in chunks_of(&segs[seg_i]) {
            plan.push_back((c, reduce, step + 1 < steps));
        }
    }
    // Byte ranges of `buf` waiting to be written, and how much of the front one is out. They
    // are written straight from the buffer: a range is received into again only in the
    // all-gather, and that data exists only after the ring has carried this rank's write of
    // the same bytes around (TCP keeps order), so a queued range is never overwritten first.
    let mut outq: std::collections::VecDeque<std::ops::Range<usize>> =
        chunks_of(&segs[rank]).into();
    let mut out_off = 0usize;
    let mut got = 0usize;
    next.set_nonblocking(true)?;
    prev.set_nonblocking(true)?;
    let result = (|| -> std::io::Result<()> {
        while !plan.is_empty() || !outq.is_empty() {
            let mut moved = false;
            // Write what can be written.
            while let Some(front) = outq.front().cloned() {
                match next.write(&buf[front.start + out_off..front.end]) {
                    Ok(0) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::WriteZero,
                            "next rank closed the ring",
                        ))
                    }
                    Ok(k) => {
                        moved = true;
                        out_off += k;
                        if front.start + out_off == front.end {
                            outq.pop_front();
                            out_off = 0;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // Read what has arrived, chunk by chunk: into scratch to be added, or straight
            // into place in the all-gather.
            while let Some((range, reduce, forward)) = plan.front().cloned() {
                let want = range.len();
                let into: &mut [u8] = if reduce {
                    &mut scratch[got..want]
                } else {
                    &mut buf[range.start + got..range.end]
                };
                match prev.read(into) {
                    Ok(0) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "previous rank closed the ring",
                        ))
                    }
                    Ok(k) => {
                        moved = true;
                        got += k;
                        if got == want {
                            if reduce {
                                add_into(&mut buf[range.clone()], &scratch[..want]);
                            }
                            if forward {
                                outq.push_back(range);
                            }
                            plan.pop_front();
                            got = 0;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if !moved {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "all-reduce deadline passed",
                    ));
                }
                wait_ready(prev, !plan.is_empty(), next, !outq.is_empty(), left)?;
            }
        }
        Ok(())
    })();
    let _ = next.set_nonblocking(false);
    let _ = prev.set_nonblocking(false);
    result
}

/// Blocks until `r` is readable or `w` writable (as asked), or `timeout` passes.
fn wait_ready(
    r: &TcpStream,
    want_r: bool,
    w: &TcpStream,
    want_w: bool,
    timeout: Duration,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut fds = [
        libc::pollfd {
            fd: if want_r { r.as_raw_fd() } else { -1 },
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: if want_w { w.as_raw_fd() } else { -1 },
            events: libc::POLLOUT,
            revents: 0,
        },
    ];
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a valid, initialised array of two pollfd that outlives the call, and the
    // length passed is its length; poll only writes the revents fields.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// Runs every size `iters` times after one warm-up, checking the result of the warm-up.
pub fn run_sizes(
    ring: &mut Ring<'_>,
    sizes: &[usize],
    iters: usize,
) -> std::io::Result<Vec<SizeResult>> {
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for &bytes in sizes {
        let count = bytes / 4;
        if Instant::now() >= ring.deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "all-reduce deadline passed",
            ));
        }
        let mut buf = input(ring.pos, count);
        ring_allreduce(&mut buf, ring, &mut scratch)?;
        let correct = check(ring.n, &buf);
        let start = Instant::now();
        for _ in 0..iters {
            // Data need not be fresh for timing; sums grow but stay finite for a few iterations.
            ring_allreduce(&mut buf, ring, &mut scratch)?;
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
                        let mut ring = Ring {
                            next: &mut next,
                            prev: &mut prev,
                            pos: r,
                            n,
                            chunk: 4096,
                            deadline: Instant::now() + Duration::from_secs(30),
                        };
                        run_sizes(&mut ring, &[bytes, 4 * 1000 + 8], 2).unwrap()
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
