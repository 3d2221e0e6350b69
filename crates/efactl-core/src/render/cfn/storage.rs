//! Storage: FSx for Lustre file systems (`AWS::FSx::FileSystem`, retained on stack deletion)
//! and their outputs (id, DNS name, mount name).

use super::{att, r, Builder};
use crate::model::*;
use crate::render::RenderError;
use serde_json::json;

impl<'a> Builder<'a> {
    pub(super) fn file_systems(&mut self) -> Result<(), RenderError> {
        let c = self.c;
        for fs in &c.file_systems {
            let Some(id) = self.fs_id.get(&fs.key).cloned() else {
                continue;
            };
            let capacity = fs.capacity_gib.unwrap_or(1200);
            if capacity != 1200 && capacity % 2400 != 0 {
                return Err(RenderError::Unsupported(format!(
                    "file system `{}`: FSx for Lustre PERSISTENT_2 takes 1200 GiB or a multiple of 2400 GiB, not {capacity}",
                    fs.key
                )));
            }
            let sgs = self.sg_values(&fs.security_groups);
            self.put_with(
                &id,
                "AWS::FSx::FileSystem",
                Some(format!(
                    "FSx for Lustre `{}` ({capacity} GiB, mounted at {}), in subnet `{}` beside the nodes: reads and checkpoints stay in one zone. Retained when the stack is deleted, so that deleting the cluster never deletes its data.",
                    fs.key, fs.mount_path, fs.subnet
                )),
                json!({
                    "FileSystemType": "LUSTRE",
                    "FileSystemTypeVersion": "2.15",
                    "StorageType": "SSD",
                    "StorageCapacity": capacity,
                    "SubnetIds": [self.subnet_value(&fs.subnet)],
                    "SecurityGroupIds": sgs,
                    "LustreConfiguration": {
                        "DeploymentType": "PERSISTENT_2",
                        "PerUnitStorageThroughput": 250,
                        "DataCompressionType": "LZ4"
                    },
                    "Tags": self.tags(&fs.key),
                }),
                [
                    ("DeletionPolicy".to_string(), json!("Retain")),
                    ("UpdateReplacePolicy".to_string(), json!("Retain")),
                ]
                .into_iter()
                .collect(),
            );
            self.output(
                &format!("{id}Id"),
                format!("File system `{}`.", fs.key),
                r(&id),
            );
            // The HyperPod rendering takes the first Lustre file system's names.
            let first = c
                .file_systems
                .iter()
                .find(|f| f.kind == StorageKind::FsxLustre)
                .is_some_and(|f| f.key == fs.key);
            let ph = |name: &str| {
                if first {
                    format!(" (placeholder {name})")
                } else {
                    String::new()
                }
            };
            self.output(
                &format!("{id}DnsName"),
                format!(
                    "DNS name of file system `{}`{}.",
                    fs.key,
                    ph("EFACTL_FSX_DNS_NAME")
                ),
                att(&id, "DNSName"),
            );
            self.output(
                &format!("{id}MountName"),
                format!(
                    "Lustre mount name of file system `{}`{}.",
                    fs.key,
                    ph("EFACTL_FSX_MOUNT_NAME")
                ),
                att(&id, "LustreMountName"),
            );
        }
        Ok(())
    }
}
