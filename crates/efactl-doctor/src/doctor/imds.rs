//! The instance type from the EC2 instance metadata service (IMDSv2), with the AWS SDKs'
//! switches honoured: AWS_EC2_METADATA_DISABLED=true turns it off, and
//! AWS_EC2_METADATA_SERVICE_ENDPOINT points it elsewhere (a fake on loopback in tests).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";

pub fn instance_type(timeout: Duration) -> Option<String> {
    if std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    let endpoint = std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or_else(|_| DEFAULT_ENDPOINT.into());
    let hostport = endpoint
        .strip_prefix("http://")?
        .trim_end_matches('/')
        .to_string();
    let token = request(
        &hostport,
        "PUT /latest/api/token HTTP/1.1\r\nHost: {h}\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        timeout,
    )?;
    let req = format!(
        "GET /latest/meta-data/instance-type HTTP/1.1\r\nHost: {{h}}\r\nX-aws-ec2-metadata-token: {}\r\nConnection: close\r\n\r\n",
        token.trim()
    );
    let t = request(&hostport, &req, timeout)?;
    let t = t.trim();
    (!t.is_empty()
        && t.len() < 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    .then(|| t.to_string())
}

/// One HTTP/1.1 exchange; the body of a 200 answer.
fn request(hostport: &str, template: &str, timeout: Duration) -> Option<String> {
    let addr = hostport.to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    s.write_all(template.replace("{h}", hostport).as_bytes())
        .ok()?;
    let mut buf = Vec::new();
    s.take(64 * 1024).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn asks_a_fake_endpoint_with_a_token() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                let body = if req.starts_with("PUT /latest/api/token") {
                    "tok123"
                } else {
                    "p5.48xlarge"
                };
                write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                seen.push(req);
            }
            seen
        });
        // Only this test sets the variable; the endpoint is our own loopback server.
        std::env::set_var(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        );
        let t = instance_type(Duration::from_secs(2));
        std::env::remove_var("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        assert_eq!(t.as_deref(), Some("p5.48xlarge"));
        let seen = server.join().unwrap();
        assert!(seen[1].contains("X-aws-ec2-metadata-token: tok123"));
    }
}
