use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA017",
    name: "vpc-endpoint-missing",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "Nodes in a subnet with no internet need a VPC endpoint that does not exist",
    doc: "## What it does
For every subnet with `internet: none` that a node group launches in, checks that the VPC has
an endpoint (interface or gateway) for each AWS service the deployment target and scheduler
need, and reports each service for which there is none at all. An endpoint that exists but
does not serve the subnet is rule EFA018's finding; one with private DNS off, EFA019's.

| target / scheduler | endpoints |
|---|---|
| `parallelcluster` | `logs`, `cloudformation`, `ec2` (interface); `s3`, `dynamodb` (gateway) |
| scheduler `kubernetes` (EKS) | `ec2`, `ecr.api`, `ecr.dkr`, `sts`, `logs`, `eks`, `eks-auth`; `s3` |
| `hyperpod` with `kubernetes` | the EKS list plus `monitoring`, `ssm`, `ssmmessages`, `ec2messages` |
| `hyperpod` with `slurm` | `ecr.api`, `ecr.dkr`, `sts`, `logs`, `monitoring`, `ssm`, `ssmmessages`, `ec2messages`; `s3` |
| `batch` (target or scheduler) | `batch`, `ecs`, `ecs-agent`, `ecs-telemetry`, `ecr.api`, `ecr.dkr`, `logs`, `ec2`; `s3` |
| `cloudformation` with `slurm` / `none` | `s3` (gateway) |
| any, with `mpi.sshKeySecret` | also `secretsmanager` |

The HyperPod sample's list also has `ec2`, marked as needed by the Kubernetes CNI plugin; a
Slurm cluster does not run it, so efactl does not require `ec2` there. Endpoints that are
optional in the sources (`ssm` for plain EC2 nodes, `xray`, `sqs`, `lambda`, observability)
are not required.

## Why it matters
A subnet with no route out of the VPC reaches AWS services only through VPC endpoints. Without
one, every call to that service (an SDK, the AWS CLI, an agent, the scheduler's daemons) hangs
until it times out: ParallelCluster's head node never signals its stack and cluster creation
fails after the timeout, EKS nodes never join, Batch container instances never register.

## Example
```yaml
target: parallelcluster
network:
  subnets:
    - { name: compute, cidr: 10.0.16.0/20, internet: none }
  endpoints:
    - service: s3
    - service: dynamodb
    # no logs, cloudformation or ec2
```

## Fix
Add the endpoint under `network.endpoints` (`- service: logs`); efactl places interface
endpoints in the subnets with no internet and gateway endpoints on their route tables. For a
live VPC:
`aws ec2 create-vpc-endpoint --vpc-id VPC --vpc-endpoint-type Interface --service-name com.amazonaws.REGION.logs --subnet-ids SUBNET --security-group-ids SG --private-dns-enabled`
(for `s3` / `dynamodb`: `--vpc-endpoint-type Gateway --route-table-ids RTB`).

## Source
efa-facts.md §7: ParallelCluster (PC-UG `network-configuration-v3.md`, \"AWS ParallelCluster
in a single subnet with no internet access\"); EKS (EKS-PRIV `private-clusters.adoc`); HyperPod
(ADAI `1.architectures/7.sagemaker-hyperpod-eks/.../vpc_endpoints/main.tf`); AWS Batch / ECS
(https://docs.aws.amazon.com/AmazonECS/latest/userguide/vpc-endpoints.html and the community
list https://gist.github.com/jousby/8a5e422d94821074b957a59d125b27a8). Secrets Manager for the
MPI key: efactl's nodes read it at boot.
",
    check: Some(check),
};

/// A service the nodes call: short service name, the endpoint type AWS offers for it (or the
/// one the sources use), and why it is needed.
pub(crate) type Need = (&'static str, EndpointType, &'static str);

use crate::model::EndpointType::{Gateway as G, Interface as I};

/// What the nodes of a deployment need from AWS when their subnet has no internet: the one
/// table of this rule (efa-facts.md §7).
pub(crate) fn required_endpoints(target: Target, scheduler: Scheduler) -> &'static [Need] {
    match (target, scheduler) {
        (Target::ParallelCluster, _) => &[
            (
                "logs",
                I,
                "ParallelCluster nodes send their logs to CloudWatch Logs",
            ),
            (
                "cloudformation",
                I,
                "ParallelCluster nodes read and signal the cluster's CloudFormation stack",
            ),
            (
                "ec2",
                I,
                "ParallelCluster's daemons call EC2 to launch and track compute nodes",
            ),
            (
                "s3",
                G,
                "ParallelCluster nodes fetch the cluster's configuration and scripts from S3",
            ),
            (
                "dynamodb",
                G,
                "ParallelCluster keeps the cluster's state in DynamoDB",
            ),
        ],
        (Target::HyperPod, Scheduler::Kubernetes) => &[
            (
                "ec2",
                I,
                "the VPC CNI plugin and the EKS-optimized AMI call EC2",
            ),
            (
                "ecr.api",
                I,
                "image pulls from ECR authenticate through the ECR API",
            ),
            ("ecr.dkr", I, "container images are pulled from ECR"),
            ("s3", G, "ECR serves image layers from S3"),
            (
                "sts",
                I,
                "IAM roles for service accounts use the regional STS endpoint",
            ),
            (
                "logs",
                I,
                "HyperPod and the nodes send logs to CloudWatch Logs",
            ),
            ("eks", I, "nodes call the EKS API to join the cluster"),
            (
                "eks-auth",
                I,
                "EKS Pod Identity gets pod credentials from eks-auth",
            ),
            ("monitoring", I, "HyperPod nodes publish CloudWatch metrics"),
            (
                "ssm",
                I,
                "HyperPod nodes are reached through SSM Session Manager",
            ),
            (
                "ssmmessages",
                I,
                "SSM Session Manager sessions to the nodes use ssmmessages",
            ),
            (
                "ec2messages",
                I,
                "the SSM agent on the nodes uses ec2messages",
            ),
        ],
        (_, Scheduler::Kubernetes) => &[
            (
                "ec2",
                I,
                "the VPC CNI plugin and the EKS-optimized AMI call EC2",
            ),
            (
                "ecr.api",
                I,
                "image pulls from ECR authenticate through the ECR API",
            ),
            ("ecr.dkr", I, "container images are pulled from ECR"),
            ("s3", G, "ECR serves image layers from S3"),
            (
                "sts",
                I,
                "IAM roles for service accounts use the regional STS endpoint",
            ),
            ("logs", I, "the nodes send logs to CloudWatch Logs"),
            ("eks", I, "nodes call the EKS API to join the cluster"),
            (
                "eks-auth",
                I,
                "EKS Pod Identity gets pod credentials from eks-auth",
            ),
        ],
        (Target::Batch, _) | (_, Scheduler::Batch) => &[
            (
                "batch",
                I,
                "the compute environment works through the AWS Batch API",
            ),
            (
                "ecs",
                I,
                "the ECS agent on each container instance calls the ECS API",
            ),
            (
                "ecs-agent",
                I,
                "the ECS agent keeps its control channel to ECS",
            ),
            (
                "ecs-telemetry",
                I,
                "the ECS agent sends container metrics to ECS",
            ),
            (
                "ecr.api",
                I,
                "image pulls from ECR authenticate through the ECR API",
            ),
            ("ecr.dkr", I, "job images are pulled from ECR"),
            ("logs", I, "job output goes to CloudWatch Logs"),
            (
                "ec2",
                I,
                "the compute environment's instances call the EC2 API",
            ),
            ("s3", G, "ECR serves image layers from S3"),
        ],
        (Target::HyperPod, _) => &[
            (
                "s3",
                G,
                "HyperPod nodes run lifecycle scripts they fetch from S3",
            ),
            (
                "logs",
                I,
                "HyperPod sends node and lifecycle-script logs to CloudWatch Logs",
            ),
            ("monitoring", I, "HyperPod nodes publish CloudWatch metrics"),
            (
                "ssm",
                I,
                "HyperPod nodes are reached through SSM Session Manager",
            ),
            (
                "ssmmessages",
                I,
                "SSM Session Manager sessions to the nodes use ssmmessages",
            ),
            (
                "ec2messages",
                I,
                "the SSM agent on the nodes uses ec2messages",
            ),
            (
                "sts",
                I,
                "SDK and CLI calls on the nodes use the regional STS endpoint",
            ),
            (
                "ecr.api",
                I,
                "container pulls from ECR authenticate through the ECR API",
            ),
            ("ecr.dkr", I, "container images are pulled from ECR"),
        ],
        (Target::CloudFormation, _) => &[(
            "s3",
            G,
            "the nodes' package repositories and bootstrap artifacts are served from S3",
        )],
    }
}

/// Every service the cluster's nodes need, the MPI key's Secrets Manager included.
pub(crate) fn needs(cluster: &Cluster) -> Vec<Need> {
    let mut out = required_endpoints(cluster.target, cluster.scheduler).to_vec();
    if cluster.mpi.as_ref().is_some_and(|m| m.secret.is_some()) {
        out.push((
            "secretsmanager",
            I,
            "the nodes read the MPI SSH key from Secrets Manager",
        ));
    }
    out
}

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    let subnets = crate::rules::node_subnets_without_internet(cluster);
    if subnets.is_empty() {
        return;
    }
    let needs = needs(cluster);
    for subnet in subnets {
        for &(service, kind, why) in &needs {
            if cluster.endpoints.iter().any(|e| e.service == service) {
                continue;
            }
            let kind_name = match kind {
                G => "gateway",
                I => "interface",
            };
            r.report(
                subnet.origin.subject(),
                format!(
                    "subnet `{}` has no route to the internet and the VPC has no endpoint for `{service}`: {why}",
                    subnet.key
                ),
            )
            .help = Some(match &subnet.origin {
                Origin::Live(id) => format!(
                    "create a {kind_name} endpoint: `aws ec2 create-vpc-endpoint --vpc-id {} --vpc-endpoint-type {} --service-name com.amazonaws.{}.{service} {}`",
                    cluster.vpc.id.as_deref().unwrap_or("VPC"),
                    if kind == G { "Gateway" } else { "Interface" },
                    if cluster.region.is_empty() { "REGION" } else { &cluster.region },
                    if kind == G {
                        format!("--route-table-ids {}", subnet.route_table)
                    } else {
                        format!("--subnet-ids {id} --private-dns-enabled")
                    }
                ),
                _ if crate::rules::template::in_template(cluster) => format!(
                    "add an `AWS::EC2::VPCEndpoint` with `ServiceName: !Sub com.amazonaws.${{AWS::Region}}.{service}`, `VpcEndpointType: {}` and {}",
                    if kind == G { "Gateway" } else { "Interface" },
                    if kind == G {
                        format!("the route table of {} in `RouteTableIds`", crate::rules::template::named(&subnet.origin, &subnet.key))
                    } else {
                        format!("{} in `SubnetIds`, `PrivateDnsEnabled: true` and a security group that admits HTTPS from the nodes", crate::rules::template::named(&subnet.origin, &subnet.key))
                    }
                ),
                _ if kind == G => format!(
                    "add `- service: {service}` under `network.endpoints` (a gateway endpoint on the subnet's route table)"
                ),
                _ => format!("add `- service: {service}` under `network.endpoints`"),
            });
        }
    }
}
