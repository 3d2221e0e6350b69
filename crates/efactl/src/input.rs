//! Where input comes from: files, pipes, devices. Every read is bounded.

use std::fs::Metadata;

/// A device that is not a terminal (`/dev/zero`, `/dev/urandom`, a disk) yields bytes without
/// end and is never a spec or a log: named, so the caller refuses it before reading.
pub fn device_kind(meta: &Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_block_device() {
            return Some("block device");
        }
        if t.is_char_device() {
            return Some("character device");
        }
    }
    let _ = meta;
    None
}

/// A reader that fails once more than `limit` bytes were asked of it, naming the limit.
pub struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
    what: &'static str,
}

impl<R> Bounded<R> {
    pub fn new(inner: R, limit: u64, what: &'static str) -> Self {
        Bounded {
            inner,
            left: limit,
            limit,
            what,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a stream that ends exactly at the limit from one that goes on.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!(
                    "the input goes on past {}, the most efactl reads of {} ({})",
                    human_bytes(self.limit),
                    self.what,
                    "--max-bytes raises it"
                ))),
            };
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// `16G`, `512M`, `64K` or a plain number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{s}` is not a size such as 16G, 512M or 4096"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn bounded_reads_up_to_the_limit_then_names_it() {
        let mut r = Bounded::new(std::io::repeat(b'a'), 10, "a log");
        let mut v = Vec::new();
        let e = r.read_to_end(&mut v).unwrap_err();
        assert_eq!(v.len(), 10);
        assert!(e.to_string().contains("past 10 bytes"), "{e}");
        let mut exact = Bounded::new(&b"0123456789"[..], 10, "a log");
        let mut v = Vec::new();
        exact.read_to_end(&mut v).unwrap();
        assert_eq!(v.len(), 10, "a stream of exactly the limit is whole");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16G"), Ok(16 << 30));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("huge").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
