//! [`AwsBackend`]: efactl-core's [`CloudBackend`] over the AWS SDK for Rust.
//!
//! One tokio runtime per backend; each trait method blocks on it. Every list call is paged
//! to the end. Calls that split into independent requests (instances by id, security groups,
//! instance types: a few dozen ids per request) run concurrently, at most
//! [`AwsOptions::concurrency`] at once; core's `audit::collect` runs the reads of different
//! kinds concurrently on top of that. Throttling is retried by the SDK (standard mode,
//! exponential backoff with jitter); what is still throttled after that reaches the caller as
//! [`CloudError::Throttled`], which the deploy orchestration retries on its own clock.

use crate::convert;
use crate::error::{map, service_code};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation as cfn;
use aws_sdk_ec2 as ec2;
use aws_sdk_s3 as s3;
use aws_sdk_secretsmanager as sm;
use efactl_core::cloud::*;
use efactl_core::keys::SecretText;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// Ids per `DescribeInstances` / `DescribeSecurityGroups` request when they are split.
pub const IDS_PER_REQUEST: usize = 50;
/// Types per `DescribeInstanceTypes` request (the API's limit is 100).
pub const TYPES_PER_REQUEST: usize = 50;

/// How to reach AWS: the AWS CLI's options.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// `--profile`; else `AWS_PROFILE`, else `default`.
    pub profile: Option<String>,
    /// `--region`; else `AWS_REGION` / `AWS_DEFAULT_REGION`, else the profile's.
    pub region: Option<String>,
    /// `--endpoint-url`: one endpoint for every service (an emulator, a proxy).
    pub endpoint_url: Option<String>,
    /// Requests in flight at once inside one call (0: [`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
}

pub const DEFAULT_CONCURRENCY: usize = 8;

/// Who the credentials belong to (`sts:GetCallerIdentity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

pub struct AwsBackend {
    rt: tokio::runtime::Runtime,
    ec2: ec2::Client,
    cfn: cfn::Client,
    sm: sm::Client,
    sts: aws_sdk_sts::Client,
    s3: s3::Client,
    region: String,
    endpoint: String,
    concurrency: usize,
}

/// The body to send inline: none when the template goes by URL.
fn inline_body(t: &StackTemplate) -> Option<String> {
    t.url.is_none().then(|| t.body.clone())
}

/// The URL CloudFormation reads an uploaded template from: path style, which works for every
/// bucket name (virtual-hosted style breaks TLS for names with dots). China's regions use
/// their own domain. The key needs no escaping: `template_key` builds it from a stack name
/// (letters, digits and hyphens) and a hex hash.
pub fn template_url(region: &str, bucket: &str, key: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://s3.{region}.{domain}/{bucket}/{key}")
}

fn runtime() -> Result<tokio::runtime::Runtime, CloudError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("efactl-aws")
        .enable_all()
        .build()
        .map_err(|e| CloudError::Other {
            action: "starting the AWS client".into(),
            message: e.to_string(),
        })
}

/// The one HTTPS client of every SDK client and credential provider: hyper 1 with rustls on
/// ring, the system's root certificates.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The profile in use: `--profile`, else a non-empty `AWS_PROFILE`, else none (`default`).
pub fn selected_profile(flag: Option<&str>, env: Option<String>) -> Option<String> {
    flag.map(str::to_string)
        .or(env)
        .filter(|p| !p.trim().is_empty())
}

/// Whether the config file or the credentials file (`AWS_CONFIG_FILE`,
/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/`) defines `profile`, read by the SDK's own
/// parser. A file that cannot be parsed is an error of its own.
async fn profile_exists(profile: &str) -> Result<bool, CloudError> {
    use aws_types::os_shim_internal::{Env, Fs};
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    match aws_config::profile::load(&Fs::real(), &Env::real(), &files, None).await {
        Ok(set) => Ok(set.get_profile(profile).is_some()),
        Err(e) => Err(CloudError::BadConfig {
            detail: e.to_string(),
        }),
    }
}

/// `--endpoint-url` must be an absolute http(s) URL with a host, as the AWS CLI requires.
pub fn check_endpoint_url(url: &str) -> Result<(), CloudError> {
    let bad = |reason: &str| CloudError::BadEndpoint {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: http::Uri = url.parse().map_err(|_| bad("it is not a URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => {
            return Err(bad(&format!(
                "the scheme must be http or https, not `{other}`"
            )))
        }
        None => {
            return Err(bad(
                "it has no scheme (write http://HOST:PORT or https://HOST)",
            ))
        }
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(bad("it has no host")),
    }
}

impl AwsBackend {
    /// Loads the configuration the AWS CLI would (credential chain, profile, region,
    /// `AWS_*` variables) with `opts` on top, as the AWS CLI does:
    /// - an explicit `--profile` wins over credentials in the environment (the SDK's default
    ///   chain would read `AWS_ACCESS_KEY_ID` first and sign with another account's keys);
    /// - a profile named by `--profile` or `AWS_PROFILE` that no config or credentials file
    ///   defines is an error before any call ("the config profile (X) could not be found");
    /// - a malformed `--endpoint-url` is an error before any call.
    ///
    /// Fails when no region is set; credentials are resolved on the first call, whose error
    /// says what is missing.
    pub fn connect(opts: &AwsOptions) -> Result<AwsBackend, CloudError> {
        if let Some(u) = &opts.endpoint_url {
            check_endpoint_url(u)?;
        }
        let rt = runtime()?;
        let selected = selected_profile(opts.profile.as_deref(), std::env::var("AWS_PROFILE").ok());
        if let Some(p) = &selected {
            let explicit = opts.profile.is_some();
            if (explicit || p != "default") && !rt.block_on(profile_exists(p))? {
                return Err(CloudError::ProfileNotFound { profile: p.clone() });
            }
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
            // The profile's own credentials (keys, SSO, role, credential_process), never the
            // environment's: what the AWS CLI does with `--profile`.
            let provider_config = aws_config::provider_config::ProviderConfig::default()
                .with_http_client(https_client())
                .with_region(opts.region.clone().map(Region::new));
            loader = loader.credentials_provider(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .configure(&provider_config)
                    .profile_name(p)
                    .build(),
            );
        }
        if let Some(r) = &opts.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(u) = &opts.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        let config = rt.block_on(loader.load());
        AwsBackend::from_config(rt, &config, opts)
    }

    /// A backend over a configuration built elsewhere (tests replay recorded responses
    /// through an `SdkConfig` with a replay HTTP client).
    pub fn with_config(config: &SdkConfig, opts: &AwsOptions) -> Result<AwsBackend, CloudError> {
        AwsBackend::from_config(runtime()?, config, opts)
    }

    fn from_config(
        rt: tokio::runtime::Runtime,
        config: &SdkConfig,
        opts: &AwsOptions,
    ) -> Result<AwsBackend, CloudError> {
        let region = config
            .region()
            .map(|r| r.to_string())
            .filter(|r| !r.is_empty())
            .ok_or(CloudError::NoRegion)?;
        let endpoint = config
            .endpoint_url()
            .map(str::to_string)
            .unwrap_or_else(|| format!("AWS in {region}"));
        Ok(AwsBackend {
            ec2: ec2::Client::new(config),
            cfn: cfn::Client::new(config),
            sm: sm::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            // Path-style addressing: bucket names with dots, and an emulator's endpoint URL
            // (virtual-hosted style would put the bucket into its host name).
            s3: s3::Client::from_conf(
                s3::config::Builder::from(config)
                    .force_path_style(true)
                    .build(),
            ),
            rt,
            region,
            endpoint,
            concurrency: if opts.concurrency == 0 {
                DEFAULT_CONCURRENCY
            } else {
                opts.concurrency
            },
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Where calls go: the endpoint URL, or `AWS in REGION`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn block<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    fn err<E>(
        &self,
        action: &str,
    ) -> impl Fn(
        aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> CloudError
           + '_
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        let action = action.to_string();
        move |e| map(&action, &self.endpoint, e)
    }

    /// `sts:GetCallerIdentity`: the account the commands act on, shown before they change
    /// anything.
    pub fn identity(&self) -> Result<Identity, CloudError> {
        let out = self
            .block(self.sts.get_caller_identity().send())
            .map_err(self.err("sts:GetCallerIdentity"))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    /// Runs `f` over `chunks` at most `concurrency` at once; answers in the chunks' order.
    fn fan_out<C, T, F, Fut>(&self, chunks: Vec<C>, f: F) -> Result<Vec<T>, CloudError>
    where
        F: Fn(C) -> Fut,
        Fut: Future<Output = Result<Vec<T>, CloudError>>,
    {
        let out: Vec<Vec<T>> = self.block(
            stream::iter(chunks.into_iter().map(f))
                .buffered(self.concurrency)
                .try_collect(),
        )?;
        Ok(out.into_iter().flatten().collect())
    }

    async fn describe_instances(
        &self,
        ids: Option<Vec<String>>,
        filter: Option<(String, String)>,
    ) -> Result<Vec<InstanceRecord>, CloudError> {
        let mut req = self.ec2.describe_instances().set_instance_ids(ids);
        if let Some((name, value)) = filter {
            req = req.filters(
                ec2::types::Filter::builder()
                    .name(name)
                    .values(value)
                    .build(),
            );
        }
        let pages: Vec<_> = req
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(self.err("ec2:DescribeInstances"))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.reservations())
            .flat_map(|r| r.instances())
            .map(convert::instance)
            .collect())
    }
}

fn vpc_filter(vpc: &str) -> ec2::types::Filter {
    ec2::types::Filter::builder()
        .name("vpc-id")
        .values(vpc)
        .build()
}

fn chunks(items: &[String], n: usize) -> Vec<Vec<String>> {
    items.chunks(n.max(1)).map(<[String]>::to_vec).collect()
}

fn not_found<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    service_code(e).is_some_and(|(code, msg)| {
        crate::error::is_not_found_code(&code)
            || (code == "ValidationError" && msg.is_some_and(|m| m.contains("does not exist")))
    })
}

impl CloudBackend for AwsBackend {
    fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, CloudError> {
        match self.block(self.cfn.describe_stacks().stack_name(stack).send()) {
            Ok(out) => Ok(out.stacks().first().map(convert::stack)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(map("cloudformation:DescribeStacks", &self.endpoint, e)),
        }
    }

    fn stack_template(&self, stack: &str) -> Result<String, CloudError> {
        let out = self
            .block(
                self.cfn
                    .get_template()
                    .stack_name(stack)
                    .template_stage(cfn::types::TemplateStage::Original)
                    .send(),
            )
            .map_err(self.err("cloudformation:GetTemplate"))?;
        Ok(out.template_body().unwrap_or_default().to_string())
    }

    fn put_template(&self, bucket: &str, key: &str, body: &str) -> Result<String, CloudError> {
        self.block(
            self.s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/json")
                .body(s3::primitives::ByteStream::from(body.as_bytes().to_vec()))
                .send(),
        )
        .map_err(self.err("s3:PutObject"))?;
        Ok(template_url(&self.region, bucket, key))
    }

    fn create_stack(&self, t: &StackTemplate) -> Result<String, CloudError> {
        let out = self
            .block(
                self.cfn
                    .create_stack()
                    .stack_name(&t.name)
                    .set_template_body(inline_body(t))
                    .set_template_url(t.url.clone())
                    .set_parameters(parameters(&t.parameters))
                    .set_tags(stack_tags(&t.tags))
                    .set_capabilities(capabilities(&t.capabilities))
                    .on_failure(cfn::types::OnFailure::Rollback)
                    .send(),
            )
            .map_err(self.err("cloudformation:CreateStack"))?;
        Ok(out.stack_id().unwrap_or(&t.name).to_string())
    }

    fn create_change_set(&self, t: &StackTemplate, name: &str) -> Result<String, CloudError> {
        let out = self
            .block(
                self.cfn
                    .create_change_set()
                    .stack_name(&t.name)
                    .change_set_name(name)
                    .change_set_type(cfn::types::ChangeSetType::Update)
                    .set_template_body(inline_body(t))
                    .set_template_url(t.url.clone())
                    .set_parameters(parameters(&t.parameters))
                    .set_tags(stack_tags(&t.tags))
                    .set_capabilities(capabilities(&t.capabilities))
                    .send(),
            )
            .map_err(self.err("cloudformation:CreateChangeSet"))?;
        Ok(out.id().unwrap_or(name).to_string())
    }

    fn describe_change_set(&self, change_set: &str) -> Result<ChangeSet, CloudError> {
        self.block(async {
            let mut token: Option<String> = None;
            let mut cs: Option<ChangeSet> = None;
            // Bounded: CloudFormation pages change sets by the hundred.
            for _ in 0..1000 {
                let out = self
                    .cfn
                    .describe_change_set()
                    .change_set_name(change_set)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(self.err("cloudformation:DescribeChangeSet"))?;
                let changes = out.changes().iter().filter_map(convert::resource_change);
                match &mut cs {
                    Some(cs) => cs.changes.extend(changes),
                    None => {
                        cs = Some(ChangeSet {
                            id: out.change_set_id().unwrap_or(change_set).to_string(),
                            name: out.change_set_name().unwrap_or_default().to_string(),
                            stack_id: out.stack_id().unwrap_or_default().to_string(),
                            status: ChangeSetStatus::parse(
                                out.status().map(|s| s.as_str()).unwrap_or(""),
                            ),
                            status_reason: out
                                .status_reason()
                                .filter(|r| !r.is_empty())
                                .map(str::to_string),
                            changes: changes.collect(),
                        })
                    }
                }
                token = out
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            cs.ok_or_else(|| CloudError::NotFound {
                what: format!("change set {change_set}"),
            })
        })
    }

    fn execute_change_set(&self, change_set: &str) -> Result<(), CloudError> {
        self.block(
            self.cfn
                .execute_change_set()
                .change_set_name(change_set)
                .send(),
        )
        .map(|_| ())
        .map_err(self.err("cloudformation:ExecuteChangeSet"))
    }

    fn delete_change_set(&self, change_set: &str) -> Result<(), CloudError> {
        self.block(
            self.cfn
                .delete_change_set()
                .change_set_name(change_set)
                .send(),
        )
        .map(|_| ())
        .map_err(self.err("cloudformation:DeleteChangeSet"))
    }

    fn delete_stack(&self, stack: &str) -> Result<(), CloudError> {
        self.block(self.cfn.delete_stack().stack_name(stack).send())
            .map(|_| ())
            .map_err(self.err("cloudformation:DeleteStack"))
    }

    fn stack_events(
        &self,
        stack: &str,
        since: Option<Timestamp>,
    ) -> Result<Vec<StackEvent>, CloudError> {
        self.block(async {
            let mut pages = self
                .cfn
                .describe_stack_events()
                .stack_name(stack)
                .into_paginator()
                .send();
            let mut out = Vec::new();
            'pages: while let Some(page) = pages.next().await {
                let page = page.map_err(self.err("cloudformation:DescribeStackEvents"))?;
                // Newest first: stop at the first event older than `since`.
                for e in page.stack_events() {
                    let e = convert::stack_event(e);
                    if since.is_some_and(|s| e.timestamp < s) {
                        break 'pages;
                    }
                    out.push(e);
                }
            }
            out.reverse();
            Ok(out)
        })
    }

    fn stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, CloudError> {
        let out = self
            .block(self.cfn.describe_stack_resources().stack_name(stack).send())
            .map_err(self.err("cloudformation:DescribeStackResources"))?;
        Ok(out
            .stack_resources()
            .iter()
            .map(convert::stack_resource)
            .collect())
    }

    fn instances(&self, scope: &InstanceScope) -> Result<Vec<InstanceRecord>, CloudError> {
        let mut found = match scope {
            InstanceScope::Ids(ids) => self.fan_out(chunks(ids, IDS_PER_REQUEST), |c| {
                self.describe_instances(Some(c), None)
            })?,
            InstanceScope::Stack(name) => {
                // The stack's own instances, and those launched from its launch templates by
                // ParallelCluster, HyperPod or Batch, which carry efactl's cluster tag.
                let filters = vec![
                    (
                        "tag:aws:cloudformation:stack-name".to_string(),
                        name.clone(),
                    ),
                    ("tag:efactl:cluster".to_string(), name.clone()),
                ];
                self.fan_out(filters, |f| self.describe_instances(None, Some(f)))?
            }
            InstanceScope::Tag { key, value } => self.block(
                self.describe_instances(None, Some((format!("tag:{key}"), value.clone()))),
            )?,
            InstanceScope::PlacementGroup(p) => self.block(
                self.describe_instances(None, Some(("placement-group-name".into(), p.clone()))),
            )?,
            InstanceScope::Vpc(v) => {
                self.block(self.describe_instances(None, Some(("vpc-id".into(), v.clone()))))?
            }
        };
        let mut seen = std::collections::HashSet::new();
        found.retain(|i| seen.insert(i.id.clone()));
        Ok(found)
    }

    fn security_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroupRecord>, CloudError> {
        self.fan_out(chunks(ids, IDS_PER_REQUEST), |c| async move {
            let pages: Vec<_> = self
                .ec2
                .describe_security_groups()
                .set_group_ids(Some(c))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(self.err("ec2:DescribeSecurityGroups"))?;
            Ok(pages
                .iter()
                .flat_map(|p| p.security_groups())
                .map(convert::security_group)
                .collect())
        })
    }

    fn placement_groups(&self, names: &[String]) -> Result<Vec<PlacementGroupRecord>, CloudError> {
        let out = self
            .block(
                self.ec2
                    .describe_placement_groups()
                    .set_group_names(Some(names.to_vec()))
                    .send(),
            )
            .map_err(self.err("ec2:DescribePlacementGroups"))?;
        Ok(out
            .placement_groups()
            .iter()
            .filter_map(convert::placement_group)
            .collect())
    }

    fn vpc(&self, vpc_id: &str) -> Result<Option<VpcRecord>, CloudError> {
        self.block(async {
            let vpcs = match self.ec2.describe_vpcs().vpc_ids(vpc_id).send().await {
                Ok(v) => v,
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(map("ec2:DescribeVpcs", &self.endpoint, e)),
            };
            let Some(v) = vpcs.vpcs().first() else {
                return Ok(None);
            };
            let attr = |a: ec2::types::VpcAttributeName| {
                self.ec2
                    .describe_vpc_attribute()
                    .vpc_id(vpc_id)
                    .attribute(a)
                    .send()
            };
            let (support, hostnames) = futures_util::future::join(
                attr(ec2::types::VpcAttributeName::EnableDnsSupport),
                attr(ec2::types::VpcAttributeName::EnableDnsHostnames),
            )
            .await;
            let support = support.map_err(self.err("ec2:DescribeVpcAttribute"))?;
            let hostnames = hostnames.map_err(self.err("ec2:DescribeVpcAttribute"))?;
            Ok(Some(VpcRecord {
                id: v.vpc_id().unwrap_or(vpc_id).to_string(),
                cidr: v.cidr_block().map(str::to_string),
                dns_support: support
                    .enable_dns_support()
                    .and_then(|a| a.value())
                    .unwrap_or(true),
                dns_hostnames: hostnames
                    .enable_dns_hostnames()
                    .and_then(|a| a.value())
                    .unwrap_or(false),
            }))
        })
    }

    fn subnets(&self, vpc_id: &str) -> Result<Vec<SubnetRecord>, CloudError> {
        let pages: Vec<_> = self
            .block(
                self.ec2
                    .describe_subnets()
                    .filters(vpc_filter(vpc_id))
                    .into_paginator()
                    .send()
                    .try_collect(),
            )
            .map_err(self.err("ec2:DescribeSubnets"))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.subnets())
            .map(convert::subnet)
            .collect())
    }

    fn route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTableRecord>, CloudError> {
        let pages: Vec<_> = self
            .block(
                self.ec2
                    .describe_route_tables()
                    .filters(vpc_filter(vpc_id))
                    .into_paginator()
                    .send()
                    .try_collect(),
            )
            .map_err(self.err("ec2:DescribeRouteTables"))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.route_tables())
            .map(convert::route_table)
            .collect())
    }

    fn vpc_endpoints(&self, vpc_id: &str) -> Result<Vec<VpcEndpointRecord>, CloudError> {
        let pages: Vec<_> = self
            .block(
                self.ec2
                    .describe_vpc_endpoints()
                    .filters(vpc_filter(vpc_id))
                    .into_paginator()
                    .send()
                    .try_collect(),
            )
            .map_err(self.err("ec2:DescribeVpcEndpoints"))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.vpc_endpoints())
            .map(convert::vpc_endpoint)
            .collect())
    }

    fn network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAclRecord>, CloudError> {
        let pages: Vec<_> = self
            .block(
                self.ec2
                    .describe_network_acls()
                    .filters(vpc_filter(vpc_id))
                    .into_paginator()
                    .send()
                    .try_collect(),
            )
            .map_err(self.err("ec2:DescribeNetworkAcls"))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.network_acls())
            .map(convert::network_acl)
            .collect())
    }

    fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceTypeRecord>, CloudError> {
        self.fan_out(chunks(names, TYPES_PER_REQUEST), |c| async move {
            let pages: Vec<_> = self
                .ec2
                .describe_instance_types()
                .set_instance_types(Some(
                    c.iter()
                        .map(|n| ec2::types::InstanceType::from(n.as_str()))
                        .collect(),
                ))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(self.err("ec2:DescribeInstanceTypes"))?;
            Ok(pages
                .iter()
                .flat_map(|p| p.instance_types())
                .map(convert::instance_type)
                .collect())
        })
    }

    fn all_instance_types(&self) -> Result<Vec<InstanceTypeRecord>, CloudError> {
        let pages: Vec<_> = self
            .block(
                self.ec2
                    .describe_instance_types()
                    .max_results(100)
                    .into_paginator()
                    .send()
                    .try_collect(),
            )
            .map_err(self.err("ec2:DescribeInstanceTypes"))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.instance_types())
            .map(convert::instance_type)
            .collect())
    }

    fn console_outputs(&self, ids: &[String]) -> Result<Vec<(String, Option<String>)>, CloudError> {
        self.fan_out(ids.to_vec(), |id| async move {
            let out = self
                .ec2
                .get_console_output()
                .instance_id(&id)
                .latest(true)
                .send()
                .await
                .map_err(self.err("ec2:GetConsoleOutput"))?;
            let text = out
                .output()
                .filter(|o| !o.is_empty())
                .and_then(|o| aws_smithy_types::base64::decode(o).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            Ok(vec![(id, text)])
        })
    }

    fn describe_secret(&self, secret: &str) -> Result<Option<SecretRecord>, CloudError> {
        match self.block(self.sm.describe_secret().secret_id(secret).send()) {
            Ok(out) => Ok(Some(convert::secret(&out))),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(map("secretsmanager:DescribeSecret", &self.endpoint, e)),
        }
    }

    fn secret_value(&self, secret: &str) -> Result<SecretText, CloudError> {
        let out = self
            .block(self.sm.get_secret_value().secret_id(secret).send())
            .map_err(self.err("secretsmanager:GetSecretValue"))?;
        match out.secret_string() {
            Some(text) => Ok(SecretText::new(text)),
            None => Err(CloudError::Other {
                action: "secretsmanager:GetSecretValue".into(),
                message: format!("secret `{secret}` holds binary data, not a SecretString"),
            }),
        }
    }

    fn create_secret(
        &self,
        name: &str,
        value: &SecretText,
        kms_key: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, CloudError> {
        let out = self
            .block(
                self.sm
                    .create_secret()
                    .name(name)
                    .secret_string(value.expose())
                    .set_kms_key_id(kms_key.map(str::to_string))
                    .set_tags(Some(
                        tags.iter()
                            .map(|(k, v)| sm::types::Tag::builder().key(k).value(v).build())
                            .collect(),
                    ))
                    .send(),
            )
            .map_err(self.err("secretsmanager:CreateSecret"))?;
        Ok(out.arn().unwrap_or(name).to_string())
    }

    fn put_secret_value(&self, secret: &str, value: &SecretText) -> Result<(), CloudError> {
        self.block(
            self.sm
                .put_secret_value()
                .secret_id(secret)
                .secret_string(value.expose())
                .send(),
        )
        .map(|_| ())
        .map_err(self.err("secretsmanager:PutSecretValue"))
    }
}

fn parameters(p: &BTreeMap<String, String>) -> Option<Vec<cfn::types::Parameter>> {
    Some(
        p.iter()
            .map(|(k, v)| {
                cfn::types::Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect(),
    )
    .filter(|v: &Vec<_>| !v.is_empty())
}

fn stack_tags(t: &BTreeMap<String, String>) -> Option<Vec<cfn::types::Tag>> {
    Some(
        t.iter()
            .map(|(k, v)| cfn::types::Tag::builder().key(k).value(v).build())
            .collect(),
    )
    .filter(|v: &Vec<_>| !v.is_empty())
}

fn capabilities(c: &[Capability]) -> Option<Vec<cfn::types::Capability>> {
    Some(
        c.iter()
            .map(|c| cfn::types::Capability::from(c.as_str()))
            .collect(),
    )
    .filter(|v: &Vec<_>| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_urls_are_path_style() {
        assert_eq!(
            template_url("eu-west-1", "my.templates", "efactl/c5n/template-00ff.json"),
            "https://s3.eu-west-1.amazonaws.com/my.templates/efactl/c5n/template-00ff.json"
        );
        assert_eq!(
            template_url("cn-north-1", "b", "efactl/c5n/t.json"),
            "https://s3.cn-north-1.amazonaws.com.cn/b/efactl/c5n/t.json"
        );
    }

    #[test]
    fn a_template_with_a_url_is_not_sent_inline() {
        let mut t = StackTemplate {
            name: "s".into(),
            body: "{\"Resources\":{}}".into(),
            url: None,
            parameters: BTreeMap::new(),
            tags: BTreeMap::new(),
            capabilities: Vec::new(),
        };
        assert_eq!(inline_body(&t).as_deref(), Some(t.body.as_str()));
        t.url = Some("https://s3.us-east-1.amazonaws.com/b/k".into());
        assert_eq!(inline_body(&t), None);
    }
}
