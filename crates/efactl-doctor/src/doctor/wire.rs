//! The doctor's control protocol: length-prefixed JSON messages over TCP, every read and write
//! bounded by a deadline so that a dead peer is an error, never a hang.

use serde::{de::DeserializeOwned, Serialize};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Largest control message accepted: results of one rank for 256 peers fit in a few hundred KiB.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("timed out")]
    Timeout,
    #[error("connection closed by peer")]
    Closed,
    #[error("message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn remaining(deadline: Instant) -> Result<Duration, WireError> {
    let now = Instant::now();
    if now >= deadline {
        return Err(WireError::Timeout);
    }
    // A zero timeout means "block forever" to the socket API: never pass it.
    Ok((deadline - now).max(Duration::from_millis(1)))
}

fn map_io(e: io::Error) -> WireError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => WireError::Timeout,
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => WireError::Closed,
        _ => WireError::Io(e),
    }
}

/// Reads exactly `buf.len()` bytes before `deadline`.
pub fn read_exact_by(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<(), WireError> {
    let mut done = 0;
    while done < buf.len() {
        stream
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(map_io)?;
        match stream.read(&mut buf[done..]) {
            Ok(0) => return Err(WireError::Closed),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(map_io(e)),
        }
    }
    Ok(())
}

/// Writes all of `buf` before `deadline`.
pub fn write_all_by(
    stream: &mut TcpStream,
    buf: &[u8],
    deadline: Instant,
) -> Result<(), WireError> {
    let mut done = 0;
    while done < buf.len() {
        stream
            .set_write_timeout(Some(remaining(deadline)?))
            .map_err(map_io)?;
        match stream.write(&buf[done..]) {
            Ok(0) => return Err(WireError::Closed),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(map_io(e)),
        }
    }
    Ok(())
}

pub fn send<T: Serialize>(
    stream: &mut TcpStream,
    msg: &T,
    deadline: Instant,
) -> Result<(), WireError> {
    let body = serde_json::to_vec(msg).map_err(|e| WireError::Malformed(e.to_string()))?;
    if body.len() > MAX_MESSAGE {
        return Err(WireError::TooLarge(body.len()));
    }
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    write_all_by(stream, &frame, deadline)
}

pub fn recv<T: DeserializeOwned>(
    stream: &mut TcpStream,
    deadline: Instant,
) -> Result<T, WireError> {
    let mut len = [0u8; 4];
    read_exact_by(stream, &mut len, deadline)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(WireError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    read_exact_by(stream, &mut body, deadline)?;
    serde_json::from_slice(&body).map_err(|e| WireError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn messages_round_trip_and_silence_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let v: Vec<u32> = recv(&mut s, Instant::now() + Duration::from_secs(5)).unwrap();
            send(
                &mut s,
                &(v.iter().sum::<u32>()),
                Instant::now() + Duration::from_secs(5),
            )
            .unwrap();
            // Then say nothing: the client's next read must time out, not hang.
            std::thread::sleep(Duration::from_millis(400));
        });
        let mut c = TcpStream::connect(addr).unwrap();
        send(
            &mut c,
            &vec![1u32, 2, 3],
            Instant::now() + Duration::from_secs(5),
        )
        .unwrap();
        let sum: u32 = recv(&mut c, Instant::now() + Duration::from_secs(5)).unwrap();
        assert_eq!(sum, 6);
        let start = Instant::now();
        let r: Result<u32, _> = recv(&mut c, Instant::now() + Duration::from_millis(150));
        assert!(matches!(r, Err(WireError::Timeout)), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
        t.join().unwrap();
        let r: Result<u32, _> = recv(&mut c, Instant::now() + Duration::from_secs(2));
        assert!(matches!(r, Err(WireError::Closed)), "{r:?}");
    }

    #[test]
    fn oversized_frames_are_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(&u32::MAX.to_be_bytes()).unwrap();
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let r: Result<u32, _> = recv(&mut c, Instant::now() + Duration::from_secs(2));
        assert!(matches!(r, Err(WireError::TooLarge(_))));
        t.join().unwrap();
    }
}
