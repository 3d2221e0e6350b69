//! CloudFormation as efactl sees it: stacks, their events and change sets, in plain types.
//!
//! Statuses are enums with every value of the CloudFormation API reference, plus `Other` for
//! a value added after this release (the SDK's enums are non-exhaustive for the same reason),
//! so the orchestration matches on names instead of comparing strings.

use super::time::Timestamp;
use std::collections::BTreeMap;
use std::fmt;

macro_rules! aws_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A value this release does not know.
            Other(String),
        }

        impl $name {
            /// Every known value, in the API reference's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn parse(s: &str) -> $name {
                match s {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_enum! {
    /// `StackStatus`: every value of the CloudFormation API reference.
    StackStatus {
        CreateInProgress = "CREATE_IN_PROGRESS",
        CreateFailed = "CREATE_FAILED",
        CreateComplete = "CREATE_COMPLETE",
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        RollbackFailed = "ROLLBACK_FAILED",
        RollbackComplete = "ROLLBACK_COMPLETE",
        DeleteInProgress = "DELETE_IN_PROGRESS",
        DeleteFailed = "DELETE_FAILED",
        DeleteComplete = "DELETE_COMPLETE",
        UpdateInProgress = "UPDATE_IN_PROGRESS",
        UpdateCompleteCleanupInProgress = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        UpdateComplete = "UPDATE_COMPLETE",
        UpdateFailed = "UPDATE_FAILED",
        UpdateRollbackInProgress = "UPDATE_ROLLBACK_IN_PROGRESS",
        UpdateRollbackFailed = "UPDATE_ROLLBACK_FAILED",
        UpdateRollbackCompleteCleanupInProgress = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        UpdateRollbackComplete = "UPDATE_ROLLBACK_COMPLETE",
        ReviewInProgress = "REVIEW_IN_PROGRESS",
        ImportInProgress = "IMPORT_IN_PROGRESS",
        ImportComplete = "IMPORT_COMPLETE",
        ImportRollbackInProgress = "IMPORT_ROLLBACK_IN_PROGRESS",
        ImportRollbackFailed = "IMPORT_ROLLBACK_FAILED",
        ImportRollbackComplete = "IMPORT_ROLLBACK_COMPLETE",
    }
}

impl StackStatus {
    /// An operation is running: nothing else may start until it ends.
    pub fn is_in_progress(&self) -> bool {
        self.as_str().ends_with("_IN_PROGRESS")
    }

    /// A settled status from which an update may start.
    pub fn is_updatable(&self) -> bool {
        matches!(
            self,
            StackStatus::CreateComplete
                | StackStatus::UpdateComplete
                | StackStatus::UpdateRollbackComplete
                | StackStatus::ImportComplete
                | StackStatus::ImportRollbackComplete
        )
    }

    /// A status that ends in failure or rollback.
    pub fn is_failure(&self) -> bool {
        let s = self.as_str();
        s.ends_with("_FAILED") || (s.contains("ROLLBACK") && !s.ends_with("_IN_PROGRESS"))
    }
}

aws_enum! {
    /// `ResourceStatus` of a stack event: every value of the CloudFormation API reference.
    /// The stack's own events use it too (`ROLLBACK_IN_PROGRESS` on the stack resource).
    ResourceStatus {
        CreateInProgress = "CREATE_IN_PROGRESS",
        CreateFailed = "CREATE_FAILED",
        CreateComplete = "CREATE_COMPLETE",
        DeleteInProgress = "DELETE_IN_PROGRESS",
        DeleteFailed = "DELETE_FAILED",
        DeleteComplete = "DELETE_COMPLETE",
        DeleteSkipped = "DELETE_SKIPPED",
        UpdateInProgress = "UPDATE_IN_PROGRESS",
        UpdateFailed = "UPDATE_FAILED",
        UpdateComplete = "UPDATE_COMPLETE",
        ImportFailed = "IMPORT_FAILED",
        ImportComplete = "IMPORT_COMPLETE",
        ImportInProgress = "IMPORT_IN_PROGRESS",
        ImportRollbackInProgress = "IMPORT_ROLLBACK_IN_PROGRESS",
        ImportRollbackFailed = "IMPORT_ROLLBACK_FAILED",
        ImportRollbackComplete = "IMPORT_ROLLBACK_COMPLETE",
        ExportFailed = "EXPORT_FAILED",
        ExportComplete = "EXPORT_COMPLETE",
        ExportInProgress = "EXPORT_IN_PROGRESS",
        ExportRollbackInProgress = "EXPORT_ROLLBACK_IN_PROGRESS",
        ExportRollbackFailed = "EXPORT_ROLLBACK_FAILED",
        ExportRollbackComplete = "EXPORT_ROLLBACK_COMPLETE",
        UpdateRollbackInProgress = "UPDATE_ROLLBACK_IN_PROGRESS",
        UpdateRollbackComplete = "UPDATE_ROLLBACK_COMPLETE",
        UpdateRollbackFailed = "UPDATE_ROLLBACK_FAILED",
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        RollbackComplete = "ROLLBACK_COMPLETE",
        RollbackFailed = "ROLLBACK_FAILED",
    }
}

impl ResourceStatus {
    /// A resource operation that failed (the events a failure report is made of).
    pub fn is_failed(&self) -> bool {
        matches!(
            self,
            ResourceStatus::CreateFailed
                | ResourceStatus::UpdateFailed
                | ResourceStatus::DeleteFailed
                | ResourceStatus::ImportFailed
        )
    }

    /// A resource operation that finished well (what a progress bar counts).
    pub fn is_complete(&self) -> bool {
        matches!(
            self,
            ResourceStatus::CreateComplete
                | ResourceStatus::UpdateComplete
                | ResourceStatus::DeleteComplete
                | ResourceStatus::DeleteSkipped
                | ResourceStatus::ImportComplete
        )
    }
}

/// IAM capabilities a template needs acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    Iam,
    NamedIam,
    AutoExpand,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Iam => "CAPABILITY_IAM",
            Capability::NamedIam => "CAPABILITY_NAMED_IAM",
            Capability::AutoExpand => "CAPABILITY_AUTO_EXPAND",
        }
    }
}

/// What a deploy wants the stack to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackTemplate {
    pub name: String,
    /// The template body (efactl sends JSON: it compares exactly with what `GetTemplate`
    /// returns).
    pub body: String,
    /// Where the body was uploaded (`TemplateURL`), for a template over
    /// [`crate::cloud::deploy::TEMPLATE_BODY_LIMIT`]; `None` sends the body inline.
    pub url: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub capabilities: Vec<Capability>,
}

impl StackTemplate {
    /// A template for a stack, with the capabilities its resources need.
    pub fn new(name: impl Into<String>, template: &serde_json::Value) -> StackTemplate {
        StackTemplate {
            name: name.into(),
            body: template.to_string(),
            url: None,
            parameters: BTreeMap::new(),
            tags: BTreeMap::new(),
            capabilities: required_capabilities(template),
        }
    }

    /// The number of resources the template declares (what a creation's progress counts to).
    /// The template's resources, `(logical id, type)`, in the template's order (a plan for a
    /// stack that does not exist yet).
    pub fn resources(&self) -> Vec<(String, String)> {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| {
                v.get("Resources")?.as_object().map(|m| {
                    m.iter()
                        .map(|(k, r)| {
                            let t = r.get("Type").and_then(|t| t.as_str()).unwrap_or("?");
                            (k.clone(), t.to_string())
                        })
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    pub fn resource_count(&self) -> usize {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("Resources")?.as_object().map(|m| m.len()))
            .unwrap_or(0)
    }
}

/// The capabilities CloudFormation demands for a template: `CAPABILITY_IAM` for IAM
/// resources, `CAPABILITY_NAMED_IAM` when they carry custom names, `CAPABILITY_AUTO_EXPAND`
/// for macros and nested transforms.
pub fn required_capabilities(template: &serde_json::Value) -> Vec<Capability> {
    let mut out = Vec::new();
    let resources = template.get("Resources").and_then(|r| r.as_object());
    for r in resources.into_iter().flat_map(|m| m.values()) {
        let kind = r.get("Type").and_then(|t| t.as_str()).unwrap_or("");
        if kind.starts_with("AWS::IAM::") {
            out.push(Capability::Iam);
            let props = r.get("Properties").and_then(|p| p.as_object());
            let named = props.is_some_and(|p| {
                [
                    "RoleName",
                    "InstanceProfileName",
                    "UserName",
                    "GroupName",
                    "ManagedPolicyName",
                ]
                .iter()
                .any(|k| p.contains_key(*k))
            });
            if named {
                out.push(Capability::NamedIam);
            }
        }
    }
    if template.get("Transform").is_some() {
        out.push(Capability::AutoExpand);
    }
    out.sort();
    out.dedup();
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutput {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
}

/// `DescribeStacks` of one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// The stack's ARN: unlike the name, it still finds the stack once it is deleted.
    pub id: String,
    pub name: String,
    pub status: StackStatus,
    pub status_reason: Option<String>,
    pub outputs: Vec<StackOutput>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub created: Timestamp,
    pub last_updated: Option<Timestamp>,
}

/// One resource of `DescribeStackResources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: ResourceStatus,
    pub reason: Option<String>,
}

/// One line of `DescribeStackEvents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub event_id: String,
    pub timestamp: Timestamp,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: ResourceStatus,
    pub reason: Option<String>,
}

pub const STACK_RESOURCE_TYPE: &str = "AWS::CloudFormation::Stack";

impl StackEvent {
    /// An event of the stack `stack_name` itself rather than of one of its resources (a
    /// nested stack has the same type, under its own logical id).
    pub fn is_stack(&self, stack_name: &str) -> bool {
        self.resource_type == STACK_RESOURCE_TYPE && self.logical_id == stack_name
    }

    /// A failure caused by another resource's failure, not a cause of its own.
    pub fn is_cascade(&self) -> bool {
        self.reason.as_deref().is_some_and(|r| {
            let r = r.to_ascii_lowercase();
            r.contains("cancelled") || r.contains("canceled")
        })
    }
}

aws_enum! {
    /// `ChangeAction` of a resource change.
    ChangeAction {
        Add = "Add",
        Modify = "Modify",
        Remove = "Remove",
        Import = "Import",
        Dynamic = "Dynamic",
    }
}

/// `Replacement` of a modified resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    True,
    False,
    /// Depends on a value known only at execution (a dynamic reference, a parameter).
    Conditional,
}

impl Replacement {
    pub fn parse(s: &str) -> Option<Replacement> {
        match s {
            "True" => Some(Replacement::True),
            "False" => Some(Replacement::False),
            "Conditional" => Some(Replacement::Conditional),
            _ => None,
        }
    }
}

/// One resource of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    pub action: ChangeAction,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// For `Modify` only.
    pub replacement: Option<Replacement>,
    /// The properties (or tags, metadata) whose change causes this one.
    pub properties: Vec<String>,
}

impl ResourceChange {
    /// `add`, `modify`, `replace`, `replace?` or `remove`: how a plan shows it.
    pub fn verb(&self) -> &'static str {
        match (&self.action, self.replacement) {
            (ChangeAction::Add, _) => "add",
            (ChangeAction::Remove, _) => "remove",
            (ChangeAction::Modify, Some(Replacement::True)) => "replace",
            (ChangeAction::Modify, Some(Replacement::Conditional)) => "replace?",
            (ChangeAction::Modify, _) => "modify",
            (ChangeAction::Import, _) => "import",
            (ChangeAction::Dynamic, _) => "dynamic",
            (ChangeAction::Other(_), _) => "change",
        }
    }
}

aws_enum! {
    /// `ChangeSetStatus`.
    ChangeSetStatus {
        CreatePending = "CREATE_PENDING",
        CreateInProgress = "CREATE_IN_PROGRESS",
        CreateComplete = "CREATE_COMPLETE",
        DeletePending = "DELETE_PENDING",
        DeleteInProgress = "DELETE_IN_PROGRESS",
        DeleteComplete = "DELETE_COMPLETE",
        DeleteFailed = "DELETE_FAILED",
        Failed = "FAILED",
    }
}

/// `DescribeChangeSet`, every page of changes together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// The change set's ARN.
    pub id: String,
    pub name: String,
    pub stack_id: String,
    pub status: ChangeSetStatus,
    pub status_reason: Option<String>,
    pub changes: Vec<ResourceChange>,
}

impl ChangeSet {
    /// CloudFormation fails a change set that would change nothing, with one of these reasons
    /// (the first for templates, the second where only parameters or tags were given).
    pub fn is_empty_failure(&self) -> bool {
        self.status == ChangeSetStatus::Failed
            && self.status_reason.as_deref().is_some_and(|r| {
                r.contains("didn't contain changes") || r.contains("No updates are to be performed")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_classify() {
        for s in StackStatus::ALL {
            assert_eq!(&StackStatus::parse(s.as_str()), s);
        }
        assert_eq!(StackStatus::ALL.len(), 23);
        assert_eq!(ResourceStatus::ALL.len(), 28);
        assert_eq!(
            StackStatus::parse("SOMETHING_NEW"),
            StackStatus::Other("SOMETHING_NEW".into())
        );
        assert!(StackStatus::UpdateRollbackCompleteCleanupInProgress.is_in_progress());
        assert!(StackStatus::UpdateRollbackComplete.is_updatable());
        assert!(!StackStatus::RollbackComplete.is_updatable());
        assert!(StackStatus::RollbackComplete.is_failure());
        assert!(StackStatus::UpdateRollbackFailed.is_failure());
        assert!(!StackStatus::UpdateComplete.is_failure());
        assert!(!StackStatus::RollbackInProgress.is_failure());
    }

    #[test]
    fn capabilities_follow_the_iam_resources() {
        let t = serde_json::json!({"Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}},
            "Sg": {"Type": "AWS::EC2::SecurityGroup"}
        }});
        assert_eq!(
            required_capabilities(&t),
            vec![Capability::Iam, Capability::NamedIam]
        );
        let t = serde_json::json!({"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup"}}});
        assert!(required_capabilities(&t).is_empty());
        assert_eq!(StackTemplate::new("s", &t).resource_count(), 1);
    }
}
