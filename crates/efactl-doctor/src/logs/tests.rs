//! The analyzer over synthetic logs: multi-rank interleaving, every launcher prefix, each
//! finding, harmless lines, bad input and bounded memory on a long generated stream.

use super::*;
use efactl_core::finding::{Category, Severity};
use std::fmt::Write as _;
use std::io::Write as _;

/// How each line of a synthetic job is prefixed.
#[derive(Clone, Copy)]
enum Style {
    Plain,
    Slurm,
    Mpi,
    Torchrun,
    Timestamped,
}

/// A synthetic job: `nodes` x `gpus` ranks, what each one logs, interleaved round-robin the
/// way a shared stdout interleaves them.
struct Job {
    nodes: u32,
    gpus: u32,
    style: Style,
    platform: &'static str,
    nics: u32,
    nccl: fn(u32) -> &'static str,
    /// Ranks whose plugin is missing (they fall back to sockets).
    socket: &'static [u32],
    /// Extra lines per rank, after init.
    extra: fn(u32) -> Vec<String>,
}

impl Default for Job {
    fn default() -> Self {
        Job {
            nodes: 2,
            gpus: 8,
            style: Style::Plain,
            platform: "p4d.24xlarge",
            nics: 4,
            nccl: |_| "2.18.5",
            socket: &[],
            extra: |_| Vec::new(),
        }
    }
}

impl Job {
    fn host(&self, rank: u32) -> String {
        format!("ip-10-0-1-{}", 10 + rank / self.gpus)
    }

    fn rank_lines(&self, rank: u32) -> Vec<String> {
        let n = self.nodes * self.gpus;
        let dev = rank % self.gpus;
        let info = |m: &str| {
            format!(
                "{}:{}:{} [{dev}] NCCL INFO {m}",
                self.host(rank),
                1000 + rank,
                2000 + rank
            )
        };
        let mut v = vec![
            info(&format!("NCCL version {}+cuda12.2", (self.nccl)(rank))),
            info("cudaDriverVersion 12040"),
            info("NET/Plugin: Failed to find ncclNetPlugin_v8 symbol."),
            info("NET/Plugin: Failed to find ncclCollNetPlugin_v8 symbol."),
        ];
        if self.socket.contains(&rank) {
            v.push(info(
                "NET/Plugin: Could not find: libnccl-net.so. Using internal network plugin.",
            ));
            v.push(info("NET/Socket : Using [0]ens32:10.0.1.17<0>"));
            v.push(info("Using network Socket"));
        } else {
            v.extend([
                info("NET/Plugin: Loaded net plugin Libfabric (v8)"),
                info("NET/OFI Initializing aws-ofi-nccl 1.9.1-aws"),
                info("NET/OFI Using Libfabric version 1.22"),
                info("NET/OFI Using CUDA driver version 12040 with runtime 12020"),
                info(&format!("NET/OFI Running on {} platform, topology file /opt/amazon/ofi-nccl/share/aws-ofi-nccl/xml/p4d-24xl-topo.xml", self.platform)),
                info(&format!("NET/OFI Selected provider is efa, fabric is efa (found {} nics)", self.nics)),
                info("Using network Libfabric"),
            ]);
        }
        v.push(info(&format!(
            "comm 0x55d0c0e0 rank {rank} nRanks {n} nNodes {} localRanks {} localRank {dev} MNNVL 0",
            self.nodes, self.gpus
        )));
        let peer = (rank + self.gpus) % n;
        let via = if self.socket.contains(&rank) {
            "NET/Socket/0"
        } else {
            "NET/Libfabric/0/GDRDMA"
        };
        v.push(info(&format!(
            "Channel 00/0 : {rank}[{dev}] -> {peer}[{dev}] [send] via {via}"
        )));
        v.push(info(&format!(
            "Channel 00/0 : {rank}[{dev}] -> {}[{}] via P2P/IPC/read",
            (rank + 1) % n,
            (dev + 1) % self.gpus
        )));
        v.push(info("Connected all rings"));
        v.push(info(&format!("comm 0x55d0c0e0 rank {rank} nranks {n} cudaDev {dev} nvmlDev {dev} busId 10 commId 0x1 - Init COMPLETE")));
        v.extend((self.extra)(rank));
        v.into_iter().map(|l| self.prefix(rank, l)).collect()
    }

    fn prefix(&self, rank: u32, line: String) -> String {
        match self.style {
            Style::Plain => line,
            Style::Slurm => format!("{rank}: {line}"),
            Style::Mpi => format!("[1,{rank}]<stdout>:{line}"),
            Style::Torchrun => format!("[default{}]:{line}", rank % self.gpus),
            Style::Timestamped => format!("2024-05-01T12:34:56.{:03}Z {line}", rank),
        }
    }

    /// Every rank's lines, interleaved round-robin.
    fn interleaved(&self) -> String {
        let per: Vec<Vec<String>> = (0..self.nodes * self.gpus)
            .map(|r| self.rank_lines(r))
            .collect();
        let longest = per.iter().map(Vec::len).max().unwrap_or(0);
        let mut out = String::new();
        for i in 0..longest {
            for lines in &per {
                if let Some(l) = lines.get(i) {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }
}

fn run(text: &str, instance_type: Option<&str>) -> Analysis {
    analyze(
        "job.log",
        text.as_bytes(),
        Options {
            instance_type: instance_type.map(str::to_string),
        },
    )
}

fn rules(a: &Analysis) -> Vec<&str> {
    a.findings.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn healthy_interleaved_job_in_every_prefix_style() {
    for style in [Style::Plain, Style::Slurm, Style::Mpi, Style::Timestamped] {
        let job = Job {
            style,
            ..Job::default()
        };
        let a = run(&job.interleaved(), None);
        assert!(a.findings.is_empty(), "{:#?}", a.findings);
        assert_eq!(a.verdict.status, Status::Healthy, "{}", a.verdict.cause);
        assert_eq!(a.exit_code(), 0);
        assert_eq!(a.ranks.len(), 16);
        let r = &a.ranks[11];
        assert_eq!(r.rank, Some(11));
        assert_eq!(r.host.as_deref(), Some("ip-10-0-1-11"));
        assert_eq!(r.nccl.as_deref(), Some("2.18.5"));
        assert_eq!(r.aws_ofi_nccl.as_deref(), Some("1.9.1-aws"));
        assert_eq!(r.libfabric.as_deref(), Some("1.22"));
        assert_eq!(r.cuda_driver.as_deref(), Some("12040"));
        assert_eq!(r.cuda_runtime.as_deref(), Some("12020"));
        assert_eq!(r.transport, Some("OFI"));
        assert_eq!(r.provider.as_deref(), Some("efa"));
        assert_eq!(r.nics, Some(4));
        assert_eq!(r.gdr, Some(true));
        assert!(r.init_complete);
        assert!(
            a.verdict.cause.contains("16 ranks on 2 hosts"),
            "{}",
            a.verdict.cause
        );
    }
}

#[test]
fn torchrun_local_ranks_in_one_file_per_node() {
    // torchrun's `[default3]:` names a local rank: one file per node keeps them apart.
    let job = Job {
        style: Style::Torchrun,
        ..Job::default()
    };
    let text = job.interleaved();
    let (node0, node1): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|l| l.contains("ip-10-0-1-10:"));
    let mut an = Analyzer::new(Options::default());
    an.add("node0.log", node0.join("\n").as_bytes()).unwrap();
    an.add("node1.log", node1.join("\n").as_bytes()).unwrap();
    let a = an.finish();
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.ranks.len(), 16);
    assert_eq!(a.ranks[8].file, "node1.log");
    assert_eq!(a.ranks[8].launcher.as_deref(), Some("[default0]"));
    assert_eq!(a.inputs.len(), 2);
}

#[test]
fn one_rank_on_sockets_among_efa_ranks() {
    let job = Job {
        socket: &[11],
        ..Job::default()
    };
    let a = run(&job.interleaved(), None);
    assert_eq!(rules(&a), vec!["NCCL001"], "{:#?}", a.findings);
    let f = &a.findings[0];
    assert!(f.message.contains("rank 11"), "{}", f.message);
    assert!(
        f.message.contains("libnccl-net.so) was not found"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("job.log:"),
        "evidence lines: {}",
        f.message
    );
    let loc = f.subject.location.as_ref().unwrap();
    assert_eq!(loc.file, "job.log");
    // Mixed networks cannot connect: failed, not merely slow.
    assert_eq!(a.verdict.status, Status::Failed);
    assert_eq!(a.verdict.rule.as_deref(), Some("NCCL001"));
    assert_eq!(a.exit_code(), 1);
    assert_eq!(a.ranks[11].transport, Some("Socket"));
}

#[test]
fn every_rank_on_sockets_is_degraded() {
    let job = Job {
        socket: &[0, 1, 2, 3],
        nodes: 1,
        gpus: 4,
        ..Job::default()
    };
    // Nothing tells EFA was meant: no finding without an instance type.
    let a = run(&job.interleaved(), None);
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    let a = run(&job.interleaved(), Some("p4d.24xlarge"));
    assert_eq!(rules(&a), vec!["NCCL001"]);
    assert_eq!(a.verdict.status, Status::Degraded);
    // A non-EFA type expects sockets.
    let a = run(&job.interleaved(), Some("g5.2xlarge"));
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn version_skew_between_nodes() {
    let job = Job {
        nccl: |r| if r >= 8 { "2.19.3" } else { "2.18.5" },
        ..Job::default()
    };
    let a = run(&job.interleaved(), None);
    assert_eq!(rules(&a), vec!["NCCL010"]);
    let m = &a.findings[0].message;
    assert!(
        m.contains("2.18.5 on ranks 0-7") && m.contains("2.19.3 on ranks 8-15"),
        "{m}"
    );
    assert_eq!(a.findings[0].severity, Severity::Warning);
    assert_eq!(a.verdict.status, Status::Degraded);
}

#[test]
fn watchdog_names_the_rank_that_did_not_arrive() {
    let job = Job {
        extra: |r| {
            if r == 5 {
                return Vec::new();
            }
            vec![format!("[rank{r}]:[E ProcessGroupNCCL.cpp:563] [Rank {r}] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1823, OpType=ALLREDUCE, NumelIn=1048576, NumelOut=1048576, Timeout(ms)=600000) ran for 600312 milliseconds before timing out.")]
        },
        ..Job::default()
    };
    let a = run(&job.interleaved(), None);
    assert_eq!(rules(&a), vec!["NCCL007"]);
    let f = &a.findings[0];
    assert!(
        f.message
            .contains("15 ranks timed out in ALLREDUCE (SeqNum 1823)"),
        "{}",
        f.message
    );
    assert!(
        f.message
            .contains("Rank 5 is in the log but reported no timeout"),
        "{}",
        f.message
    );
    assert_eq!(f.subject.resource.as_deref(), Some("suspects: ranks 5"));
    assert_eq!(a.verdict.rule.as_deref(), Some("NCCL007"));
}

#[test]
fn cuda_error_outranks_the_network_errors_it_causes() {
    let job = Job {
        extra: |r| {
            match r {
            3 => vec![format!("ip-10-0-1-10:1003:2003 [3] enqueue.cc:1389 NCCL WARN Cuda failure 'an illegal memory access was encountered'")],
            0..=2 => vec![format!("ip-10-0-1-10:100{r}:200{r} [{r}] misc/socket.cc:538 NCCL WARN socketProgress: Connection closed by remote peer ip-10-0-1-10<54022>")],
            _ => Vec::new(),
        }
        },
        ..Job::default()
    };
    let a = run(&job.interleaved(), None);
    let mut got = rules(&a);
    got.sort_unstable();
    assert_eq!(got, vec!["NCCL008", "NCCL009"]);
    assert_eq!(a.verdict.status, Status::Failed);
    assert_eq!(a.verdict.rule.as_deref(), Some("NCCL009"));
    assert!(a.verdict.cause.contains("rank 3"), "{}", a.verdict.cause);
    assert!(a
        .verdict
        .location
        .as_deref()
        .is_some_and(|l| l.starts_with("job.log:")));
}

#[test]
fn echoed_environment_unless_the_plugin_set_it() {
    let job = Job {
        extra: |r| {
            vec![format!(
                "ip-10-0-1-{}:{}:{} [0] NCCL INFO NCCL_PROTO set by environment to simple",
                10 + r / 8,
                1000 + r,
                2000 + r
            )]
        },
        ..Job::default()
    };
    let a = run(&job.interleaved(), None);
    assert_eq!(rules(&a), vec!["NCCL011"]);
    assert!(
        a.findings[0].message.contains("NCCL_PROTO=simple"),
        "{}",
        a.findings[0].message
    );
    let job = Job {
        extra: |r| {
            let p = format!(
                "ip-10-0-1-{}:{}:{} [0] NCCL INFO",
                10 + r / 8,
                1000 + r,
                2000 + r
            );
            vec![
                format!("{p} NET/OFI Setting NCCL_PROTO to \"simple\""),
                format!("{p} NCCL_PROTO set by environment to simple"),
            ]
        },
        ..Job::default()
    };
    let a = run(&job.interleaved(), None);
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    // An env dump in the job script.
    let a = run(
        &format!(
            "{}FI_EFA_USE_DEVICE_RDMA=1\nRDMAV_FORK_SAFE=1\n",
            Job::default().interleaved()
        ),
        None,
    );
    assert_eq!(rules(&a), vec!["NCCL011", "NCCL011"]);
    // NCCL's real variable (aws-ofi-nccl#65 echoes it on p4d) and the guidance's spelling,
    // which NCCL never reads.
    let a = run(
        &format!(
            "{}ip-10-0-1-10:1000:2000 [0] NCCL INFO NCCL_MIN_NCHANNELS set by environment to 4.\nNCCL_MIN_CHANNELS=32\n",
            Job::default().interleaved()
        ),
        None,
    );
    assert_eq!(rules(&a), vec!["NCCL011", "NCCL011"]);
    assert!(
        a.findings.iter().any(|f| f
            .message
            .contains("NCCL_MIN_NCHANNELS should be left at its default")),
        "{:#?}",
        a.findings
    );
    assert!(
        a.findings
            .iter()
            .any(|f| f.message.contains("not a variable NCCL reads")),
        "{:#?}",
        a.findings
    );
}

#[test]
fn missing_nics_against_the_catalog_and_other_ranks() {
    let a = run(
        &Job {
            nics: 1,
            ..Job::default()
        }
        .interleaved(),
        None,
    );
    assert_eq!(rules(&a), vec!["NCCL003"]);
    assert!(
        a.findings[0].message.contains("p4d.24xlarge has 4"),
        "{}",
        a.findings[0].message
    );
    let mut text = Job::default().interleaved();
    text = text.replacen("ip-10-0-1-11:1009:2009 [1] NCCL INFO NET/OFI Selected provider is efa, fabric is efa (found 4 nics)", "ip-10-0-1-11:1009:2009 [1] NCCL INFO NET/OFI Selected provider is efa, fabric is efa (found 2 nics)", 1);
    let a = run(&text, None);
    assert_eq!(rules(&a), vec!["NCCL003"]);
    assert!(
        a.findings[0].message.contains("rank 9"),
        "{}",
        a.findings[0].message
    );
}

#[test]
fn gdr_off_on_a_gdr_type() {
    let text = Job::default().interleaved().replace("/GDRDMA", "");
    let a = run(&text, None);
    assert_eq!(rules(&a), vec!["NCCL004"]);
    assert_eq!(a.ranks[0].gdr, Some(false));
    // g5.48xlarge has no GPUDirect RDMA: nothing to say.
    let a = run(&text.replace("p4d.24xlarge", "g5.48xlarge"), None);
    assert!(!rules(&a).contains(&"NCCL004"), "{:#?}", a.findings);
}

#[test]
fn bootstrap_retries_only_count_without_init() {
    let retry = "ip-10-0-1-10:1000:2000 [0] NCCL INFO socketStartConnect: connect to 10.0.1.11<43185> returned Connection refused, retrying (3/34) after sleep for 300 msec\n";
    let a = run(&format!("{retry}{}", Job::default().interleaved()), None);
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    let a = run(
        &format!(
            "ip-10-0-1-10:1000:2000 [0] NCCL INFO Bootstrap : Using docker0:172.17.0.1<0>\n{retry}"
        ),
        None,
    );
    assert_eq!(rules(&a), vec!["NCCL006"]);
    assert!(a.findings[0].message.contains("refused"));
    assert!(
        a.findings[0].message.contains("docker0"),
        "{}",
        a.findings[0].message
    );
    let a = run("ip-10-0-1-10:1000:2000 [0] misc/socket.cc:484 NCCL WARN socketStartConnect: exceeded timeouts (20000)\n", None);
    assert_eq!(rules(&a), vec!["NCCL006"]);
    assert_eq!(a.verdict.status, Status::Failed);
}

#[test]
fn efa_unreachable_is_the_cause_before_the_survivors_errors() {
    let text = format!(
        "{}ip-10-0-1-10:1000:2100 [0] nccl_net_ofi_rdma.c:1410 NCCL WARN NET/OFI Request 0x7f2c completed with error. RC: 15. Error: Unreachable remote (never received a response). Completed length: 0\n\
         ip-10-0-1-11:1008:2108 [0] misc/socket.cc:538 NCCL WARN socketProgress: Connection closed by remote peer ip-10-0-1-10<54022>\n",
        Job::default().interleaved()
    );
    let a = run(&text, Some("p4d.24xlarge"));
    assert_eq!(
        a.verdict.rule.as_deref(),
        Some("NCCL005"),
        "{}",
        a.verdict.cause
    );
    assert!(a.verdict.cause.contains("security group"));
}

#[test]
fn nccl_tests_wrong_results_and_low_busbw() {
    let table = |busbw: &str, wrong: &str| {
        format!(
            "#  Rank  0 Group  0 Pid  17032 on ip-172-31-2-10 device  0 [0x10] NVIDIA H100 80GB HBM3\n\
             #  Rank  8 Group  0 Pid  22011 on ip-172-31-2-11 device  0 [0x10] NVIDIA H100 80GB HBM3\n\
             #       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n\
             #        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)\n\
             \x20  134217728      33554432     float     sum      -1   1020.1  131.58  {busbw}      {wrong}   1019.5  131.65  {busbw}      0\n\
             # Out of bounds values : {wrong} OK\n\
             # Avg bus bandwidth    : 98.1\n"
        )
    };
    let a = run(&table("246.70", "0"), Some("p5.48xlarge"));
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.verdict.status, Status::Healthy);
    assert_eq!(a.nccl_tests.len(), 1);
    assert_eq!(a.nccl_tests[0].large_busbw, Some(246.70));
    let a = run(&table("37.06", "0"), Some("p5.48xlarge"));
    assert_eq!(rules(&a), vec!["NCCL013"]);
    // Without an instance type there is nothing to compare with.
    let a = run(&table("37.06", "0"), None);
    assert!(a.findings.is_empty());
    // The same figure from alltoall_perf is what a healthy p5 fabric gives: not low.
    let alltoall = format!(
        "# Collective test starting: alltoall_perf\n{}",
        table("37.06", "0").replace(" sum ", " none")
    );
    let a = run(&alltoall, Some("p5.48xlarge"));
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.nccl_tests[0].large_busbw, Some(37.06));
    // Unnamed and not a reduction (all_gather or alltoall): not judged.
    let a = run(
        &table("37.06", "0").replace(" sum ", " none"),
        Some("p5.48xlarge"),
    );
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    // Named all_gather_perf: judged.
    let a = run(
        &format!(
            "mpirun -np 16 /opt/nccl-tests/build/all_gather_perf -b 8 -e 1G\n{}",
            table("37.06", "0").replace(" sum ", " none")
        ),
        Some("p5.48xlarge"),
    );
    assert_eq!(rules(&a), vec!["NCCL013"]);
    let a = run(&table("246.70", "3"), None);
    assert_eq!(rules(&a), vec!["NCCL012"]);
    assert_eq!(a.verdict.status, Status::Failed);
}

#[test]
fn harmless_lines_stay_quiet() {
    let text = "\
ip-10-0-1-10:1000:2000 [0] NCCL INFO NET/Plugin: Failed to find ncclNetPlugin_v9 symbol.
ip-10-0-1-10:1000:2000 [0] NCCL INFO NET/Plugin: Failed to find ncclNetPlugin_v8 symbol.
ip-10-0-1-10:1000:2000 [0] NCCL INFO NET/Plugin: Loaded net plugin Libfabric (v7)
ip-10-0-1-10:1000:2000 [0] NCCL INFO NET/Plugin: Failed to find ncclCollNetPlugin_v7 symbol.
ip-10-0-1-10:1000:2000 [0] NCCL INFO NET/Plugin: Failed to find ncclCollNetPlugin symbol (>= v5). ncclCollNetPlugin symbols v4 and lower are not supported.
ip-10-0-1-10:1000:2000 [0] NCCL INFO NVLS multicast support is not available on dev 0
ip-10-0-1-10:1000:2000 [0] NCCL INFO NET/OFI Setting FI_OPT_EFA_SENDRECV_IN_ORDER_ALIGNED_128_BYTES not supported.
libfabric:1000:1732779731::efa:ep_ctrl:efa_rdm_ep_set_shared_memory_permitted():1410<warn> FI_OPT_SHARED_MEMORY_PERMITTED set to false
ip-10-0-1-10:1000:2000 [0] NCCL INFO NCCL_NET_FORCE_FLUSH set by environment to 0.
ip-10-0-1-10:1000:2000 [0] NCCL INFO Using network Libfabric
";
    let a = run(text, Some("p5.48xlarge"));
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.verdict.status, Status::Healthy);
}

#[test]
fn output_is_deterministic() {
    let job = Job {
        socket: &[3, 12],
        nccl: |r| if r % 5 == 0 { "2.19.3" } else { "2.18.5" },
        ..Job::default()
    };
    let text = job.interleaved();
    let a = run(&text, None);
    let b = run(&text, None);
    assert_eq!(a.findings, b.findings);
    assert_eq!(a.ranks, b.ranks);
    assert_eq!(a.verdict, b.verdict);
    let mut sorted = a.findings.clone();
    efactl_core::finding::sort_findings(&mut sorted);
    assert_eq!(sorted, a.findings);
}

// ---- bad input ----

/// Deterministic pseudo-random bytes (xorshift): no dependency for a test.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn binary_garbage_is_no_nccl_output() {
    let a = analyze("core.bin", noise(1 << 20, 7).as_slice(), Options::default());
    assert_eq!(rules(&a), vec!["NCCL014"]);
    let f = &a.findings[0];
    assert_eq!((f.severity, f.category), (Severity::Error, Category::Input));
    assert!(f.message.contains("binary"), "{}", f.message);
    assert_eq!(a.verdict.status, Status::Unknown);
    assert_eq!(a.exit_code(), 2);
}

#[test]
fn empty_input() {
    let a = analyze("empty.log", &b""[..], Options::default());
    assert_eq!(rules(&a), vec!["NCCL014"]);
    assert!(a.findings[0].message.contains("is empty"));
    assert_eq!(a.exit_code(), 2);
}

#[test]
fn an_empty_rank_file_beside_good_ones_is_a_warning() {
    let mut an = Analyzer::new(Options::default());
    an.add("good.log", Job::default().interleaved().as_bytes())
        .unwrap();
    an.add("empty.log", &b""[..]).unwrap();
    an.add_unreadable("missing.log", "no such file");
    let a = an.finish();
    let sev: Vec<(&str, Severity)> = a
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.severity))
        .collect();
    assert_eq!(
        sev,
        vec![("NCCL014", Severity::Error), ("NCCL014", Severity::Warning)]
    );
    assert_eq!(a.exit_code(), 2);
}

#[test]
fn invalid_utf8_is_read_lossily() {
    let mut bytes = b"\xff\xfe garbage \xc3\x28\n".to_vec();
    bytes.extend_from_slice(
        b"ip-10-0-1-10:1000:2000 [0] NCCL INFO NCCL version 2.18.5+cuda12.2 \xe2\x28\xa1\n",
    );
    bytes.extend_from_slice(b"ip-10-0-1-10:1000:2000 [0] misc/socket.cc:484 NCCL WARN socketStartConnect: exceeded timeouts (20000) \xff\n");
    let a = analyze("mixed.log", bytes.as_slice(), Options::default());
    assert_eq!(rules(&a), vec!["NCCL006"]);
    assert_eq!(a.ranks[0].nccl.as_deref(), Some("2.18.5"));
    assert_eq!(a.inputs[0].invalid_utf8_lines, 3);
}

#[test]
fn a_20_mb_line_is_capped_and_skipped() {
    let mut bytes = vec![b'x'; 20 << 20];
    bytes.push(b'\n');
    bytes.extend_from_slice(b"ip-10-0-1-10:1000:2000 [0] misc/socket.cc:484 NCCL WARN socketStartConnect: exceeded timeouts (20000)\n");
    let mut an = Analyzer::new(Options::default());
    an.add("long.log", bytes.as_slice()).unwrap();
    assert!(an.line_buffer_capacity <= reader::MAX_LINE);
    let a = an.finish();
    assert_eq!(a.inputs[0].truncated_lines, 1);
    assert_eq!(a.inputs[0].lines, 2);
    assert_eq!(rules(&a), vec!["NCCL006"]);
    // The evidence line number counts the long line.
    assert_eq!(
        a.findings[0]
            .subject
            .location
            .as_ref()
            .map(|l| l.start.line),
        Some(2)
    );
}

#[test]
fn gzip_input_and_a_truncated_gzip() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(
        Job {
            socket: &[4],
            ..Job::default()
        }
        .interleaved()
        .as_bytes(),
    )
    .unwrap();
    let bytes = gz.finish().unwrap();
    let a = analyze("job.log.gz", bytes.as_slice(), Options::default());
    assert!(a.inputs[0].gzip);
    assert_eq!(rules(&a), vec!["NCCL001"]);
    let mut an = Analyzer::new(Options::default());
    let err = an.add("cut.log.gz", &bytes[..bytes.len() * 2 / 3]);
    assert!(err.is_err());
    let a = an.finish();
    let input = &a.inputs[0];
    assert!(
        input
            .error
            .as_deref()
            .is_some_and(|e| e.contains("truncated")),
        "{input:?}"
    );
    assert!(input.lines > 100);
    assert!(!a.ranks.is_empty());
}

/// A reader that makes a long log on the fly: 64 ranks' lines, interleaved, with an
/// occasional 1 MiB line without a newline in it, until `limit` bytes.
struct Generated {
    limit: u64,
    made: u64,
    pending: Vec<u8>,
    pos: usize,
    i: u64,
}

impl Generated {
    fn new(limit: u64) -> Self {
        Generated {
            limit,
            made: 0,
            pending: Vec::new(),
            pos: 0,
            i: 0,
        }
    }

    fn refill(&mut self) {
        self.pending.clear();
        self.pos = 0;
        self.i += 1;
        if self.i % 50 == 0 {
            self.pending.resize(1 << 20, b'#');
            self.pending.push(b'\n');
            return;
        }
        let mut s = String::new();
        for r in 0..64u32 {
            let _ = writeln!(
                s,
                "ip-10-0-2-{}:{}:{} [{}] NCCL INFO Channel {:02}/0 : {r}[{}] -> {}[{}] [send] via NET/Libfabric/0/GDRDMA",
                r / 8,
                5000 + r,
                6000 + r,
                r % 8,
                self.i % 32,
                r % 8,
                (r + 8) % 64,
                r % 8
            );
        }
        // A new, never-repeated process every time: state must stay capped anyway.
        let _ = writeln!(
            s,
            "hostile-{}:{}:1 [0] NCCL INFO NCCL_FOO_{} set by environment to {}",
            self.i, self.i, self.i, self.i
        );
        let _ = writeln!(s, "ip-10-0-2-0:5000:6000 [0] misc/socket.cc:538 NCCL WARN socketProgress: Connection closed by remote peer x<{}>", self.i);
        self.pending.extend_from_slice(s.as_bytes());
    }
}

impl std::io::Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.made >= self.limit {
            return Ok(0);
        }
        if self.pos >= self.pending.len() {
            self.refill();
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        self.made += n as u64;
        Ok(n)
    }
}

#[test]
fn a_200_mb_stream_keeps_every_structure_within_its_cap() {
    let limit = 200u64 << 20;
    let mut an = Analyzer::new(Options::default());
    an.add("generated", Generated::new(limit)).unwrap();
    assert!(
        an.line_buffer_capacity <= reader::MAX_LINE,
        "{}",
        an.line_buffer_capacity
    );
    assert!(an.ranks.len() <= MAX_RANKS + 1, "{}", an.ranks.len());
    assert!(an.by_process.len() <= MAX_RANKS);
    assert!(an.env.len() <= MAX_ENV);
    assert!(an.watchdogs.len() <= MAX_RANKS);
    for e in an.evidence.values() {
        assert!(e.at.len() <= MAX_EVIDENCE);
        assert!(e.first.chars().count() <= MAX_EXCERPT + 1);
        assert!(e.ranks.len() <= MAX_RANKS + 1);
    }
    for r in &an.ranks {
        assert!(r.plugin_env.len() <= 32);
    }
    assert!(an.tests.tables.len() <= nccl_tests::MAX_TABLES);
    let input = an.inputs[0].clone();
    assert!(input.bytes >= limit - (2 << 20), "{input:?}");
    assert!(input.truncated_lines > 0);
    let a = an.finish();
    // Hundreds of thousands of repeats become one finding with a few evidence lines.
    let remote: Vec<&Finding> = a.findings.iter().filter(|f| f.rule == "NCCL008").collect();
    assert_eq!(remote.len(), 1);
    assert!(
        remote[0].message.contains(" more]"),
        "{}",
        remote[0].message
    );
}

#[test]
fn the_line_reader_buffer_stays_at_its_cap_on_a_generated_stream() {
    let (stream, gz) = reader::decode(Generated::new(50 << 20)).unwrap();
    assert!(!gz);
    let mut lines = reader::LineReader::new(stream);
    let mut longest = 0;
    while let Some(l) = lines.next_line().unwrap() {
        longest = longest.max(l.bytes.len());
    }
    assert_eq!(longest, reader::MAX_LINE);
    assert!(lines.buffer_capacity() <= reader::MAX_LINE);
    assert!(lines.truncated_lines > 0);
}
