//! CIDR arithmetic for security-group and subnet checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.trim().split_once('/')?;
        let addr: IpAddr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// 0.0.0.0/0 or ::/0.
    pub fn is_world(&self) -> bool {
        self.prefix == 0
    }

    fn bits(addr: IpAddr) -> (u128, u8) {
        match addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// True when every address of `other` is in `self`.
    pub fn contains(&self, other: &Cidr) -> bool {
        if self.addr.is_ipv4() != other.addr.is_ipv4() || other.prefix < self.prefix {
            return false;
        }
        let (a, width) = Cidr::bits(self.addr);
        let (b, _) = Cidr::bits(other.addr);
        let shift = u32::from(width - self.prefix);
        if shift >= 128 {
            return true;
        }
        (a >> shift) == (b >> shift)
    }

    /// Addresses in the block (saturating for IPv6).
    pub fn size(&self) -> u128 {
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        let host_bits = u32::from(width - self.prefix);
        if host_bits >= 128 {
            u128::MAX
        } else {
            1u128 << host_bits
        }
    }

    /// Addresses EC2 can hand out: AWS reserves five in every subnet.
    pub fn usable_in_subnet(&self) -> u128 {
        self.size().saturating_sub(5)
    }

    pub fn world_v4() -> Cidr {
        Cidr {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix: 0,
        }
    }

    pub fn world_v6() -> Cidr {
        Cidr {
            addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            prefix: 0,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment_and_sizes() {
        let vpc = Cidr::parse("10.0.0.0/16").unwrap();
        let sub = Cidr::parse("10.0.16.0/20").unwrap();
        assert!(vpc.contains(&sub));
        assert!(!sub.contains(&vpc));
        assert!(Cidr::world_v4().contains(&sub));
        assert!(!Cidr::world_v6().contains(&sub));
        assert_eq!(sub.usable_in_subnet(), 4091);
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("::/0").unwrap().is_world());
    }
}
