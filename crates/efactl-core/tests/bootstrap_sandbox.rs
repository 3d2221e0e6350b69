//! The node bootstrap, run for real in a sandbox: `EFACTL_ROOT` points every path the script
//! writes into a scratch directory, and stub commands on PATH stand in for the machine
//! (`fi_info` under the fake root, `sysctl`, `aws`, `getent`, `chown`, and a `curl` that refuses,
//! so nothing reaches the network). The real `/` is never written: every write the script makes
//! goes through `$ROOT`, and the stubs keep their state in the scratch directory too.
//!
//! Shown here: the files it writes (environment, sysctl, limits, the SSH key with 0600, an ssh
//! config that skips host-key checks only for the cluster's subnet, the status file), that a
//! second run changes nothing, and that a node with too few EFA devices, a bad installer
//! checksum or no way to get the installer fails with the failed step named in the status file.

mod common;

use efactl_core::model::{Cluster, EfaInstaller};
use efactl_core::render::bootstrap;
use efactl_core::Catalog;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PRIVATE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nZHVtbXkta2V5LWZvci10ZXN0cy1vbmx5\n-----END OPENSSH PRIVATE KEY-----\n";
const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEZhS2VUZXN0S2V5Rm9yRWZhY3RsU2FuZGJveA efactl-test";
const USER_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFVzZXJzT3duS2V5 me@laptop";

fn base64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Sandbox {
    dir: PathBuf,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let dir =
            std::env::temp_dir().join(format!("efactl-bootstrap-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["root", "bin", "state/sysctl", "state/s3", "tmp"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let sb = Sandbox { dir };
        sb.stubs();
        sb
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn write(&self, path: &Path, text: &str, mode: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn stubs(&self) {
        let state = self.state();
        let st = state.display();
        let bin = self.dir.join("bin");
        // sysctl: values live in state/sysctl/<key>; a key without a file does not exist.
        self.write(
            &bin.join("sysctl"),
            &format!(
                r#"#!/bin/bash
set -eu
dir={st}/sysctl
echo "sysctl $*" >>{st}/calls.log
case "$1" in
  -n) [[ -f $dir/$2 ]] || {{ echo "sysctl: cannot stat $2" >&2; exit 255; }}; cat "$dir/$2" ;;
  -q|-w)
    for a in "$@"; do
      case "$a" in -q|-w) ;; *=*) printf '%s\n' "${{a#*=}}" >"$dir/${{a%%=*}}" ;; esac
    done ;;
  *) echo "stub sysctl: unexpected $*" >&2; exit 2 ;;
esac
"#
            ),
            0o755,
        );
        // aws: the secret as `efactl keys create` stores it, and `s3 cp` from state/s3.
        let secret = format!(
            r#"{{"MPI_SSH_KEY_PRIVATE":"{}","MPI_SSH_KEY_PUBLIC":"{}"}}"#,
            base64(PRIVATE_KEY.as_bytes()),
            base64(PUBLIC_KEY.as_bytes())
        );
        self.write(&state.join("secret.json"), &secret, 0o600);
        self.write(
            &bin.join("aws"),
            &format!(
                r#"#!/bin/bash
set -eu
echo "aws $*" >>{st}/calls.log
case "$1 $2" in
  "secretsmanager get-secret-value")
    [[ " $* " == *" --region "* && " $* " == *" --query SecretString "* ]] || {{ echo "stub aws: missing --region/--query" >&2; exit 2; }}
    cat {st}/secret.json ;;
  "s3 cp")
    shift 2
    args=()
    for a in "$@"; do case "$a" in --only-show-errors) ;; --region) ;; *) args+=("$a") ;; esac; done
    # args: REGION SRC DST
    src=${{args[1]#s3://}}
    cp "{st}/s3/$src" "${{args[2]}}" ;;
  *) echo "stub aws: unexpected $*" >&2; exit 2 ;;
esac
"#
            ),
            0o755,
        );
        self.write(
            &bin.join("curl"),
            &format!(
                "#!/bin/bash\necho \"curl $*\" >>{st}/calls.log\necho 'stub curl: the test sandbox has no network' >&2\nexit 7\n"
            ),
            0o755,
        );
        self.write(
            &bin.join("getent"),
            "#!/bin/bash\nif [[ $1 == passwd && $2 == ec2-user ]]; then echo 'ec2-user:x:1000:1000:EC2 Default User:/home/ec2-user:/bin/bash'; exit 0; fi\nexit 2\n",
            0o755,
        );
        self.write(
            &bin.join("chown"),
            &format!("#!/bin/bash\necho \"chown $*\" >>{st}/chown.log\n"),
            0o755,
        );
        // What the kernel starts with: Ubuntu's ptrace protection, no huge pages.
        self.write(&state.join("sysctl/kernel.yama.ptrace_scope"), "1\n", 0o644);
        self.write(&state.join("sysctl/vm.nr_hugepages"), "0\n", 0o644);
        self.write(&state.join("fi_info"), &fi_info_stub(&state), 0o755);
    }

    /// The AMI has the EFA software: fi_info (listing `devices` EFAs) and the installer's record.
    fn install_efa(&self, devices: usize) {
        let root = self.root();
        std::fs::write(self.state().join("efa_devices"), devices.to_string()).unwrap();
        let fi = root.join("opt/amazon/efa/bin/fi_info");
        std::fs::create_dir_all(fi.parent().unwrap()).unwrap();
        std::fs::copy(self.state().join("fi_info"), &fi).unwrap();
        self.write(
            &root.join("opt/amazon/efa_installed_packages"),
            "# EFA installer version: 1.38.1\n# Debug packages installed: no\n",
            0o644,
        );
    }

    fn run(&self, script: &str) -> Output {
        let path = self.dir.join("bootstrap.sh");
        self.write(&path, script, 0o755);
        Command::new("bash")
            .arg(&path)
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.dir.join("bin").display()),
            )
            .env("EFACTL_ROOT", self.root())
            .env("EFACTL_CONSOLE", self.dir.join("console"))
            .env("TMPDIR", self.dir.join("tmp"))
            .env("HOME", self.dir.join("tmp"))
            .env("LC_ALL", "C")
            .output()
            .expect("run bash")
    }

    fn status(&self) -> serde_json::Value {
        let p = self.root().join("var/lib/efactl/bootstrap-status.json");
        serde_json::from_str(
            &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn mode(&self, rel: &str) -> u32 {
        std::fs::metadata(self.root().join(rel)).unwrap().mode() & 0o7777
    }

    /// Every file under the fake root: path -> (mode, mtime, contents). The log grows with each
    /// run and the status file records the run's time: those two are compared separately.
    fn snapshot(&self) -> BTreeMap<String, (u32, i64, i64, Vec<u8>)> {
        let mut out = BTreeMap::new();
        let root = self.root();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let md = std::fs::symlink_metadata(&p).unwrap();
                if md.is_dir() {
                    stack.push(p);
                    out.insert(format!("{rel}/"), (md.mode() & 0o7777, 0, 0, Vec::new()));
                } else if rel != "var/log/efactl-bootstrap.log"
                    && rel != "var/lib/efactl/bootstrap-status.json"
                {
                    out.insert(
                        rel,
                        (
                            md.mode() & 0o7777,
                            md.mtime(),
                            md.mtime_nsec(),
                            std::fs::read(&p).unwrap(),
                        ),
                    );
                }
            }
        }
        out
    }
}

/// fi_info as the EFA installer ships it, listing as many EFA devices as state/efa_devices says.
fn fi_info_stub(state: &Path) -> String {
    format!(
        r#"#!/bin/bash
if [[ ${{1:-}} == --version ]]; then
  printf 'fi_info: 1.22.0amzn4.0\nlibfabric: 1.22.0amzn4.0\nlibfabric api: 1.22\n'
  exit 0
fi
[[ "$*" == "-p efa -t FI_EP_RDM" ]] || {{ echo "stub fi_info: unexpected $*" >&2; exit 2; }}
n=$(cat {}/efa_devices)
if ((n == 0)); then echo 'fi_getinfo: -61 (No data available)' >&2; exit 1; fi
for ((i = 0; i < n; i++)); do
  printf 'provider: efa\n    fabric: efa\n    domain: rdmap%ds0-rdm\n    version: 122.0\n    type: FI_EP_RDM\n    protocol: FI_PROTO_EFA\n' $((16 + i))
done
"#,
        state.display()
    )
}

fn example(name: &str) -> Cluster {
    common::model_of(
        &common::workspace()
            .join("examples")
            .join(format!("{name}.yaml")),
    )
}

fn script_of(cluster: &Cluster, group: &str) -> String {
    let ng = cluster
        .node_groups
        .iter()
        .find(|g| g.name == group)
        .unwrap_or_else(|| panic!("no node group {group}"));
    bootstrap::script(cluster, Catalog::bundled(), ng)
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "bootstrap failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn step<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {status:#}"))
}

#[test]
fn writes_the_node_configuration_and_a_second_run_changes_nothing() {
    // The g5 Batch example (one EFA, MPI over SSH, subnet 10.2.0.0/20), with an obsolete
    // variable added to nccl.env: rule EFA029 warns about it, and efactl must not write it.
    let text = std::fs::read_to_string(common::workspace().join("examples/g5-batch-mpi.yaml"))
        .unwrap()
        .replace(
            "    NCCL_DEBUG: INFO",
            "    NCCL_DEBUG: INFO\n    FI_EFA_USE_DEVICE_RDMA: \"1\"\n    NCCL_SOCKET_IFNAME: \"^lo,docker\"",
        );
    let cluster = common::model_of_text("g5.yaml", &text);
    let script = script_of(&cluster, "gpu");

    let sb = Sandbox::new("idempotent");
    sb.install_efa(1);
    // The user's own SSH setup, which must survive: a key (no trailing newline) and a config.
    sb.write(
        &sb.root().join("home/ec2-user/.ssh/authorized_keys"),
        USER_KEY,
        0o600,
    );
    sb.write(
        &sb.root().join("home/ec2-user/.ssh/config"),
        "Host bastion\n    User me\n",
        0o600,
    );

    let first = sb.run(&script);
    assert_ok(&first);
    if std::env::var_os("EFACTL_TEST_SHOW").is_some() {
        eprintln!("{}", String::from_utf8_lossy(&first.stdout));
        eprintln!("{}", sb.read("var/lib/efactl/bootstrap-status.json"));
    }

    // The NCCL environment: the spec's variables, without the obsolete one.
    let profile = sb.read("etc/profile.d/efactl-nccl.sh");
    assert!(profile.contains("export NCCL_DEBUG='INFO'\n"), "{profile}");
    assert!(
        profile.contains("export NCCL_SOCKET_IFNAME='^lo,docker'\n"),
        "{profile}"
    );
    assert!(
        !profile.contains("export FI_EFA_USE_DEVICE_RDMA"),
        "{profile}"
    );
    assert!(
        profile.contains("# skipped FI_EFA_USE_DEVICE_RDMA: rule EFA029"),
        "{profile}"
    );
    assert_eq!(sb.mode("etc/profile.d/efactl-nccl.sh"), 0o644);
    // It is a valid shell file.
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -eu; . {}; [[ $NCCL_DEBUG == INFO && -z ${{FI_EFA_USE_DEVICE_RDMA:-}} ]]",
            sb.root().join("etc/profile.d/efactl-nccl.sh").display()
        ))
        .status()
        .unwrap();
    assert!(check.success());

    // Kernel settings, persisted and applied.
    assert!(sb
        .read("etc/sysctl.d/10-efactl-ptrace.conf")
        .contains("\nkernel.yama.ptrace_scope = 0\n"));
    assert!(sb
        .read("etc/sysctl.d/90-efactl-hugepages.conf")
        .contains("\nvm.nr_hugepages = 5128\n"));
    let sysctl = |k: &str| std::fs::read_to_string(sb.state().join("sysctl").join(k)).unwrap();
    assert_eq!(sysctl("kernel.yama.ptrace_scope").trim(), "0");
    assert_eq!(sysctl("vm.nr_hugepages").trim(), "5128");
    let limits = sb.read("etc/security/limits.d/90-efactl.conf");
    for line in [
        "*     soft  memlock  unlimited",
        "*     hard  memlock  unlimited",
        "root  hard  memlock  unlimited",
        "*     hard  nofile   65536",
    ] {
        assert!(limits.contains(line), "{line}\n{limits}");
    }

    // The key pair: 0600 files in a 0700 directory, owned by the cluster user.
    let ssh = "home/ec2-user/.ssh";
    assert_eq!(sb.mode(ssh), 0o700);
    assert_eq!(sb.read(&format!("{ssh}/efactl_mpi")), PRIVATE_KEY);
    assert_eq!(
        sb.read(&format!("{ssh}/efactl_mpi.pub")),
        format!("{PUBLIC_KEY}\n")
    );
    for f in ["efactl_mpi", "efactl_mpi.pub", "authorized_keys", "config"] {
        assert_eq!(sb.mode(&format!("{ssh}/{f}")), 0o600, "{f}");
    }
    let chowns = std::fs::read_to_string(sb.state().join("chown.log")).unwrap();
    assert!(chowns.contains(&format!(
        "chown 1000:1000 {}",
        sb.root().join(ssh).display()
    )));
    assert_eq!(
        sb.read(&format!("{ssh}/authorized_keys")),
        format!("{USER_KEY}\n{PUBLIC_KEY}\n"),
        "the user's key stays, the cluster's is added once"
    );
    // ssh config: efactl's block first, host-key checks off only for 10.2.0.0/20.
    let config = sb.read(&format!("{ssh}/config"));
    assert!(config.starts_with("# BEGIN efactl"), "{config}");
    assert!(
        config.ends_with("# END efactl\nHost bastion\n    User me\n"),
        "{config}"
    );
    let hosts: Vec<&str> = config.lines().filter(|l| l.starts_with("Host ")).collect();
    assert_eq!(hosts.len(), 2, "{config}");
    let patterns: Vec<&str> = hosts[0].split_whitespace().skip(1).collect();
    assert!(!patterns.contains(&"*"), "never Host *");
    assert_eq!(
        patterns,
        [
            "10.2.?.*",
            "10.2.10.*",
            "10.2.11.*",
            "10.2.12.*",
            "10.2.13.*",
            "10.2.14.*",
            "10.2.15.*",
            "ip-10-2-?-*",
            "ip-10-2-10-*",
            "ip-10-2-11-*",
            "ip-10-2-12-*",
            "ip-10-2-13-*",
            "ip-10-2-14-*",
            "ip-10-2-15-*"
        ]
    );
    assert!(config.contains("    StrictHostKeyChecking no\n"));
    assert!(config.contains("    IdentityFile ~/.ssh/efactl_mpi\n"));

    // The status file.
    let status = sb.status();
    assert_eq!(status["result"], "ok", "{status:#}");
    assert_eq!(status["failedStep"], serde_json::Value::Null);
    assert_eq!(status["cluster"], "g5-batch");
    assert_eq!(status["nodeGroup"], "gpu");
    assert_eq!(status["instanceType"], "g5.48xlarge");
    assert_eq!(status["efa"]["expected"], 1);
    assert_eq!(status["efa"]["found"], 1);
    assert_eq!(status["efa"]["software"], "preinstalled");
    assert_eq!(status["efa"]["installerVersion"], "1.38.1");
    assert_eq!(status["efa"]["libfabricVersion"], "1.22.0amzn4.0");
    let names: Vec<&str> = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "efa-software",
            "efa-devices",
            "ptrace",
            "hugepages",
            "limits",
            "nccl-env",
            "ssh-keys"
        ]
    );
    for s in status["steps"].as_array().unwrap() {
        assert_eq!(s["status"], "ok", "{s}");
    }

    // The key never reaches the log or the console.
    let log = sb.read("var/log/efactl-bootstrap.log");
    let stdout = String::from_utf8_lossy(&first.stdout).into_owned();
    for text in [&log, &stdout] {
        assert!(
            !text.contains("ZHVtbXkta2V5"),
            "private key material in output:\n{text}"
        );
        assert!(!text.contains(&base64(PRIVATE_KEY.as_bytes())[..20]));
        assert!(text.contains("step ssh-keys: ok"), "{text}");
    }
    // Nothing went to the network.
    let calls = std::fs::read_to_string(sb.state().join("calls.log")).unwrap();
    assert!(!calls.contains("curl"), "{calls}");

    // Second run: nothing under the root changes (contents, modes, even mtimes), and the
    // status file says the same apart from its time.
    let before = sb.snapshot();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = sb.run(&script);
    assert_ok(&second);
    let after = sb.snapshot();
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (k, v) in &before {
        assert_eq!(Some(v), after.get(k), "{k} changed on the second run");
    }
    let mut s2 = sb.status();
    let mut s1 = status.clone();
    s1.as_object_mut().unwrap().remove("finishedAt");
    s2.as_object_mut().unwrap().remove("finishedAt");
    assert_eq!(s1, s2);
    assert_eq!(
        sb.read(&format!("{ssh}/authorized_keys"))
            .matches(PUBLIC_KEY)
            .count(),
        1
    );
}

#[test]
fn a_rotated_key_replaces_the_old_one() {
    let cluster = example("g5-batch-mpi");
    let script = script_of(&cluster, "gpu");
    let sb = Sandbox::new("rotate");
    sb.install_efa(1);
    assert_ok(&sb.run(&script));
    let new_pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE5ld0tleUFmdGVyUm90YXRpb24 efactl-rotated";
    sb.write(
        &sb.state().join("secret.json"),
        &format!(
            r#"{{"MPI_SSH_KEY_PRIVATE":"{}","MPI_SSH_KEY_PUBLIC":"{}"}}"#,
            base64(PRIVATE_KEY.as_bytes()),
            base64(new_pub.as_bytes())
        ),
        0o600,
    );
    assert_ok(&sb.run(&script));
    assert_eq!(
        sb.read("home/ec2-user/.ssh/authorized_keys"),
        format!("{new_pub}\n")
    );
}

#[test]
fn too_few_efa_devices_fail_the_efa_devices_step() {
    // p5.48xlarge: the layout attaches 32 EFAs; the node shows 31.
    let cluster = example("p5-slurm-private");
    let script = script_of(&cluster, "gpu");
    let sb = Sandbox::new("few-efa");
    sb.install_efa(31);
    let out = sb.run(&script);
    assert!(!out.status.success(), "must fail");
    let status = sb.status();
    assert_eq!(status["result"], "failed");
    assert_eq!(status["failedStep"], "efa-devices");
    assert_eq!(status["efa"]["expected"], 32);
    assert_eq!(status["efa"]["found"], 31);
    let s = step(&status, "efa-devices");
    assert_eq!(s["status"], "failed");
    let detail = s["detail"].as_str().unwrap();
    assert!(
        detail.contains("lists 31 EFA device(s)") && detail.contains("attaches 32"),
        "{detail}"
    );
    assert_eq!(step(&status, "efa-software")["status"], "ok");
    for later in ["ptrace", "hugepages", "limits", "nccl-env"] {
        assert_eq!(step(&status, later)["status"], "not-run", "{later}");
    }
    assert_eq!(step(&status, "ssh-keys")["status"], "skipped");
    // Nothing after the failed step was written.
    assert!(!sb
        .root()
        .join("etc/security/limits.d/90-efactl.conf")
        .exists());
    let log = sb.read("var/log/efactl-bootstrap.log");
    assert!(
        log.contains("ERROR: fi_info -p efa -t FI_EP_RDM lists 31"),
        "{log}"
    );
}

#[test]
fn no_efa_device_at_all_is_reported_as_zero() {
    let cluster = example("c5n-mpi");
    let sb = Sandbox::new("no-efa");
    sb.install_efa(0);
    let out = sb.run(&script_of(&cluster, "hpc"));
    assert!(!out.status.success());
    let status = sb.status();
    assert_eq!(status["failedStep"], "efa-devices");
    assert_eq!(status["efa"]["found"], 0);
}

/// The installer tarball a test serves from the stub S3: its efa_installer.sh installs the
/// stub fi_info under the fake root, as the real one installs /opt/amazon/efa.
fn installer_tarball(sb: &Sandbox, version: &str) -> String {
    let src = sb.dir.join("installer/aws-efa-installer");
    sb.write(
        &src.join("efa_installer.sh"),
        &format!(
            "#!/bin/bash\nset -eu\n[[ $1 == -y ]]\nmkdir -p \"$EFACTL_ROOT/opt/amazon/efa/bin\"\ncp {} \"$EFACTL_ROOT/opt/amazon/efa/bin/fi_info\"\nprintf '# EFA installer version: {version}\\n' >\"$EFACTL_ROOT/opt/amazon/efa_installed_packages\"\necho installed-by-stub\n",
            sb.state().join("fi_info").display()
        ),
        0o755,
    );
    let tarball = sb.state().join("s3/bucket/efa/aws-efa-installer.tar.gz");
    std::fs::create_dir_all(tarball.parent().unwrap()).unwrap();
    let st = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(sb.dir.join("installer"))
        .arg("aws-efa-installer")
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new("sha256sum").arg(&tarball).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn installs_the_efa_software_from_s3_after_verifying_it() {
    let mut cluster = example("p5-slurm-private");
    let sb = Sandbox::new("install");
    std::fs::write(sb.state().join("efa_devices"), "32").unwrap();
    let sha = installer_tarball(&sb, "9.9.9-test");
    cluster.settings.efa_installer = Some(EfaInstaller {
        version: Some("9.9.9-test".into()),
        sha256: Some(sha),
        s3_uri: Some("s3://bucket/efa/aws-efa-installer.tar.gz".into()),
    });
    let out = sb.run(&script_of(&cluster, "gpu"));
    assert_ok(&out);
    let status = sb.status();
    assert_eq!(status["efa"]["software"], "installed");
    assert_eq!(status["efa"]["installerVersion"], "9.9.9-test");
    assert_eq!(status["efa"]["found"], 32);
    let calls = std::fs::read_to_string(sb.state().join("calls.log")).unwrap();
    assert!(
        calls.contains("aws s3 cp --only-show-errors --region us-east-1 s3://bucket/efa/aws-efa-installer.tar.gz"),
        "{calls}"
    );
    assert!(!calls.contains("curl"));
    // The work directory is cleaned up.
    assert_eq!(std::fs::read_dir(sb.dir.join("tmp")).unwrap().count(), 0);
}

#[test]
fn a_tampered_installer_is_never_run() {
    let mut cluster = example("p5-slurm-private");
    let sb = Sandbox::new("tampered");
    std::fs::write(sb.state().join("efa_devices"), "32").unwrap();
    installer_tarball(&sb, "9.9.9-test");
    cluster.settings.efa_installer = Some(EfaInstaller {
        version: Some("9.9.9-test".into()),
        sha256: Some("0".repeat(64)),
        s3_uri: Some("s3://bucket/efa/aws-efa-installer.tar.gz".into()),
    });
    let out = sb.run(&script_of(&cluster, "gpu"));
    assert!(!out.status.success());
    let status = sb.status();
    assert_eq!(status["failedStep"], "efa-software");
    let detail = step(&status, "efa-software")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("checksum mismatch"), "{detail}");
    assert!(
        !sb.root().join("opt/amazon/efa/bin/fi_info").exists(),
        "the installer ran"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("installed-by-stub"));
}

#[test]
fn a_subnet_without_internet_needs_an_ami_with_efa_or_an_s3_copy() {
    // p5's compute subnet has `internet: none` and the spec names no S3 copy.
    let cluster = example("p5-slurm-private");
    let sb = Sandbox::new("no-internet");
    let out = sb.run(&script_of(&cluster, "gpu"));
    assert!(!out.status.success());
    let status = sb.status();
    assert_eq!(status["failedStep"], "efa-software");
    let detail = step(&status, "efa-software")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("no route to the internet") && detail.contains("efaInstaller.s3Uri"),
        "{detail}"
    );
    let calls = std::fs::read_to_string(sb.state().join("calls.log")).unwrap_or_default();
    assert!(!calls.contains("curl"), "{calls}");
}

#[test]
fn a_head_node_without_efa_skips_the_efa_steps() {
    let cluster = example("p5-slurm-private");
    let sb = Sandbox::new("head");
    let out = sb.run(&script_of(&cluster, "head"));
    assert_ok(&out);
    let status = sb.status();
    assert_eq!(status["efa"]["expected"], 0);
    for s in [
        "efa-software",
        "efa-devices",
        "ptrace",
        "hugepages",
        "ssh-keys",
    ] {
        assert_eq!(step(&status, s)["status"], "skipped", "{s}");
    }
    for s in ["limits", "nccl-env"] {
        assert_eq!(step(&status, s)["status"], "ok", "{s}");
    }
    // Yama's protection stays on a head node.
    assert!(!sb
        .root()
        .join("etc/sysctl.d/10-efactl-ptrace.conf")
        .exists());
}
