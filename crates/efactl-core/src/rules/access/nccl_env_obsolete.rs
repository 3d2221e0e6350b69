use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA029",
    name: "nccl-env-obsolete",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "An NCCL / libfabric environment variable is obsolete, harmful or disables EFA",
    doc: "## What it does
Checks `nccl.env` against AWS's guidance for aws-ofi-nccl and libfabric, one finding per
variable:

| variable | finding |
|---|---|
| `FI_EFA_USE_DEVICE_RDMA` | obsolete with libfabric >= 1.18 and aws-ofi-nccl >= 1.7; `1` on hardware without RDMA read aborts the application |
| `FI_PROVIDER=efa` | only needed for aws-ofi-nccl <= 1.5.0 |
| `FI_PROVIDER` = anything else | keeps libfabric off EFA: traffic falls back to TCP |
| `NCCL_PROTO=simple` | only needed for aws-ofi-nccl <= 1.5.0; later versions set it where needed; forcing it costs performance |
| `RDMAV_FORK_SAFE`, any `RDMAV_*` | \"Do not use\": can break things on newer kernels |
| `FI_EFA_FORK_SAFE` | \"Not needed anymore\": the plugin sets it |
| `NCCL_SOCKET_NTHREADS`, `NCCL_NSOCKS_PERTHREAD` | \"Not applicable for EFA\" (socket transport only) |
| `NCCL_BUFFSIZE`, `NCCL_MIN_NCHANNELS` | leave the defaults: the plugin sets `NCCL_BUFFSIZE` per platform where it matters |
| `NCCL_MIN_CHANNELS` | the spelling of aws-ofi-nccl's guidance, but not a variable NCCL reads: it does nothing |
| `FI_EFA_ENABLE_SHM_TRANSFER` | irrelevant for NCCL: the plugin turns libfabric shared memory off on its endpoints |
| `NCCL_NET=Socket`, `NCCL_NET_PLUGIN=none` | with EFA node groups: NCCL uses TCP sockets, EFA carries nothing |

With `nccl.awsOfiNcclVersion` set to 1.5.0 or older, `FI_PROVIDER=efa` and
`NCCL_PROTO=simple` are still needed and not reported; with aws-ofi-nccl older than 1.7 or
libfabric older than 1.18 (`nccl.libfabricVersion`), neither is `FI_EFA_USE_DEVICE_RDMA`.

## Why it matters
These variables are copied from old blog posts and AMIs into job scripts long after the
software stopped needing them. Some only add noise; some cost bandwidth (`NCCL_PROTO=simple`
forbids NCCL's LL and LL128 protocols); some break the job: `FI_EFA_USE_DEVICE_RDMA=1` aborts
on an instance type without RDMA read, `RDMAV_FORK_SAFE` can break on newer kernels, and
`FI_PROVIDER=tcp`, `NCCL_NET=Socket` or `NCCL_NET_PLUGIN=none` silently move all collectives
off EFA (`Using network Socket` in the NCCL log) at a fraction of the bandwidth.

## Example
```yaml
nccl:
  env:
    FI_PROVIDER: efa
    FI_EFA_USE_DEVICE_RDMA: \"1\"
    NCCL_PROTO: simple
```

## Fix
Remove the variable from `nccl.env` (and from job scripts, container images and AMIs that set
it). If you run an old plugin, say so with `nccl.awsOfiNcclVersion` (and
`nccl.libfabricVersion`) so the version-dependent entries are judged against it.

## Source
efa-facts.md §4.2 (aws-ofi-nccl `doc/efa-env-var.md` (OFI-DOC), mirrored in awsome-distributed-ai's
EFA cheatsheet (ADAI); libfabric `fi_efa(7)` and `efa_rdm_get_use_device_rdma` (LF-MAN,
LF-RDMA)), §4.1 (what aws-ofi-nccl sets itself: provider filter `efa`, `FI_EFA_FORK_SAFE`,
`NCCL_BUFFSIZE`, `NCCL_PROTO`; SHM disabled on its endpoints (OFI, OFI-UTIL)) and §4.3
(`NCCL_NET`, `NCCL_NET_PLUGIN`).
",
    check: Some(check),
};

/// What efactl knows about the software the nodes run. Public so the NCCL log analyzer
/// (efactl-doctor, rule NCCL011) judges echoed variables with this same table.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// aws-ofi-nccl version, as numeric components.
    pub plugin: Option<Vec<u32>>,
    pub libfabric: Option<Vec<u32>>,
    /// The nodes use EFA: variables that move traffic off it are reported.
    pub efa: bool,
}

impl Facts {
    fn plugin_at_most(&self, v: &[u32]) -> bool {
        self.plugin
            .as_deref()
            .is_some_and(|p| version_cmp(p, v).is_le())
    }
    fn plugin_below(&self, v: &[u32]) -> bool {
        self.plugin
            .as_deref()
            .is_some_and(|p| version_cmp(p, v).is_lt())
    }
    fn libfabric_below(&self, v: &[u32]) -> bool {
        self.libfabric
            .as_deref()
            .is_some_and(|p| version_cmp(p, v).is_lt())
    }
}

/// One line of guidance: which variable, when it is a problem and what to say.
struct Entry {
    /// A variable name, or a prefix ending in `*`.
    var: &'static str,
    /// (name, value) -> the message, or `None` where the value is fine for these facts.
    verdict: fn(&str, &str, &Facts) -> Option<String>,
    /// Where the guidance comes from.
    source: &'static str,
}

static TABLE: &[Entry] = &[
    Entry {
        var: "FI_EFA_USE_DEVICE_RDMA",
        verdict: |_, v, f| {
            if f.plugin_below(&[1, 7]) || f.libfabric_below(&[1, 18]) {
                return None;
            }
            Some(match v.trim() {
                "0" => "FI_EFA_USE_DEVICE_RDMA=0 is obsolete with libfabric >= 1.18 and aws-ofi-nccl >= 1.7, and `0` makes libfabric emulate RDMA in software even where the device supports it".into(),
                _ => format!("FI_EFA_USE_DEVICE_RDMA={v} is obsolete with libfabric >= 1.18 and aws-ofi-nccl >= 1.7, which use RDMA wherever the device supports it; `1` on an instance type without RDMA read aborts the application"),
            })
        },
        source: "aws-ofi-nccl doc/efa-env-var.md; libfabric fi_efa(7)",
    },
    Entry {
        var: "FI_PROVIDER",
        verdict: |_, v, f| {
            if !selects_efa(v) {
                return f.efa.then(|| format!("FI_PROVIDER={v} keeps libfabric off the EFA provider: the node groups' EFA interfaces carry nothing and NCCL's traffic falls back to TCP"));
            }
            (!f.plugin_at_most(&[1, 5, 0])).then(|| format!("FI_PROVIDER={v} is only needed with aws-ofi-nccl 1.5.0 and older; later versions select the efa provider themselves"))
        },
        source: "aws-ofi-nccl doc/efa-env-var.md and platform-aws.cpp",
    },
    Entry {
        var: "NCCL_PROTO",
        verdict: |_, v, f| {
            (v.trim().eq_ignore_ascii_case("simple") && !f.plugin_at_most(&[1, 5, 0])).then(|| format!("NCCL_PROTO={v} is only needed with aws-ofi-nccl 1.5.0 and older; later versions force it themselves where GPUDirect RDMA is missing, and forcing it everywhere gives up NCCL's LL and LL128 protocols"))
        },
        source: "aws-ofi-nccl doc/efa-env-var.md",
    },
    Entry {
        var: "RDMAV_*",
        verdict: |name, _, _| {
            Some(format!("{name} is an rdma-core setting that AWS's EFA guidance says not to use: it can break things on newer kernels, and aws-ofi-nccl sets the fork-safety it needs itself"))
        },
        source: "aws-ofi-nccl doc/efa-env-var.md",
    },
    Entry {
        var: "FI_EFA_FORK_SAFE",
        verdict: |_, _, _| {
            Some("FI_EFA_FORK_SAFE is not needed anymore: aws-ofi-nccl sets it itself (it mattered on kernels before 5.15)".into())
        },
        source: "aws-ofi-nccl doc/efa-env-var.md and platform-aws.cpp",
    },
    Entry {
        var: "NCCL_SOCKET_NTHREADS",
        verdict: socket_tuning,
        source: "aws-ofi-nccl doc/efa-env-var.md",
    },
    Entry {
        var: "NCCL_NSOCKS_PERTHREAD",
        verdict: socket_tuning,
        source: "aws-ofi-nccl doc/efa-env-var.md",
    },
    Entry {
        var: "NCCL_BUFFSIZE",
        verdict: |name, _, _| {
            Some(format!("{name} should be left at its default on EFA: aws-ofi-nccl sets it itself on the platforms where it matters"))
        },
        source: "aws-ofi-nccl doc/efa-env-var.md and platform-aws.cpp",
    },
    Entry {
        var: "NCCL_MIN_NCHANNELS",
        verdict: |name, _, _| {
            Some(format!(
                "{name} should be left at its default on EFA, per aws-ofi-nccl's guidance (which spells it NCCL_MIN_CHANNELS): the plugin and NCCL's tuner pick the channel count per platform"
            ))
        },
        source: "aws-ofi-nccl doc/efa-env-var.md; NCCL's environment variable list",
    },
    Entry {
        var: "NCCL_MIN_CHANNELS",
        verdict: |name, _, _| {
            Some(format!(
                "{name} is not a variable NCCL reads (NCCL's is NCCL_MIN_NCHANNELS), so setting it does nothing; aws-ofi-nccl's guidance, which spells it this way, is to leave the channel count at its default"
            ))
        },
        source: "aws-ofi-nccl doc/efa-env-var.md; NCCL's environment variable list",
    },
    Entry {
        var: "FI_EFA_ENABLE_SHM_TRANSFER",
        verdict: |name, _, _| {
            Some(format!("{name} has no effect on NCCL: aws-ofi-nccl turns libfabric's shared memory off on its endpoints (it matters only to MPI jobs)"))
        },
        source: "aws-ofi-nccl doc/efa-env-var.md and nccl_ofi_ofiutils.cpp",
    },
    Entry {
        var: "NCCL_NET",
        verdict: |_, v, f| {
            (f.efa && v.trim().eq_ignore_ascii_case("socket")).then(|| format!("NCCL_NET={v} makes NCCL use TCP sockets instead of the aws-ofi-nccl plugin: the EFA interfaces carry no collective traffic"))
        },
        source: "NCCL src/plugin/net.cc; aws-ofi-nccl nccl_ofi_interface_nvidia.cpp",
    },
    Entry {
        var: "NCCL_NET_PLUGIN",
        verdict: |_, v, f| {
            (f.efa && v.trim().eq_ignore_ascii_case("none")).then(|| format!("NCCL_NET_PLUGIN={v} keeps NCCL from loading aws-ofi-nccl: it falls back to TCP sockets and the EFA interfaces carry nothing"))
        },
        source: "NCCL src/plugin/plugin_open.cc",
    },
];

/// The table's verdict on one variable: the message and where the guidance comes from, or
/// `None` when the variable is not in the table or its value is fine for these facts.
pub fn judge(name: &str, value: &str, facts: &Facts) -> Option<(String, &'static str)> {
    let entry = TABLE.iter().find(|e| match e.var.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => e.var == name,
    })?;
    (entry.verdict)(name, value, facts).map(|m| (m, entry.source))
}

fn socket_tuning(name: &str, _: &str, f: &Facts) -> Option<String> {
    f.efa.then(|| {
        format!("{name} tunes NCCL's TCP socket transport, which is not applicable for EFA")
    })
}

/// Does an `FI_PROVIDER` value leave libfabric the efa provider? It is a comma list of
/// providers, or with a leading `^` a list of providers to exclude.
pub fn selects_efa(value: &str) -> bool {
    let v = value.trim();
    let (exclude, list) = match v.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let named = list
        .split([',', ';'])
        .any(|p| p.trim().eq_ignore_ascii_case("efa"));
    named != exclude
}

/// `1.7.3-aws`, `v1.18.0amzn1.0` -> [1, 7, 3], [1, 18, 0]: the leading numeric components.
pub fn parse_version(s: &str) -> Option<Vec<u32>> {
    let s = s.trim().trim_start_matches(['v', 'V']);
    let mut out = Vec::new();
    for part in s.split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let Ok(n) = digits.parse() else { break };
        out.push(n);
        if digits.len() != part.len() {
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Compares versions component by component, missing components counting as 0.
pub fn version_cmp(a: &[u32], b: &[u32]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let c = cx.cluster;
    let facts = Facts {
        plugin: c
            .nccl
            .aws_ofi_nccl_version
            .as_deref()
            .and_then(parse_version),
        libfabric: c.nccl.libfabric_version.as_deref().and_then(parse_version),
        efa: c.node_groups.iter().any(NodeGroup::uses_efa),
    };
    for (name, (value, origin)) in &c.nccl.env {
        let Some((message, source)) = judge(name, value, &facts) else {
            continue;
        };
        let help = if name == "FI_PROVIDER" && !selects_efa(value) {
            format!("remove `FI_PROVIDER` from `nccl.env` (aws-ofi-nccl then selects efa itself), or set it to `efa` (source: {})", source)
        } else if facts.plugin.is_none()
            && matches!(
                name.as_str(),
                "FI_PROVIDER" | "NCCL_PROTO" | "FI_EFA_USE_DEVICE_RDMA"
            )
        {
            format!("remove `{name}` from `nccl.env`; if your aws-ofi-nccl is older, set `nccl.awsOfiNcclVersion` (source: {})", source)
        } else {
            format!("remove `{name}` from `nccl.env` (source: {})", source)
        };
        r.report(origin.subject(), message).help = Some(help);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.7.3-aws"), Some(vec![1, 7, 3]));
        assert_eq!(parse_version("v1.18.0amzn1.0"), Some(vec![1, 18, 0]));
        assert_eq!(parse_version("abc"), None);
        assert!(version_cmp(&[1, 5], &[1, 5, 0]).is_eq());
        assert!(version_cmp(&[1, 4, 9], &[1, 5, 0]).is_lt());
        assert!(version_cmp(&[1, 10], &[1, 9, 9]).is_gt());
    }

    #[test]
    fn provider_lists() {
        assert!(selects_efa("efa"));
        assert!(selects_efa("EFA"));
        assert!(selects_efa("shm,efa"));
        assert!(selects_efa("^tcp"));
        assert!(!selects_efa("tcp"));
        assert!(!selects_efa("^efa"));
        assert!(!selects_efa("tcp;ofi_rxm"));
    }

    #[test]
    fn old_plugins_keep_their_variables() {
        let spec = |version: &str| {
            format!(
                "apiVersion: efactl.dev/v1alpha1
name: t
region: us-east-1
availabilityZone: us-east-1a
network:
  subnets:
    - {{ name: compute, cidr: 10.0.0.0/20, internet: nat }}
securityGroups:
  - {{ name: efa, selfReferencing: true }}
nodeGroups:
  - {{ name: gpu, instanceType: p4d.24xlarge, count: 2, securityGroups: [efa] }}
nccl:
  awsOfiNcclVersion: \"{version}\"
  env:
    FI_PROVIDER: efa
    NCCL_PROTO: simple
    FI_EFA_USE_DEVICE_RDMA: \"1\"
"
            )
        };
        let names = |version: &str| -> Vec<String> {
            crate::rules::findings_of("EFA029", &spec(version))
                .into_iter()
                .filter_map(|f| f.subject.path)
                .collect()
        };
        assert!(names("1.5.0").is_empty());
        assert_eq!(
            names("1.6.1"),
            vec!["nccl.env.FI_PROVIDER", "nccl.env.NCCL_PROTO"]
        );
        assert_eq!(names("1.7.3").len(), 3);
    }
}
