use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA024",
    name: "vpc-dns-disabled",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "The VPC has DNS resolution or DNS hostnames turned off",
    doc: "## What it does
Checks that the VPC has both `dnsSupport` (DNS resolution through the Amazon-provided resolver)
and `dnsHostnames` (private DNS names for instances) on, and reports each one that is off.

## Why it matters
- ParallelCluster: \"The VPC must have `DNS Resolution = yes`, `DNS Hostnames = yes`\"; with
  `useEc2Hostnames` (needed without internet, EFA021) nodes find each other by their EC2
  names, which exist only with DNS hostnames on.
- Interface VPC endpoints with private DNS need both attributes; without them the service's
  name resolves to its public addresses and nodes without internet time out (as in EFA019).
- Jobs bootstrap by hostname: Slurm node addresses, `mpirun --host`, torchrun's `MASTER_ADDR`
  and `NCCL_COMM_ID` are usually host names; when they do not resolve, NCCL fails at bootstrap
  before EFA is ever used.

## Example
```yaml
network:
  vpc:
    id: vpc-0abc1234
    dnsHostnames: false
```

## Fix
Remove the setting or set it to `true`. On a live VPC (one attribute per call):
`aws ec2 modify-vpc-attribute --vpc-id VPC --enable-dns-support '{\"Value\":true}'` and
`aws ec2 modify-vpc-attribute --vpc-id VPC --enable-dns-hostnames '{\"Value\":true}'`.

## Source
PC-UG `network-configuration-v3.md` (first paragraph), the guide efa-facts.md §7 cites; private
DNS requirements of interface endpoints:
https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html (not
quoted in efa-facts.md); NCCL bootstrap: efa-facts.md §3.2 and §5.3.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let vpc = &cx.cluster.vpc;
    let name = match &vpc.id {
        Some(id) => format!("VPC `{id}`"),
        None => "the VPC".into(),
    };
    let live = match &vpc.origin {
        Origin::Live(id) => Some(id.as_str()),
        _ => vpc.id.as_deref().filter(|id| id.starts_with("vpc-")),
    };
    let checks = [
        (
            vpc.dns_support,
            "dnsSupport",
            "DNS resolution",
            "enable-dns-support",
            "names do not resolve through the Amazon-provided resolver, neither AWS service endpoints nor instance hostnames",
        ),
        (
            vpc.dns_hostnames,
            "dnsHostnames",
            "DNS hostnames",
            "enable-dns-hostnames",
            "instances get no private DNS names, and interface endpoints' private DNS does not work",
        ),
    ];
    for (on, key, what, flag, effect) in checks {
        if on {
            continue;
        }
        r.report(
            vpc.origin.at(key),
            format!("{name} has {what} turned off: {effect}"),
        )
        .help = Some(match live {
            Some(id) if matches!(vpc.origin, Origin::Live(_)) => format!(
                "turn it on: `aws ec2 modify-vpc-attribute --vpc-id {id} --{flag} '{{\"Value\":true}}'`"
            ),
            Some(id) => format!(
                "set `{key}: true` (live: `aws ec2 modify-vpc-attribute --vpc-id {id} --{flag} '{{\"Value\":true}}'`)"
            ),
            None if crate::rules::template::in_template(cx.cluster) => format!(
                "set `{}: true` on {}",
                if key == "dnsSupport" { "EnableDnsSupport" } else { "EnableDnsHostnames" },
                crate::rules::template::named(&vpc.origin, "the VPC")
            ),
            None => format!("set `{key}: true` (the default) or remove the key"),
        });
    }
}
