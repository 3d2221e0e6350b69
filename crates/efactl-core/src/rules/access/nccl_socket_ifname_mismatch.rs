use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA030",
    name: "nccl-socket-ifname-mismatch",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "NCCL_SOCKET_IFNAME selects no network interface an EC2 instance has",
    doc: "## What it does
Reads `NCCL_SOCKET_IFNAME` in `nccl.env` the way NCCL does: a comma-separated list of name
prefixes; a leading `^` makes it a list to exclude, a leading `=` (after any `^`) makes the
entries exact names. It compares the list with the names EC2 instances give their network
interfaces: `ens5`, `enp39s0` and the like on Nitro instances with Amazon Linux 2023 or
Ubuntu (prefix `en`), `eth0` on Amazon Linux 2. It is deliberately conservative and warns
only when
- no prefix to include starts with `e`, `en` or `et` (say `ib`, `bond`, `docker`), or
- no exact name to include starts with `en` or `eth` (`=ib0`), or
- the exclude list leaves out both families (`^en,eth`, `^e`), so that only `lo` or
  `docker0` remain.

## Why it matters
NCCL uses this interface for its bootstrap, its proxies and, without EFA, for its data. When
the list matches nothing, NCCL finds no interface and every rank fails at init with
`Bootstrap : no socket interface found` (or `NET/Socket : no interface found`). When only
`lo` or `docker0` is left, ranks advertise an address the other nodes cannot reach and the
bootstrap hangs until NCCL's connect retries run out. Values copied from InfiniBand clusters
(`ib0`) or from containers' docs (`eth0` is right inside a Kubernetes pod, and on AL2) are the
usual cause.

## Example
```yaml
nccl:
  env:
    NCCL_SOCKET_IFNAME: ib0
```

## Fix
Use the community default for AWS, `NCCL_SOCKET_IFNAME=en`, which covers p4d and p5 names
(`ens*`, `enp*`), or an exclude list such as `^lo,docker,veth,eni`; or remove the variable and
let NCCL choose. Check the names on a node with `ip -br link`.

## Source
efa-facts.md §3.2 (NCCL `src/misc/socket.cc` `ncclFindInterfaces` and `src/os/linux.cc`: prefix
match, `^` exclude, `=` exact; AWS community guidance `NCCL_SOCKET_IFNAME=en` \"covers p5 &
p4d\", awsome-distributed-ai `1.architectures/efa-cheatsheet.md` (ADAI), and `^lo,docker,veth,eni`
in ADAI's nemo-rl example) and §5.3 (`Bootstrap : no socket interface found`,
`NET/Socket : no interface found`).
",
    check: Some(check),
};

/// Could an interface name starting with `prefix` exist on EC2? Conservative: any prefix
/// that starts like `en*` or `eth*` names might.
fn prefix_may_match(prefix: &str) -> bool {
    prefix == "e" || prefix.starts_with("en") || prefix.starts_with("et")
}

fn exact_may_match(name: &str) -> bool {
    name.starts_with("en") || name.starts_with("eth")
}

/// Why the value selects no usable interface, or `None` when it may well select one.
fn mismatch(value: &str) -> Option<String> {
    let v = value.trim();
    let (exclude, rest) = match v.strip_prefix('^') {
        Some(r) => (true, r),
        None => (false, v),
    };
    let (exact, rest) = match rest.strip_prefix('=') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    // `name:port` entries: the port is not part of the name.
    let items: Vec<&str> = rest
        .split(',')
        .filter_map(|s| s.split(':').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return None;
    }
    match (exclude, exact) {
        (false, false) if !items.iter().any(|p| prefix_may_match(p)) => Some(format!(
            "no interface of an EC2 instance starts with {}{NAMES}; NCCL finds none and fails at init with `Bootstrap : no socket interface found`",
            join(&items)
        )),
        (false, true) if !items.iter().any(|n| exact_may_match(n)) => Some(format!(
            "no interface of an EC2 instance is named {}{NAMES}; NCCL finds none and fails at init with `Bootstrap : no socket interface found`",
            join(&items)
        )),
        (true, false)
            if items.iter().any(|p| "en".starts_with(p))
                && items.iter().any(|p| "eth".starts_with(p)) =>
        {
            Some(format!("it excludes every interface of an EC2 instance{NAMES}, leaving NCCL none that the other nodes can reach (at most `lo` or `docker0`)"))
        }
        _ => None,
    }
}

/// What EC2 calls its interfaces, for messages.
const NAMES: &str =
    " (their names start with `en`, as `ens5`, or `eth`, as `eth0` on Amazon Linux 2)";

fn join(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
        [] => String::new(),
    }
}

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let Some((value, origin)) = cx.cluster.nccl.env.get("NCCL_SOCKET_IFNAME") else {
        return;
    };
    let Some(why) = mismatch(value) else { return };
    r.report(
        origin.subject(),
        format!(
            "`NCCL_SOCKET_IFNAME={value}` selects no usable interface: {why}"
        ),
    )
    .help = Some(
        "set `NCCL_SOCKET_IFNAME: en` (covers `ens*` and `enp*` on p4d and p5), use an exclude list such as `^lo,docker,veth,eni`, or remove it; `ip -br link` on a node lists the names".into(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        for ok in [
            "en",
            "ens",
            "eth",
            "eth0",
            "e",
            "en,ib",
            "=eth9",
            "=ens5",
            "^lo,docker,veth,eni",
            "^en",
            "^=ens5,eth0",
            "ens5:1",
            "",
        ] {
            assert_eq!(mismatch(ok), None, "{ok}");
        }
        for bad in [
            "ib", "ib0", "bond0,ib", "=ib0", "^en,eth", "^e", "docker0", "EN",
        ] {
            assert!(mismatch(bad).is_some(), "{bad}");
        }
    }
}
