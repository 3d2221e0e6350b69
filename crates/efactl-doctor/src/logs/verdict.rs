//! The verdict: healthy, degraded or failed, and the single most likely cause.
//!
//! A failing NCCL job leaves a cascade of errors, and the loudest are usually symptoms. The
//! cause is chosen by a fixed priority, root causes before the symptoms they produce:
//!
//! | priority | finding | why it ranks there |
//! |---:|---|---|
//! | 10 | NCCL009 CUDA error | a GPU fault stops one rank's kernels; its peers then see closed connections, EFA errors and watchdog timeouts |
//! | 20 | NCCL012 nccl-tests wrong results | data corruption on the path is a hardware fault, whatever else the run shows |
//! | 30 | NCCL005 EFA peer never reached (security group banner, AV insert, 15, 4126) | a configuration that drops EFA from the first packet; every later failure follows from it |
//! | 40 | NCCL008 remote rank failed | a peer died; the survivors' errors are its echo (its own log has the cause) |
//! | 50 | NCCL005 EFA peer stopped answering (4124) | an established path broke: usually a peer that died or hung |
//! | 60 | NCCL006 bootstrap connect failure | TCP between ranks fails before any collective runs |
//! | 65 | NCCL008 with only `remote process exited or there was a network error` | NCCL's catch-all: with a connect failure in the same log, the network is the likelier cause |
//! | 70 | NCCL002 plugin failed and no transport was left | communicator creation cannot complete |
//! | 75 | NCCL001 some ranks on sockets, others on EFA | NCCL cannot connect ranks on different networks: connection setup fails |
//! | 80 | NCCL007 watchdog timeout | a symptom: every waiting rank times out; the rank that did not arrive is named |
//! | 90 | an NCCL error with no recognised cause | failed, cause unknown: the message is quoted |
//!
//! Without a failure, a run is degraded by (in order) NCCL001 socket fallback, NCCL002 plugin
//! failure with a fallback, NCCL004 GPUDirect RDMA off, NCCL003 missing NICs, NCCL013 low
//! busbw, NCCL010 version skew, NCCL011 obsolete variables; with none of these it is healthy.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    Degraded,
    Failed,
    /// Nothing NCCL-like was read: no verdict.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub status: Status,
    /// The rule of the most likely cause, when a finding is the cause.
    pub rule: Option<String>,
    /// One sentence: the most likely cause, or what a healthy run looked like.
    pub cause: String,
    /// `file:line` of the cause's first evidence.
    pub location: Option<String>,
}

/// Priorities (see the module documentation); below [`DEGRADED`] a candidate means failed.
pub mod priority {
    pub const CUDA: u32 = 10;
    pub const WRONG_RESULTS: u32 = 20;
    pub const EFA_NEVER_REACHED: u32 = 30;
    pub const REMOTE_FAILED: u32 = 40;
    pub const EFA_LOST: u32 = 50;
    pub const BOOTSTRAP: u32 = 60;
    pub const REMOTE_AMBIGUOUS: u32 = 65;
    pub const PLUGIN_NO_TRANSPORT: u32 = 70;
    pub const SOCKET_MIXED: u32 = 75;
    pub const WATCHDOG: u32 = 80;
    pub const NCCL_ERROR: u32 = 90;
    pub const DEGRADED: u32 = 100;
    pub const SOCKET: u32 = 110;
    pub const SOCKET_SINGLE_NODE: u32 = 115;
    pub const PLUGIN_FALLBACK: u32 = 120;
    pub const GDR: u32 = 130;
    pub const NICS: u32 = 140;
    pub const LOW_BUSBW: u32 = 150;
    pub const VERSIONS: u32 = 160;
    pub const ENV: u32 = 170;
}

/// A finding's claim to be the cause.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub priority: u32,
    pub rule: String,
    pub cause: String,
    pub location: Option<String>,
}

/// Picks the verdict from the candidates (lowest priority wins; ties keep the first).
pub fn decide(candidates: &[Candidate], healthy: String) -> Verdict {
    match candidates.iter().min_by_key(|c| c.priority) {
        None => Verdict {
            status: Status::Healthy,
            rule: None,
            cause: healthy,
            location: None,
        },
        Some(c) => Verdict {
            status: if c.priority < priority::DEGRADED {
                Status::Failed
            } else {
                Status::Degraded
            },
            rule: (!c.rule.is_empty()).then(|| c.rule.clone()),
            cause: c.cause.clone(),
            location: c.location.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: u32, rule: &str) -> Candidate {
        Candidate {
            priority: p,
            rule: rule.into(),
            cause: format!("{rule} cause"),
            location: None,
        }
    }

    #[test]
    fn root_cause_beats_symptoms() {
        let v = decide(
            &[
                c(priority::WATCHDOG, "NCCL007"),
                c(priority::REMOTE_FAILED, "NCCL008"),
                c(priority::CUDA, "NCCL009"),
                c(priority::SOCKET, "NCCL001"),
            ],
            String::new(),
        );
        assert_eq!(v.status, Status::Failed);
        assert_eq!(v.rule.as_deref(), Some("NCCL009"));
        let v = decide(
            &[c(priority::GDR, "NCCL004"), c(priority::SOCKET, "NCCL001")],
            String::new(),
        );
        assert_eq!(v.status, Status::Degraded);
        assert_eq!(v.rule.as_deref(), Some("NCCL001"));
        let v = decide(&[], "fine".into());
        assert_eq!((v.status, v.cause.as_str()), (Status::Healthy, "fine"));
    }
}
