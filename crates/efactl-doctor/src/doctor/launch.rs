//! Where a rank learns who it is: flags, or the environment of the engine that started it
//! (Slurm, Open MPI, MPICH/PMI, torchrun, Kubernetes Indexed Jobs / PyTorchJob).

use std::collections::HashMap;

/// Default port of the doctor's coordinator when the engine names none.
pub const DEFAULT_PORT: u16 = 29417;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub rank: usize,
    pub size: usize,
    /// host:port of rank 0's coordinator.
    pub coordinator: String,
    /// Which engine it came from, for the report.
    pub engine: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot tell this rank's place: {0}")]
    Missing(String),
    #[error("{0}")]
    Invalid(String),
}

/// Flags win; then Slurm, Open MPI, PMI, torchrun/PyTorchJob, Kubernetes Indexed Job.
pub fn detect(
    env: &HashMap<String, String>,
    rank: Option<usize>,
    size: Option<usize>,
    coordinator: Option<&str>,
    port: Option<u16>,
) -> Result<Identity, LaunchError> {
    let get = |k: &str| env.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let num = |k: &str| -> Result<Option<usize>, LaunchError> {
        match get(k) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| LaunchError::Invalid(format!("{k}={v} is not a number"))),
        }
    };
    let port = port.unwrap_or(DEFAULT_PORT);
    let with_port = |host: &str| {
        if host.contains(':') && !host.starts_with('[') && host.matches(':').count() == 1 {
            host.to_string()
        } else {
            format!("{host}:{port}")
        }
    };

    // (rank, size, coordinator host, engine)
    let found: Option<(usize, usize, Option<String>, &'static str)> = if let (Some(r), Some(s)) =
        (num("SLURM_PROCID")?, num("SLURM_NTASKS")?)
    {
        let first = get("SLURM_JOB_NODELIST")
            .or(get("SLURM_NODELIST"))
            .and_then(|l| expand_hostlist(l).ok())
            .and_then(|h| h.into_iter().next());
        Some((r, s, first, "slurm"))
    } else if let (Some(r), Some(s)) = (num("OMPI_COMM_WORLD_RANK")?, num("OMPI_COMM_WORLD_SIZE")?)
    {
        Some((r, s, get("MASTER_ADDR").map(str::to_string), "openmpi"))
    } else if let (Some(r), Some(s)) = (num("PMI_RANK")?, num("PMI_SIZE")?) {
        Some((r, s, get("MASTER_ADDR").map(str::to_string), "pmi"))
    } else if let (Some(r), Some(s)) = (num("RANK")?, num("WORLD_SIZE")?) {
        Some((r, s, get("MASTER_ADDR").map(str::to_string), "torchrun"))
    } else if let Some(r) = num("JOB_COMPLETION_INDEX")? {
        let s = num("EFACTL_DOCTOR_SIZE")?.or(size);
        s.map(|s| {
            (
                r,
                s,
                get("EFACTL_DOCTOR_COORDINATOR").map(str::to_string),
                "kubernetes",
            )
        })
    } else {
        None
    };

    let (rank, size, host, engine) = match (rank, size, found) {
        (Some(r), Some(s), _) => (r, s, None, "flags"),
        (r, s, Some((er, es, h, e))) => (r.unwrap_or(er), s.unwrap_or(es), h, e),
        _ => {
            return Err(LaunchError::Missing(
                "pass --rank and --size, or run under srun, mpirun, torchrun or a Kubernetes Indexed Job".into(),
            ))
        }
    };
    // torchrun's own store holds MASTER_PORT: the doctor takes the next one unless told.
    let torch_port = (engine == "torchrun")
        .then(|| get("MASTER_PORT").and_then(|p| p.parse::<u16>().ok()))
        .flatten()
        .map(|p| p.wrapping_add(1));
    let coordinator = match (coordinator, host) {
        (Some(c), _) => with_port(c),
        (None, Some(h)) => match torch_port {
            Some(p) => format!("{h}:{p}"),
            None => with_port(&h),
        },
        (None, None) if rank == 0 => format!("0.0.0.0:{port}"),
        (None, None) => {
            return Err(LaunchError::Missing(format!(
                "rank {rank} does not know where rank 0 is: pass --coordinator HOST:PORT (or set MASTER_ADDR)"
            )))
        }
    };
    if size == 0 || rank >= size {
        return Err(LaunchError::Invalid(format!(
            "rank {rank} is not below size {size}"
        )));
    }
    Ok(Identity {
        rank,
        size,
        coordinator,
        engine,
    })
}

/// Expands a Slurm hostlist: `gpu-[01-03,07],login1` -> gpu-01 gpu-02 gpu-03 gpu-07 login1.
pub fn expand_hostlist(list: &str) -> Result<Vec<String>, LaunchError> {
    let bad = || LaunchError::Invalid(format!("cannot read the Slurm host list `{list}`"));
    let mut out = Vec::new();
    // Split on commas that are not inside brackets.
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in list.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(bad());
        }
        cur.push(c);
    }
    if depth != 0 {
        return Err(bad());
    }
    parts.push(cur);
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        let Some(open) = part.find('[') else {
            out.push(part);
            continue;
        };
        let close = part.rfind(']').ok_or_else(bad)?;
        let (prefix, ranges, suffix) = (&part[..open], &part[open + 1..close], &part[close + 1..]);
        for r in ranges.split(',') {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            let width = a.len();
            let (x, y): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if y < x || y - x > 100_000 {
                return Err(bad());
            }
            for n in x..=y {
                out.push(format!("{prefix}{n:0width$}{suffix}"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hostlists_expand_with_padding() {
        assert_eq!(
            expand_hostlist("gpu-[01-03,07],login1").unwrap(),
            vec!["gpu-01", "gpu-02", "gpu-03", "gpu-07", "login1"]
        );
        assert_eq!(expand_hostlist("a[9-10]b").unwrap(), vec!["a9b", "a10b"]);
        assert!(expand_hostlist("a[1-").is_err());
        assert!(expand_hostlist("a[3-1]").is_err());
    }

    #[test]
    fn engines_are_detected() {
        let s = detect(
            &env(&[
                ("SLURM_PROCID", "2"),
                ("SLURM_NTASKS", "4"),
                ("SLURM_JOB_NODELIST", "p5-[10-13]"),
            ]),
            None,
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (s.rank, s.size, s.coordinator.as_str(), s.engine),
            (2, 4, "p5-10:29417", "slurm")
        );
        let t = detect(
            &env(&[
                ("RANK", "1"),
                ("WORLD_SIZE", "2"),
                ("MASTER_ADDR", "10.0.0.5"),
                ("MASTER_PORT", "29500"),
            ]),
            None,
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(t.coordinator, "10.0.0.5:29501");
        let o = detect(
            &env(&[("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "8")]),
            None,
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!((o.rank, o.coordinator.as_str()), (0, "0.0.0.0:29417"));
        let e = detect(
            &env(&[("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_SIZE", "8")]),
            None,
            None,
            None,
            None,
        );
        assert!(matches!(e, Err(LaunchError::Missing(_))));
        let f = detect(&env(&[]), Some(1), Some(3), Some("h:1234"), None).unwrap();
        assert_eq!(
            (f.rank, f.size, f.coordinator.as_str(), f.engine),
            (1, 3, "h:1234", "flags")
        );
        assert!(detect(&env(&[]), Some(3), Some(3), Some("h"), None).is_err());
        let k = detect(
            &env(&[
                ("JOB_COMPLETION_INDEX", "1"),
                ("EFACTL_DOCTOR_SIZE", "4"),
                ("EFACTL_DOCTOR_COORDINATOR", "job-0.svc"),
            ]),
            None,
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (k.rank, k.size, k.coordinator.as_str()),
            (1, 4, "job-0.svc:29417")
        );
    }
}
