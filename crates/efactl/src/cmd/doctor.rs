use crate::output::{print, ColorChoice, Format};
use efactl_doctor::doctor::{self, launch, Config, Stages};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub launch: Option<Sub>,
    /// This rank (else from SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK, RANK, JOB_COMPLETION_INDEX).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Number of ranks (else from the launcher's environment).
    #[arg(long)]
    pub size: Option<usize>,
    /// Rank 0's coordinator, HOST[:PORT] (else the first Slurm node, or MASTER_ADDR).
    #[arg(long)]
    pub coordinator: Option<String>,
    /// Coordinator port when --coordinator names none.
    #[arg(long)]
    pub port: Option<u16>,
    /// Run N ranks on this host (a demo, and the test harness).
    #[arg(long)]
    pub local: Option<usize>,
    /// The data port every rank listens on (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub data_port: u16,
    /// Address the data listener binds to.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Extra TCP ports to probe between every pair (e.g. 22,29500).
    #[arg(long, value_delimiter = ',')]
    pub ports: Vec<u16>,
    /// Stages to run: node, connectivity, latency, bandwidth, allreduce (default: all).
    #[arg(long, value_delimiter = ',')]
    pub stages: Vec<String>,
    /// Seconds rank 0 waits for every rank to arrive.
    #[arg(long, default_value_t = 60.0)]
    pub rendezvous: f64,
    /// Timeout of one connectivity probe, milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub probe_timeout: u64,
    /// Concurrent probes per rank.
    #[arg(long, default_value_t = 64)]
    pub parallel: usize,
    /// TCP streams per bandwidth test.
    #[arg(long, default_value_t = 4)]
    pub streams: usize,
    /// Seconds per bandwidth direction.
    #[arg(long, default_value_t = 2.0)]
    pub duration: f64,
    /// At most this many pairing rounds (0: all N-1).
    #[arg(long, default_value_t = 0)]
    pub pairs: usize,
    /// All-reduce sizes (bytes; K, M, G suffixes).
    #[arg(long, value_delimiter = ',', value_parser = parse_size, default_value = "1M,16M,64M")]
    pub sizes: Vec<usize>,
    /// Timed all-reduce iterations per size.
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// All-reduce pipelining unit (bytes; K, M suffixes).
    #[arg(long, value_parser = parse_size, default_value = "256K")]
    pub chunk: usize,
    /// Read /sys, /proc and /dev under this directory (fixture trees).
    #[arg(long, default_value = "/")]
    pub sysroot: PathBuf,
    /// Instance type (else asked from IMDSv2).
    #[arg(long)]
    pub instance_type: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write heatmaps of connectivity, latency and bandwidth to this SVG file: a new file, or
    /// one an earlier `--plot` wrote (anything else is refused before the run, unless
    /// --force-plot).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Replace --plot's file even when efactl did not write it.
    #[arg(long, requires = "plot")]
    pub force_plot: bool,
    /// With --local: write "rank pid" lines here as ranks start (for fault-injection tests).
    #[arg(long, hide = true)]
    pub pids_to: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum Sub {
    /// Print a ready-to-use sbatch script, mpirun line, torchrun line or Kubernetes Job.
    Launch(LaunchArgs),
}

#[derive(clap::Args)]
pub struct LaunchArgs {
    #[arg(value_enum)]
    pub engine: Engine,
    /// Number of nodes.
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Container image holding efactl (Kubernetes).
    #[arg(long, default_value = "REGISTRY/efactl:latest")]
    pub image: String,
    /// EFA interfaces to request per pod (Kubernetes).
    #[arg(long, default_value_t = 1)]
    pub efa: usize,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Engine {
    Slurm,
    Mpirun,
    Torchrun,
    K8s,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1usize << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: usize = num.parse().map_err(|_| format!("`{s}` is not a size"))?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))?;
    if !(4..=4 << 30).contains(&bytes) {
        return Err(format!("`{s}`: sizes run from 4 bytes to 4 GiB"));
    }
    Ok(bytes / 4 * 4)
}

pub fn run(args: Args, color: ColorChoice) -> anyhow::Result<u8> {
    if let Some(Sub::Launch(l)) = &args.launch {
        print(&launch_text(l))?;
        return Ok(0);
    }
    if let Some(p) = &args.plot {
        // Before the run, not after: a long run must not end in a refusal.
        if let Err(e) = plot_target_ok(p, args.force_plot) {
            eprintln!("efactl doctor: {e}");
            return Ok(crate::output::exit::USAGE);
        }
    }
    let stages = if args.stages.is_empty() {
        Stages::all()
    } else {
        Stages::parse(&args.stages).map_err(anyhow::Error::msg)?
    };
    let env: HashMap<String, String> = std::env::vars().collect();
    if let Some(n) = args.local {
        return run_local(&args, stages, n, color);
    }
    let identity = match launch::detect(
        &env,
        args.rank,
        args.size,
        args.coordinator.as_deref(),
        args.port,
    ) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("efactl doctor: {e}");
            return Ok(2);
        }
    };
    let cfg = config(&args, stages, identity, &env);
    finish(doctor::run(cfg), &args, color)
}

fn config(
    args: &Args,
    stages: Stages,
    identity: launch::Identity,
    env: &HashMap<String, String>,
) -> Config {
    let mut cfg = Config::new(identity);
    cfg.data_port = args.data_port;
    cfg.bind = args.bind;
    cfg.ports = args.ports.clone();
    cfg.stages = stages;
    cfg.rendezvous = Duration::from_secs_f64(args.rendezvous.max(0.1));
    cfg.probe_timeout = Duration::from_millis(args.probe_timeout.max(1));
    cfg.probe_parallel = args.parallel.max(1);
    cfg.bw_streams = args.streams.max(1);
    cfg.bw_duration = Duration::from_secs_f64(args.duration.max(0.05));
    cfg.max_rounds = args.pairs;
    cfg.allreduce_sizes = args.sizes.clone();
    cfg.allreduce_iters = args.iters.max(1);
    cfg.chunk = args.chunk;
    cfg.sysroot = args.sysroot.clone();
    cfg.instance_type = args.instance_type.clone();
    cfg.use_imds = args.instance_type.is_none();
    cfg.progress = std::io::stderr().is_terminal();
    let mut e: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    e.sort();
    cfg.env = e;
    cfg
}

fn finish(
    result: Result<Option<doctor::Report>, doctor::DoctorError>,
    args: &Args,
    color: ColorChoice,
) -> anyhow::Result<u8> {
    match result {
        Ok(Some(report)) => {
            if let Some(p) = &args.plot {
                let svg = format!("{PLOT_MARKER}\n{}", doctor::plot::svg(&report));
                plot_target_ok(p, args.force_plot).map_err(anyhow::Error::msg)?;
                super::init::write_new(p, svg.as_bytes(), true).map_err(anyhow::Error::msg)?;
            }
            let text = match args.format {
                Format::Human => report.to_human(color.enabled_for_stdout()),
                Format::Json => report.to_json(),
            };
            print(&text)?;
            Ok(report.exit_code())
        }
        // Other ranks: rank 0 prints the report.
        Ok(None) => Ok(0),
        Err(e) => {
            eprintln!("efactl doctor: {e}");
            Ok(2)
        }
    }
}

/// The first line of every plot efactl writes: what lets a later `--plot` replace it.
const PLOT_MARKER: &str = "<!-- efactl doctor --plot -->";

/// `--plot FILE` may be a new file or one an earlier `--plot` wrote; never a directory or a
/// symlink, and another file only with `--force-plot`.
fn plot_target_ok(p: &std::path::Path, force: bool) -> Result<(), String> {
    match std::fs::symlink_metadata(p) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => Err(format!("--plot {} is a directory", p.display())),
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "--plot {} is a symlink; efactl does not write through it",
            p.display()
        )),
        Ok(_) if force => Ok(()),
        Ok(_) => {
            let mut head = [0u8; PLOT_MARKER.len()];
            let ours = std::fs::File::open(p)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && head == PLOT_MARKER.as_bytes();
            if ours {
                Ok(())
            } else {
                Err(format!(
                    "--plot {} exists and efactl did not write it; name a new file, or pass --force-plot to replace it",
                    p.display()
                ))
            }
        }
    }
}

/// `--local N`: this process is rank 0; ranks 1..N run as child processes on loopback.
fn run_local(args: &Args, stages: Stages, n: usize, color: ColorChoice) -> anyhow::Result<u8> {
    if n == 0 || n > 1024 {
        anyhow::bail!("--local takes 1 to 1024 ranks");
    }
    let listener = efactl_doctor::doctor::data::listen(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        args.port.unwrap_or(0),
    )))?;
    let port = listener.local_addr()?.port();
    let exe = std::env::current_exe()?;
    let mut pids = String::new();
    let mut children: Vec<Child> = Vec::new();
    for r in 1..n {
        let mut c = Command::new(&exe);
        c.arg("doctor")
            .args(["--rank", &r.to_string(), "--size", &n.to_string()])
            .args(["--coordinator", &format!("127.0.0.1:{port}")])
            .args(["--bind", "127.0.0.1", "--data-port", "0"])
            .args(["--rendezvous", &args.rendezvous.to_string()])
            .args(["--sysroot", &args.sysroot.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(t) = &args.instance_type {
            c.args(["--instance-type", t]);
        }
        if !args.stages.is_empty() {
            c.args(["--stages", &args.stages.join(",")]);
        }
        // Rank 0 holds the stage parameters; children only need what changes their own work.
        match c.spawn() {
            Ok(child) => {
                pids.push_str(&format!("{r} {}\n", child.id()));
                children.push(child);
            }
            Err(e) => eprintln!("efactl doctor: cannot start rank {r}: {e}"),
        }
    }
    if let Some(p) = &args.pids_to {
        super::init::write_new(p, pids.as_bytes(), false).map_err(anyhow::Error::msg)?;
    }
    if std::io::stderr().is_terminal() {
        eprintln!("efactl doctor: {n} local ranks started, coordinator 127.0.0.1:{port}");
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    let identity = launch::Identity {
        rank: 0,
        size: n,
        coordinator: format!("127.0.0.1:{port}"),
        engine: "local",
    };
    let mut a = config(args, stages, identity, &env);
    a.bind = "127.0.0.1".parse()?;
    a.local = true;
    let result = doctor::run_with(a, Some(listener));
    // Children end once told "done"; a stuck one is killed after a grace period.
    let grace = Instant::now() + Duration::from_secs(10);
    for mut c in children {
        loop {
            match c.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < grace => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
            }
        }
    }
    finish(result, args, color)
}

fn launch_text(l: &LaunchArgs) -> String {
    let n = l.nodes.max(1);
    match l.engine {
        Engine::Slurm => format!(
            "#!/bin/bash
# efactl doctor on {n} nodes, one rank per node. Submit with: sbatch doctor.sbatch
#SBATCH --job-name=efactl-doctor
#SBATCH --nodes={n}
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
#SBATCH --time=00:15:00
#SBATCH --output=efactl-doctor-%j.out
set -euo pipefail
# Rank and size come from SLURM_PROCID / SLURM_NTASKS; rank 0 is the first node of the job.
srun --ntasks-per-node=1 efactl doctor --ports 22 --plot efactl-doctor-$SLURM_JOB_ID.svg
"
        ),
        Engine::Mpirun => format!(
            "# efactl doctor on {n} nodes with Open MPI: one rank per node of ./hostfile.
# Rank and size come from OMPI_COMM_WORLD_*; rank 0 is the first host of the file.
mpirun -np {n} --hostfile hostfile --map-by ppr:1:node \\
  -x PATH -x LD_LIBRARY_PATH \\
  efactl doctor --coordinator \"$(head -n1 hostfile | cut -d' ' -f1)\" --ports 22
"
        ),
        Engine::Torchrun => format!(
            "# efactl doctor on {n} nodes with torchrun (run this on every node).
# torchrun's store holds MASTER_PORT; the doctor's coordinator takes the next port.
torchrun --nnodes {n} --nproc-per-node 1 \\
  --rdzv-backend static --master-addr \"$MASTER_ADDR\" --master-port 29500 --node-rank \"$NODE_RANK\" \\
  --no-python efactl doctor --ports 29500
"
        ),
        Engine::K8s => format!(
            "# efactl doctor as a Kubernetes Indexed Job: {n} pods, one per node, EFA devices requested.
apiVersion: v1
kind: Service
metadata:
  name: efactl-doctor
spec:
  clusterIP: None
  selector:
    job-name: efactl-doctor
---
apiVersion: batch/v1
kind: Job
metadata:
  name: efactl-doctor
spec:
  completions: {n}
  parallelism: {n}
  completionMode: Indexed
  backoffLimit: 0
  activeDeadlineSeconds: 900
  template:
    spec:
      subdomain: efactl-doctor
      restartPolicy: Never
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector:
                matchLabels:
                  job-name: efactl-doctor
              topologyKey: kubernetes.io/hostname
      containers:
        - name: doctor
          image: {image}
          command: [\"efactl\", \"doctor\", \"--format\", \"json\"]
          env:
            - name: EFACTL_DOCTOR_SIZE
              value: \"{n}\"
            - name: EFACTL_DOCTOR_COORDINATOR
              value: efactl-doctor-0.efactl-doctor
          securityContext:
            capabilities:
              add: [\"IPC_LOCK\"]
          resources:
            limits:
              vpc.amazonaws.com/efa: {efa}
              hugepages-2Mi: 5120Mi
              memory: 8Gi
            requests:
              vpc.amazonaws.com/efa: {efa}
              hugepages-2Mi: 5120Mi
              memory: 8Gi
",
            image = l.image,
            efa = l.efa
        ),
    }
}
