//! Bounded line reading over any byte stream, gzip or not.
//!
//! A log can be 10 GB, a "line" can be a 10 MB blob of base64 or a progress bar that never
//! prints a newline, and a `.gz` can be cut short. So: gzip is recognised by its magic bytes
//! and decoded on the fly; a line keeps at most [`MAX_LINE`] bytes and the rest is skipped
//! without being buffered; memory is the read buffer plus one line, whatever the input.

use flate2::read::MultiGzDecoder;
use std::io::{self, BufRead, BufReader, Read};

/// Bytes of a line that are kept; the rest of a longer line is skipped. NCCL lines are a few
/// hundred bytes; this leaves room for long torch exception messages.
pub const MAX_LINE: usize = 64 * 1024;

/// Read buffer size (for the file and for the decompressed stream).
pub const READ_BUF: usize = 64 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Wraps a stream, decompressing it when it starts with the gzip magic bytes (several gzip
/// members, as `cat a.gz b.gz` makes, are read as one stream). Returns whether it was gzip.
pub fn decode<'a, R: Read + 'a>(mut reader: R) -> io::Result<(Box<dyn BufRead + 'a>, bool)> {
    // Read the first two bytes by hand: a pipe may deliver one byte at a time.
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let stream = io::Cursor::new(head).take(n as u64).chain(reader);
    if n == 2 && head == GZIP_MAGIC {
        Ok((
            Box::new(BufReader::with_capacity(
                READ_BUF,
                MultiGzDecoder::new(stream),
            )),
            true,
        ))
    } else {
        Ok((Box::new(BufReader::with_capacity(READ_BUF, stream)), false))
    }
}

/// The first `\n` in `bytes`, eight bytes at a time: the newline search is the one loop that
/// touches every byte, and a byte-at-a-time scan was a fifth of the analyzer's time.
pub fn find_newline(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ NL;
        // A zero byte in x is a newline in the chunk (the classic has-zero-byte test).
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| base + i)
}

/// One line as read: its number (1-based), its first [`MAX_LINE`] bytes without the line end,
/// and whether more was skipped.
#[derive(Debug)]
pub struct RawLine<'a> {
    pub number: u64,
    pub bytes: &'a [u8],
    pub truncated: bool,
}

/// Splits a stream into bounded lines.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    cap: usize,
    number: u64,
    /// Bytes consumed from the (decoded) stream.
    pub bytes: u64,
    /// Lines longer than the cap.
    pub truncated_lines: u64,
    /// An error met after part of a line was read: that part is returned first.
    pending: Option<io::Error>,
    done: bool,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_cap(inner, MAX_LINE)
    }

    pub fn with_cap(inner: R, cap: usize) -> Self {
        LineReader {
            inner,
            // Allocated once at its final size, so the line buffer never grows past the cap.
            buf: Vec::with_capacity(cap),
            cap,
            number: 0,
            bytes: 0,
            truncated_lines: 0,
            pending: None,
            done: false,
        }
    }

    /// The line buffer's capacity: stays at most the cap whatever the input (tested).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Lines returned so far.
    pub fn lines_read(&self) -> u64 {
        self.number
    }

    /// The next line; `Ok(None)` at the end. A read error ends the stream: a partial line read
    /// before it is returned first, then the error.
    pub fn next_line(&mut self) -> io::Result<Option<RawLine<'_>>> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        self.buf.clear();
        let mut truncated = false;
        let mut any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if any {
                        self.pending = Some(e);
                        break;
                    }
                    self.done = true;
                    return Err(e);
                }
            };
            if avail.is_empty() {
                self.done = true;
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (take, consume, end) = match find_newline(avail) {
                Some(i) => (i, i + 1, true),
                None => (avail.len(), avail.len(), false),
            };
            let room = self.cap - self.buf.len();
            if take > room {
                truncated = true;
            }
            self.buf.extend_from_slice(&avail[..take.min(room)]);
            self.inner.consume(consume);
            self.bytes += consume as u64;
            if end {
                break;
            }
        }
        self.number += 1;
        if truncated {
            self.truncated_lines += 1;
        }
        let mut line = self.buf.as_slice();
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        Ok(Some(RawLine {
            number: self.number,
            bytes: line,
            truncated,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(input: &[u8], cap: usize) -> Vec<(Vec<u8>, bool)> {
        let mut r = LineReader::with_cap(BufReader::with_capacity(7, input), cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push((l.bytes.to_vec(), l.truncated));
        }
        assert!(r.buffer_capacity() <= cap);
        out
    }

    #[test]
    fn splits_and_caps() {
        assert_eq!(
            lines(b"ab\r\ncd\n\nlast", 10),
            vec![
                (b"ab".to_vec(), false),
                (b"cd".to_vec(), false),
                (b"".to_vec(), false),
                (b"last".to_vec(), false)
            ]
        );
        assert_eq!(
            lines(b"0123456789abcdef\nx\n", 4),
            vec![(b"0123".to_vec(), true), (b"x".to_vec(), false)]
        );
        assert!(lines(b"", 4).is_empty());
    }

    #[test]
    fn newline_search_agrees_with_a_plain_scan() {
        let mut buf = vec![b'a'; 100];
        for i in 0..100 {
            buf[i] = b'\n';
            assert_eq!(find_newline(&buf[..]), Some(i), "at {i}");
            for start in 0..i.min(9) {
                assert_eq!(find_newline(&buf[start..]), Some(i - start));
            }
            buf[i] = 0x8a; // high bit set, not a newline
            assert_eq!(find_newline(&buf), None);
            buf[i] = b'a';
        }
        assert_eq!(find_newline(b""), None);
        assert_eq!(find_newline(b"\x0b\x09\x8a\x0a"), Some(3));
    }

    #[test]
    fn gzip_by_magic() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"one\ntwo\n").unwrap();
        let bytes = gz.finish().unwrap();
        let (r, was_gz) = decode(bytes.as_slice()).unwrap();
        assert!(was_gz);
        let mut lr = LineReader::new(r);
        assert_eq!(lr.next_line().unwrap().unwrap().bytes, b"one");
        assert_eq!(lr.next_line().unwrap().unwrap().bytes, b"two");
        assert!(lr.next_line().unwrap().is_none());
        // One byte is not gzip, and not lost.
        let (r, was_gz) = decode(&b"\x1f"[..]).unwrap();
        assert!(!was_gz);
        let mut lr = LineReader::new(r);
        assert_eq!(lr.next_line().unwrap().unwrap().bytes, b"\x1f");
    }

    #[test]
    fn truncated_gzip_returns_what_it_has_then_errs() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..2000 {
            writeln!(gz, "host:1:1 [0] NCCL INFO line {i}").unwrap();
        }
        let bytes = gz.finish().unwrap();
        let cut = &bytes[..bytes.len() / 2];
        let (r, _) = decode(cut).unwrap();
        let mut lr = LineReader::new(r);
        let mut n = 0;
        let err = loop {
            match lr.next_line() {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("a cut gzip stream must end in an error"),
                Err(e) => break e,
            }
        };
        assert!(n > 0);
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(lr.next_line().unwrap().is_none());
    }
}
