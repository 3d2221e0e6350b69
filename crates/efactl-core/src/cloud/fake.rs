//! An AWS account in memory, and a clock that only moves when slept on: what the
//! orchestration, the audit and the CLI's own tests run against. Public and behind no feature,
//! so that the CLI's tests can use it too; it holds nothing a production build would call.
//!
//! Stacks move through scripted [`Step`]s, one per `DescribeStacks`, the way CloudFormation
//! moves while a caller polls: each step sets the status and adds the step's events. Without a
//! script a creation, update or deletion succeeds in three polls. Any call can be made to fail
//! (`fail`), every call is recorded (`calls`), and the audit reads answer from a
//! [`LiveState`].

use super::audit::LiveState;
use super::records::*;
use super::stack::*;
use super::time::{Clock, Timestamp, Wake};
use super::{CloudBackend, CloudError};
use crate::keys::SecretText;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// The trait's methods that change something in the account.
pub const MUTATING: &[&str] = &[
    "put_template",
    "create_stack",
    "create_change_set",
    "execute_change_set",
    "delete_change_set",
    "delete_stack",
    "create_secret",
    "put_secret_value",
];

/// The account and request id CloudFormation's API reference uses in its examples.
pub const ACCOUNT: &str = "123456789012";

/// One resource event of a scripted step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeEvent {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
    pub status: ResourceStatus,
    pub reason: Option<String>,
}

/// What one poll of a stack reveals: its new status and the events that led there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub status: StackStatus,
    pub reason: Option<String>,
    pub events: Vec<FakeEvent>,
}

impl Step {
    pub fn new(status: StackStatus) -> Step {
        Step {
            status,
            reason: None,
            events: Vec::new(),
        }
    }

    pub fn reason(mut self, reason: &str) -> Step {
        self.reason = Some(reason.to_string());
        self
    }

    /// Adds a resource event.
    pub fn event(
        mut self,
        logical_id: &str,
        resource_type: &str,
        status: ResourceStatus,
        reason: Option<&str>,
    ) -> Step {
        self.events.push(FakeEvent {
            logical_id: logical_id.into(),
            resource_type: resource_type.into(),
            physical_id: None,
            status,
            reason: reason.map(str::to_string),
        });
        self
    }

    /// Adds an event of the stack itself (with the stack's status as it is after the step).
    pub fn stack_event(mut self, reason: Option<&str>) -> Step {
        self.events.push(FakeEvent {
            logical_id: String::new(),
            resource_type: STACK_RESOURCE_TYPE.into(),
            physical_id: None,
            status: ResourceStatus::parse(self.status.as_str()),
            reason: reason.map(str::to_string),
        });
        self
    }
}

#[derive(Debug, Clone)]
struct FakeStack {
    id: String,
    name: String,
    status: StackStatus,
    reason: Option<String>,
    body: String,
    parameters: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    outputs: Vec<StackOutput>,
    created: Timestamp,
    last_updated: Option<Timestamp>,
    events: Vec<StackEvent>,
    pending: VecDeque<Step>,
}

#[derive(Debug, Clone)]
struct FakeChangeSet {
    set: ChangeSet,
    template: StackTemplate,
    /// Describes left before it is ready.
    polls_left: u32,
}

#[derive(Debug, Default)]
struct State {
    stacks: Vec<FakeStack>,
    change_sets: Vec<FakeChangeSet>,
    calls: Vec<String>,
    failures: Vec<(String, CloudError, u32)>,
    scripts: HashMap<(String, &'static str), VecDeque<Step>>,
    live: LiveState,
    consoles: BTreeMap<String, String>,
    secrets: BTreeMap<String, (SecretRecord, Option<SecretText>)>,
    /// Uploaded templates by URL.
    objects: BTreeMap<String, String>,
    aws_time: i64,
    serial: u32,
}

impl State {
    fn tick(&mut self) -> Timestamp {
        self.aws_time += 1000;
        Timestamp(self.aws_time)
    }

    fn find(&self, stack: &str) -> Option<usize> {
        // By ARN: any stack, deleted or not. By name: the live one only.
        self.stacks.iter().position(|s| s.id == stack).or_else(|| {
            self.stacks
                .iter()
                .position(|s| s.name == stack && s.status != StackStatus::DeleteComplete)
        })
    }

    fn apply(&mut self, i: usize, step: Step) {
        let t = self.tick();
        let s = &mut self.stacks[i];
        s.status = step.status.clone();
        s.reason = step.reason.clone();
        for e in step.events {
            self.serial += 1;
            let serial = self.serial;
            let s = &mut self.stacks[i];
            let stack_event = e.resource_type == STACK_RESOURCE_TYPE && e.logical_id.is_empty();
            let logical_id = if stack_event {
                s.name.clone()
            } else {
                e.logical_id.clone()
            };
            let physical_id = if stack_event {
                Some(s.id.clone())
            } else {
                e.physical_id
            };
            s.events.push(StackEvent {
                event_id: format!("{logical_id}-{}-{serial}", e.status),
                timestamp: t,
                logical_id,
                physical_id,
                resource_type: e.resource_type,
                status: e.status,
                reason: e.reason,
            });
        }
    }

    fn start(&mut self, i: usize, status: StackStatus, script: VecDeque<Step>) {
        self.apply(i, Step::new(status).stack_event(Some("User Initiated")));
        self.stacks[i].pending = script;
    }
}

/// An AWS account in memory. See the module documentation.
#[derive(Debug, Default)]
pub struct FakeBackend {
    state: Mutex<State>,
}

fn resources(body: &str) -> BTreeMap<String, serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("Resources")?.as_object().cloned())
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

fn resource_type(v: &serde_json::Value) -> String {
    v.get("Type")
        .and_then(|t| t.as_str())
        .unwrap_or("AWS::CloudFormation::WaitConditionHandle")
        .to_string()
}

impl FakeBackend {
    pub fn new() -> FakeBackend {
        let f = FakeBackend::default();
        // Event times start where the DescribeStackEvents example of the API reference does.
        f.with(|s| s.aws_time = 1_458_075_240_000);
        f
    }

    /// What `GetConsoleOutput` answers for an instance.
    pub fn set_console(&self, instance: &str, text: &str) {
        self.with(|s| s.consoles.insert(instance.to_string(), text.to_string()));
    }

    /// An account whose audit reads answer from `live`.
    pub fn with_live(live: LiveState) -> FakeBackend {
        let f = FakeBackend::new();
        f.with(|s| s.live = live);
        f
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A test that panicked while holding the lock leaves the state as it was; the fake
        // is still usable for the next assertion.
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Records the call and answers with an injected failure, if one is due.
    fn enter(&self, method: &str) -> Result<(), CloudError> {
        self.with(|s| {
            s.calls.push(method.to_string());
            if let Some(f) = s.failures.iter_mut().find(|f| f.0 == method && f.2 > 0) {
                f.2 -= 1;
                return Err(f.1.clone());
            }
            Ok(())
        })
    }

    /// The next `times` calls of `method` (a trait method's name) fail with `error`.
    pub fn fail(&self, method: &str, error: CloudError, times: u32) {
        self.with(|s| s.failures.push((method.to_string(), error, times)));
    }

    /// Every call so far, by method name.
    pub fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }

    /// The calls so far that change something.
    pub fn mutating_calls(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| MUTATING.contains(&c.as_str()))
            .collect()
    }

    /// What the stack's creation will do, poll by poll (instead of succeeding).
    pub fn script_create(&self, stack: &str, steps: Vec<Step>) {
        self.with(|s| s.scripts.insert((stack.into(), "create"), steps.into()));
    }

    pub fn script_update(&self, stack: &str, steps: Vec<Step>) {
        self.with(|s| s.scripts.insert((stack.into(), "update"), steps.into()));
    }

    pub fn script_delete(&self, stack: &str, steps: Vec<Step>) {
        self.with(|s| s.scripts.insert((stack.into(), "delete"), steps.into()));
    }

    /// A stack that exists already, with its template and status; returns its ARN.
    pub fn put_stack(&self, template: &StackTemplate, status: StackStatus) -> String {
        self.with(|s| {
            let t = s.tick();
            let id = format!(
                "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{}/{:08x}-a413-11df-adb3-5081b3858e83",
                template.name,
                s.stacks.len()
            );
            s.stacks.push(FakeStack {
                id: id.clone(),
                name: template.name.clone(),
                status,
                reason: None,
                body: template.body.clone(),
                parameters: template.parameters.clone(),
                tags: template.tags.clone(),
                outputs: Vec::new(),
                created: t,
                last_updated: None,
                events: Vec::new(),
                pending: VecDeque::new(),
            });
            id
        })
    }

    /// Every event of a stack so far (by name or ARN).
    pub fn events(&self, stack: &str) -> Vec<StackEvent> {
        self.with(|s| {
            s.find(stack)
                .map(|i| s.stacks[i].events.clone())
                .unwrap_or_default()
        })
    }

    /// A secret, with a value or none.
    /// A template uploaded with `put_template`, by URL.
    pub fn object(&self, url: &str) -> Option<String> {
        self.with(|s| s.objects.get(url).cloned())
    }

    /// As CloudFormation: a `TemplateURL` must name an uploaded object holding the body.
    fn check_url(&self, template: &StackTemplate, action: &str) -> Result<(), CloudError> {
        let Some(url) = &template.url else {
            return Ok(());
        };
        match self.object(url) {
            Some(body) if body == template.body => Ok(()),
            Some(_) => Err(CloudError::Validation {
                action: action.into(),
                message: format!("the object at {url} is not this template"),
            }),
            None => Err(CloudError::Validation {
                action: action.into(),
                message: format!(
                    "TemplateURL must reference a valid S3 object to which you have access: {url}"
                ),
            }),
        }
    }

    pub fn put_secret(&self, name: &str, value: Option<&str>) -> String {
        let arn = format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-a1b2c3");
        self.with(|s| {
            s.secrets.insert(
                name.to_string(),
                (
                    SecretRecord {
                        arn: arn.clone(),
                        name: name.to_string(),
                        ..SecretRecord::default()
                    },
                    value.map(SecretText::new),
                ),
            )
        });
        arn
    }

    /// A secret's current value, for tests of `keys`.
    pub fn secret(&self, name: &str) -> Option<SecretText> {
        self.with(|s| s.secrets.get(name).and_then(|(_, v)| v.clone()))
    }

    fn default_script(
        kind: &'static str,
        body: &str,
        changes: &[ResourceChange],
    ) -> VecDeque<Step> {
        let res = resources(body);
        match kind {
            "create" => {
                let mut going = Step::new(StackStatus::CreateInProgress);
                let mut done = Step::new(StackStatus::CreateInProgress);
                for (id, r) in &res {
                    going = going.event(
                        id,
                        &resource_type(r),
                        ResourceStatus::CreateInProgress,
                        None,
                    );
                    done = done.event(id, &resource_type(r), ResourceStatus::CreateComplete, None);
                }
                vec![
                    going,
                    done,
                    Step::new(StackStatus::CreateComplete).stack_event(None),
                ]
                .into()
            }
            "update" => {
                let mut done = Step::new(StackStatus::UpdateInProgress);
                for c in changes {
                    let status = match c.action {
                        ChangeAction::Remove => ResourceStatus::DeleteComplete,
                        ChangeAction::Add => ResourceStatus::CreateComplete,
                        _ => ResourceStatus::UpdateComplete,
                    };
                    done = done.event(&c.logical_id, &c.resource_type, status, None);
                }
                vec![
                    done,
                    Step::new(StackStatus::UpdateCompleteCleanupInProgress).stack_event(None),
                    Step::new(StackStatus::UpdateComplete).stack_event(None),
                ]
                .into()
            }
            _ => {
                let mut done = Step::new(StackStatus::DeleteInProgress);
                for (id, r) in &res {
                    done = done.event(id, &resource_type(r), ResourceStatus::DeleteComplete, None);
                }
                vec![
                    done,
                    Step::new(StackStatus::DeleteComplete).stack_event(None),
                ]
                .into()
            }
        }
    }
}

impl CloudBackend for FakeBackend {
    fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, CloudError> {
        self.enter("describe_stack")?;
        Ok(self.with(|s| {
            let i = s.find(stack)?;
            if let Some(step) = s.stacks[i].pending.pop_front() {
                s.apply(i, step);
            }
            let st = &s.stacks[i];
            Some(StackInfo {
                id: st.id.clone(),
                name: st.name.clone(),
                status: st.status.clone(),
                status_reason: st.reason.clone(),
                outputs: st.outputs.clone(),
                parameters: st.parameters.clone(),
                tags: st.tags.clone(),
                created: st.created,
                last_updated: st.last_updated,
            })
        }))
    }

    fn stack_template(&self, stack: &str) -> Result<String, CloudError> {
        self.enter("stack_template")?;
        self.with(|s| {
            s.find(stack)
                .map(|i| s.stacks[i].body.clone())
                .ok_or_else(|| CloudError::Validation {
                    action: "cloudformation:GetTemplate".into(),
                    message: format!("Stack with id {stack} does not exist"),
                })
        })
    }

    fn put_template(&self, bucket: &str, key: &str, body: &str) -> Result<String, CloudError> {
        self.enter("put_template")?;
        let url = format!("https://s3.us-east-1.amazonaws.com/{bucket}/{key}");
        self.with(|s| s.objects.insert(url.clone(), body.to_string()));
        Ok(url)
    }

    fn create_stack(&self, template: &StackTemplate) -> Result<String, CloudError> {
        self.enter("create_stack")?;
        self.check_url(template, "cloudformation:CreateStack")?;
        if self.with(|s| s.find(&template.name).is_some()) {
            return Err(CloudError::Validation {
                action: "cloudformation:CreateStack".into(),
                message: format!("Stack [{}] already exists", template.name),
            });
        }
        let id = self.put_stack(template, StackStatus::CreateInProgress);
        self.with(|s| {
            let script = s
                .scripts
                .remove(&(template.name.clone(), "create"))
                .unwrap_or_else(|| FakeBackend::default_script("create", &template.body, &[]));
            let i = s.stacks.len() - 1;
            s.start(i, StackStatus::CreateInProgress, script);
        });
        Ok(id)
    }

    fn create_change_set(
        &self,
        template: &StackTemplate,
        name: &str,
    ) -> Result<String, CloudError> {
        self.enter("create_change_set")?;
        self.check_url(template, "cloudformation:CreateChangeSet")?;
        self.with(|s| {
            let Some(i) = s.find(&template.name) else {
                return Err(CloudError::Validation {
                    action: "cloudformation:CreateChangeSet".into(),
                    message: format!("Stack [{}] does not exist", template.name),
                });
            };
            let st = &s.stacks[i];
            let (old, new) = (resources(&st.body), resources(&template.body));
            let mut changes = Vec::new();
            for (id, r) in &new {
                match old.get(id) {
                    None => changes.push((ChangeAction::Add, id, r, None)),
                    Some(o) if o != r => {
                        // Like CloudFormation: a changed type or name replaces the resource.
                        let replace = o.get("Type") != r.get("Type")
                            || o.pointer("/Properties/GroupName") != r.pointer("/Properties/GroupName");
                        let rep = if replace { Replacement::True } else { Replacement::False };
                        changes.push((ChangeAction::Modify, id, r, Some(rep)))
                    }
                    _ => {}
                }
            }
            for (id, r) in &old {
                if !new.contains_key(id) {
                    changes.push((ChangeAction::Remove, id, r, None));
                }
            }
            let changes: Vec<ResourceChange> = changes
                .into_iter()
                .map(|(action, id, r, replacement)| ResourceChange {
                    physical_id: (action != ChangeAction::Add).then(|| format!("{id}-physical")),
                    action,
                    logical_id: id.clone(),
                    resource_type: resource_type(r),
                    replacement,
                    properties: Vec::new(),
                })
                .collect();
            let same = changes.is_empty() && st.parameters == template.parameters && st.tags == template.tags;
            let id = format!(
                "arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/{name}/{:08x}-1a2b-4c5d-8e9f-0a1b2c3d4e5f",
                s.change_sets.len()
            );
            s.change_sets.push(FakeChangeSet {
                set: ChangeSet {
                    id: id.clone(),
                    name: name.to_string(),
                    stack_id: st.id.clone(),
                    status: if same { ChangeSetStatus::Failed } else { ChangeSetStatus::CreateComplete },
                    status_reason: same.then(|| "The submitted information didn't contain changes. Submit different information to create a change set.".to_string()),
                    changes,
                },
                template: template.clone(),
                polls_left: 1,
            });
            Ok(id)
        })
    }

    fn describe_change_set(&self, change_set: &str) -> Result<ChangeSet, CloudError> {
        self.enter("describe_change_set")?;
        self.with(|s| {
            let cs = s
                .change_sets
                .iter_mut()
                .find(|c| c.set.id == change_set)
                .ok_or_else(|| CloudError::NotFound {
                    what: format!("change set {change_set}"),
                })?;
            if cs.polls_left > 0 {
                cs.polls_left -= 1;
                let mut pending = cs.set.clone();
                pending.status = ChangeSetStatus::CreateInProgress;
                pending.status_reason = None;
                pending.changes.clear();
                return Ok(pending);
            }
            Ok(cs.set.clone())
        })
    }

    fn execute_change_set(&self, change_set: &str) -> Result<(), CloudError> {
        self.enter("execute_change_set")?;
        self.with(|s| {
            let at = s
                .change_sets
                .iter()
                .position(|c| c.set.id == change_set)
                .ok_or_else(|| CloudError::NotFound {
                    what: format!("change set {change_set}"),
                })?;
            let cs = s.change_sets.remove(at);
            let i = s
                .find(&cs.set.stack_id)
                .ok_or_else(|| CloudError::NotFound {
                    what: format!("stack {}", cs.set.stack_id),
                })?;
            let name = s.stacks[i].name.clone();
            let script = s
                .scripts
                .remove(&(name, "update"))
                .unwrap_or_else(|| FakeBackend::default_script("update", "", &cs.set.changes));
            let t = s.tick();
            let st = &mut s.stacks[i];
            st.body = cs.template.body.clone();
            st.parameters = cs.template.parameters.clone();
            st.tags = cs.template.tags.clone();
            st.last_updated = Some(t);
            s.start(i, StackStatus::UpdateInProgress, script);
            Ok(())
        })
    }

    fn delete_change_set(&self, change_set: &str) -> Result<(), CloudError> {
        self.enter("delete_change_set")?;
        self.with(|s| s.change_sets.retain(|c| c.set.id != change_set));
        Ok(())
    }

    fn delete_stack(&self, stack: &str) -> Result<(), CloudError> {
        self.enter("delete_stack")?;
        self.with(|s| {
            // Like CloudFormation: deleting a stack that does not exist succeeds.
            let Some(i) = s.find(stack) else { return };
            let name = s.stacks[i].name.clone();
            let script = s
                .scripts
                .remove(&(name, "delete"))
                .unwrap_or_else(|| FakeBackend::default_script("delete", &s.stacks[i].body, &[]));
            s.start(i, StackStatus::DeleteInProgress, script);
        });
        Ok(())
    }

    fn stack_events(
        &self,
        stack: &str,
        since: Option<Timestamp>,
    ) -> Result<Vec<StackEvent>, CloudError> {
        self.enter("stack_events")?;
        self.with(|s| {
            let i = s.find(stack).ok_or_else(|| CloudError::Validation {
                action: "cloudformation:DescribeStackEvents".into(),
                message: format!("Stack [{stack}] does not exist"),
            })?;
            Ok(s.stacks[i]
                .events
                .iter()
                .filter(|e| since.is_none_or(|t| e.timestamp >= t))
                .cloned()
                .collect())
        })
    }

    fn stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, CloudError> {
        self.enter("stack_resources")?;
        self.with(|s| {
            let i = s.find(stack).ok_or_else(|| CloudError::Validation {
                action: "cloudformation:DescribeStackResources".into(),
                message: format!("Stack with id {stack} does not exist"),
            })?;
            let st = &s.stacks[i];
            // The latest event of each resource is its status.
            let mut latest: BTreeMap<&str, &StackEvent> = BTreeMap::new();
            for e in st.events.iter().filter(|e| !e.is_stack(&st.name)) {
                latest.insert(e.logical_id.as_str(), e);
            }
            Ok(resources(&st.body)
                .iter()
                .map(|(id, v)| {
                    let e = latest.get(id.as_str());
                    StackResource {
                        logical_id: id.clone(),
                        physical_id: e.and_then(|e| e.physical_id.clone()),
                        resource_type: resource_type(v),
                        status: e
                            .map(|e| e.status.clone())
                            .unwrap_or(ResourceStatus::CreateComplete),
                        reason: e.and_then(|e| e.reason.clone()),
                    }
                })
                .collect())
        })
    }

    fn instances(&self, scope: &InstanceScope) -> Result<Vec<InstanceRecord>, CloudError> {
        self.enter("instances")?;
        Ok(self.with(|s| {
            s.live
                .instances
                .iter()
                .filter(|i| match scope {
                    InstanceScope::Stack(n) => {
                        i.tags.get("aws:cloudformation:stack-name") == Some(n)
                            || i.tags.get("efactl:cluster") == Some(n)
                    }
                    InstanceScope::Tag { key, value } => i.tags.get(key) == Some(value),
                    InstanceScope::Ids(ids) => ids.contains(&i.id),
                    InstanceScope::PlacementGroup(p) => i.placement_group.as_ref() == Some(p),
                    InstanceScope::Vpc(v) => i.vpc_id.as_ref() == Some(v),
                })
                .cloned()
                .collect()
        }))
    }

    fn security_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroupRecord>, CloudError> {
        self.enter("security_groups")?;
        Ok(self.with(|s| {
            s.live
                .security_groups
                .iter()
                .filter(|g| ids.contains(&g.id))
                .cloned()
                .collect()
        }))
    }

    fn placement_groups(&self, names: &[String]) -> Result<Vec<PlacementGroupRecord>, CloudError> {
        self.enter("placement_groups")?;
        Ok(self.with(|s| {
            s.live
                .placement_groups
                .iter()
                .filter(|g| names.contains(&g.name))
                .cloned()
                .collect()
        }))
    }

    fn vpc(&self, vpc_id: &str) -> Result<Option<VpcRecord>, CloudError> {
        self.enter("vpc")?;
        Ok(self.with(|s| s.live.vpcs.iter().find(|v| v.id == vpc_id).cloned()))
    }

    fn subnets(&self, vpc_id: &str) -> Result<Vec<SubnetRecord>, CloudError> {
        self.enter("subnets")?;
        Ok(self.with(|s| {
            s.live
                .subnets
                .iter()
                .filter(|x| x.vpc_id == vpc_id)
                .cloned()
                .collect()
        }))
    }

    fn route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTableRecord>, CloudError> {
        self.enter("route_tables")?;
        Ok(self.with(|s| {
            s.live
                .route_tables
                .iter()
                .filter(|x| x.vpc_id == vpc_id)
                .cloned()
                .collect()
        }))
    }

    fn vpc_endpoints(&self, vpc_id: &str) -> Result<Vec<VpcEndpointRecord>, CloudError> {
        self.enter("vpc_endpoints")?;
        Ok(self.with(|s| {
            s.live
                .endpoints
                .iter()
                .filter(|x| x.vpc_id == vpc_id)
                .cloned()
                .collect()
        }))
    }

    fn network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAclRecord>, CloudError> {
        self.enter("network_acls")?;
        Ok(self.with(|s| {
            s.live
                .network_acls
                .iter()
                .filter(|x| x.vpc_id == vpc_id)
                .cloned()
                .collect()
        }))
    }

    fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceTypeRecord>, CloudError> {
        self.enter("instance_types")?;
        Ok(self.with(|s| {
            s.live
                .instance_types
                .iter()
                .filter(|t| names.contains(&t.name))
                .cloned()
                .collect()
        }))
    }

    fn all_instance_types(&self) -> Result<Vec<InstanceTypeRecord>, CloudError> {
        self.enter("all_instance_types")?;
        Ok(self.with(|s| s.live.instance_types.clone()))
    }

    fn console_outputs(&self, ids: &[String]) -> Result<Vec<(String, Option<String>)>, CloudError> {
        self.enter("console_outputs")?;
        Ok(self.with(|s| {
            ids.iter()
                .map(|i| (i.clone(), s.consoles.get(i).cloned()))
                .collect()
        }))
    }

    fn describe_secret(&self, secret: &str) -> Result<Option<SecretRecord>, CloudError> {
        self.enter("describe_secret")?;
        Ok(self.with(|s| {
            s.secrets
                .values()
                .find(|(r, _)| r.name == secret || r.arn == secret)
                .map(|(r, _)| r.clone())
        }))
    }

    fn secret_value(&self, secret: &str) -> Result<SecretText, CloudError> {
        self.enter("secret_value")?;
        self.with(|s| {
            s.secrets
                .values()
                .find(|(r, _)| r.name == secret || r.arn == secret)
                .and_then(|(_, v)| v.clone())
                .ok_or_else(|| CloudError::NotFound {
                    what: format!("a value of secret {secret}"),
                })
        })
    }

    fn create_secret(
        &self,
        name: &str,
        value: &SecretText,
        kms_key: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, CloudError> {
        self.enter("create_secret")?;
        if self.with(|s| s.secrets.contains_key(name)) {
            return Err(CloudError::Validation {
                action: "secretsmanager:CreateSecret".into(),
                message: format!("The operation failed because the secret {name} already exists."),
            });
        }
        let arn = self.put_secret(name, Some(value.expose()));
        self.with(|s| {
            if let Some((r, _)) = s.secrets.get_mut(name) {
                r.kms_key = kms_key.map(str::to_string);
                r.tags = tags.clone();
            }
        });
        Ok(arn)
    }

    fn put_secret_value(&self, secret: &str, value: &SecretText) -> Result<(), CloudError> {
        self.enter("put_secret_value")?;
        self.with(|s| {
            let entry = s
                .secrets
                .values_mut()
                .find(|(r, _)| r.name == secret || r.arn == secret)
                .ok_or_else(|| CloudError::NotFound {
                    what: format!("secret {secret}"),
                })?;
            entry.1 = Some(value.clone());
            Ok(())
        })
    }
}

/// A clock that moves only when slept on, and remembers every sleep.
#[derive(Debug)]
pub struct FakeClock {
    now: RefCell<Timestamp>,
    sleeps: RefCell<Vec<Duration>>,
    /// Interrupt the sleep with this index (0-based), as Ctrl-C would.
    interrupt_at: Option<usize>,
}

impl FakeClock {
    pub fn new() -> FakeClock {
        FakeClock {
            now: RefCell::new(Timestamp::from_secs(1_458_075_240)),
            sleeps: RefCell::new(Vec::new()),
            interrupt_at: None,
        }
    }

    /// A clock whose `n`th sleep (0-based) is interrupted.
    pub fn interrupted_at(n: usize) -> FakeClock {
        FakeClock {
            interrupt_at: Some(n),
            ..FakeClock::new()
        }
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.borrow().clone()
    }

    pub fn slept(&self) -> Duration {
        self.sleeps.borrow().iter().sum()
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        FakeClock::new()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn sleep(&self, d: Duration) -> Wake {
        let n = self.sleeps.borrow().len();
        self.sleeps.borrow_mut().push(d);
        if self.interrupt_at == Some(n) {
            return Wake::Interrupted;
        }
        let next = self.now.borrow().plus(d);
        *self.now.borrow_mut() = next;
        Wake::Elapsed
    }
}
