//! Placement groups (`AWS::EC2::PlacementGroup`) for the node groups, and how launch
//! templates and Auto Scaling groups refer to a placement group, created or existing.

use super::{r, Builder};
use crate::model::*;
use crate::render::conventions::var_part;
use serde_json::{json, Value};

impl<'a> Builder<'a> {
    pub(super) fn placement_groups(&mut self) {
        let c = self.c;
        for pg in c.placement_groups.iter().filter(|p| p.managed) {
            let Some(id) = self.pg_id.get(&pg.key).cloned() else {
                continue;
            };
            let users: Vec<&str> = c
                .node_groups
                .iter()
                .filter(|ng| ng.placement_group.as_deref() == Some(pg.key.as_str()))
                .map(|ng| ng.name.as_str())
                .collect();
            self.put(
                &id,
                "AWS::EC2::PlacementGroup",
                Some(format!(
                    "{} placement group for node group{} {}: EFA's latency and bandwidth assume the nodes sit close together in one zone.",
                    match pg.strategy {
                        PlacementStrategy::Cluster => "Cluster",
                        PlacementStrategy::Spread => "Spread",
                        PlacementStrategy::Partition => "Partition",
                    },
                    if users.len() == 1 { "" } else { "s" },
                    crate::rules::and_list(&users)
                )),
                json!({
                    "GroupName": pg.name,
                    "Strategy": pg.strategy.name(),
                    "Tags": self.tags(&pg.name),
                }),
            );
            let vars: Vec<String> = users
                .iter()
                .map(|u| format!("EFACTL_PLACEMENT_GROUP_{}", var_part(u)))
                .collect();
            self.output(
                &format!("{id}Name"),
                format!(
                    "Placement group `{}` (placeholder {}).",
                    pg.name,
                    vars.join(", ")
                ),
                r(&id),
            );
        }
    }

    pub(super) fn pg_value(&self, key: &str) -> Value {
        match self.pg_id.get(key) {
            Some(id) => r(id),
            None => Value::String(
                self.c
                    .placement_group(key)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| key.trim_start_matches("pg:").to_string()),
            ),
        }
    }
}
