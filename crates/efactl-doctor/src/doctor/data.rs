//! The data plane: one listener per rank that serves connectivity probes, latency echoes,
//! bandwidth sinks and the all-reduce ring. Every socket has a timeout, so a vanished peer
//! ends a handler instead of leaking a thread forever.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

pub const PROBE: u8 = b'P';
pub const LATENCY: u8 = b'L';
pub const BANDWIDTH: u8 = b'B';
pub const RING: u8 = b'A';

/// How long the accept loop waits for a new connection's first byte.
const FIRST_BYTE: Duration = Duration::from_millis(200);
/// How long a data connection may sit idle before its handler gives up.
const IDLE: Duration = Duration::from_secs(30);
/// Message size of the latency ping-pong.
pub const PING_BYTES: usize = 64;

pub struct DataPlane {
    pub port: u16,
    /// Incoming all-reduce ring connections: (sender rank, stream).
    pub ring_rx: mpsc::Receiver<(usize, TcpStream)>,
}

/// Binds a TCP listener with a deep accept queue: at 256 ranks every listener is probed by 255
/// peers at once, and std's backlog of 128 would drop SYNs (seen as 1 s+ connect stalls).
pub fn listen(bind: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(bind), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&bind.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// Binds the listener and serves it on a background thread for the life of the process.
pub fn start(bind: SocketAddr) -> std::io::Result<DataPlane> {
    let listener = listen(bind)?;
    let port = listener.local_addr()?.port();
    let (ring_tx, ring_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("efactl-data".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut stream) = conn else { continue };
                // Every client sends its kind first, at once. Reading it here means a probe
                // (most connections, N-1 per rank) costs no thread; a client that says nothing
                // holds the accept loop for at most FIRST_BYTE.
                let mut kind = [0u8; 1];
                let _ = stream.set_read_timeout(Some(FIRST_BYTE));
                if stream.read_exact(&mut kind).is_err() || kind[0] == PROBE {
                    continue;
                }
                let ring_tx = ring_tx.clone();
                // The rest end with their peer or after IDLE.
                let _ = std::thread::Builder::new()
                    .name("efactl-conn".into())
                    .spawn(move || serve(stream, kind[0], ring_tx));
            }
        })?;
    Ok(DataPlane { port, ring_rx })
}

fn serve(mut s: TcpStream, kind: u8, ring_tx: mpsc::Sender<(usize, TcpStream)>) {
    let _ = s.set_read_timeout(Some(IDLE));
    let _ = s.set_write_timeout(Some(IDLE));
    match kind {
        PROBE => {}
        LATENCY => {
            let _ = s.set_nodelay(true);
            let mut buf = [0u8; PING_BYTES];
            while s.read_exact(&mut buf).is_ok() {
                if s.write_all(&buf).is_err() {
                    break;
                }
            }
        }
        BANDWIDTH => {
            let mut buf = vec![0u8; 1 << 20];
            let mut total: u64 = 0;
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => total += n as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
            let _ = s.write_all(&total.to_be_bytes());
        }
        RING => {
            let mut r = [0u8; 4];
            if s.read_exact(&mut r).is_ok() {
                let _ = ring_tx.send((u32::from_be_bytes(r) as usize, s));
            }
        }
        _ => {}
    }
}
