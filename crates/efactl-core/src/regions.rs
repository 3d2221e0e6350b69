//! AWS Regions and what their zone names and zone ids look like, so that a spec naming a zone
//! of another region (or a region that does not exist) is caught before render writes it into
//! a template.
//!
//! Source: "AWS Regions" and "AWS Availability Zones" in the AWS Regions and Availability Zones
//! guide (docs.aws.amazon.com/global-infrastructure/latest/regions/), read 2026-12: a zone's
//! name is its Region code followed by a letter (`us-east-2a`); a zone id is the Region's id
//! prefix (`use2`: the first part of the code, the initials of its direction words, the number)
//! followed by `-az` and a number (`use2-az1`). Local Zones add a location
//! (`us-east-1-bos-1a`, `use1-bos1-az1`). `--live` (or `catalog refresh`) confirms against
//! DescribeAvailabilityZones.

/// One region: its code, partition, and zone-id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub code: &'static str,
    pub partition: &'static str,
    pub zone_id_prefix: &'static str,
}

macro_rules! regions {
    ($($code:literal $partition:literal $prefix:literal),* $(,)?) => {
        &[$(Region { code: $code, partition: $partition, zone_id_prefix: $prefix }),*]
    };
}

/// Every Region this efactl knows, by code.
pub const REGIONS: &[Region] = regions![
    "af-south-1" "aws" "afs1",
    "ap-east-1" "aws" "ape1",
    "ap-east-2" "aws" "ape2",
    "ap-northeast-1" "aws" "apne1",
    "ap-northeast-2" "aws" "apne2",
    "ap-northeast-3" "aws" "apne3",
    "ap-south-1" "aws" "aps1",
    "ap-south-2" "aws" "aps2",
    "ap-southeast-1" "aws" "apse1",
    "ap-southeast-2" "aws" "apse2",
    "ap-southeast-3" "aws" "apse3",
    "ap-southeast-4" "aws" "apse4",
    "ap-southeast-5" "aws" "apse5",
    "ap-southeast-6" "aws" "apse6",
    "ap-southeast-7" "aws" "apse7",
    "ca-central-1" "aws" "cac1",
    "ca-west-1" "aws" "caw1",
    "eu-central-1" "aws" "euc1",
    "eu-central-2" "aws" "euc2",
    "eu-north-1" "aws" "eun1",
    "eu-south-1" "aws" "eus1",
    "eu-south-2" "aws" "eus2",
    "eu-west-1" "aws" "euw1",
    "eu-west-2" "aws" "euw2",
    "eu-west-3" "aws" "euw3",
    "il-central-1" "aws" "ilc1",
    "me-central-1" "aws" "mec1",
    "me-south-1" "aws" "mes1",
    "mx-central-1" "aws" "mxc1",
    "sa-east-1" "aws" "sae1",
    "us-east-1" "aws" "use1",
    "us-east-2" "aws" "use2",
    "us-west-1" "aws" "usw1",
    "us-west-2" "aws" "usw2",
    "cn-north-1" "aws-cn" "cnn1",
    "cn-northwest-1" "aws-cn" "cnnw1",
    "us-gov-east-1" "aws-us-gov" "usge1",
    "us-gov-west-1" "aws-us-gov" "usgw1",
];

pub fn find(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.code == code)
}

/// Why a zone does not belong to `region`, or `None` when it does. `zone` is a zone name
/// (`us-east-1a`, `us-east-1-bos-1a`) or a zone id (`use1-az6`, `use1-bos1-az1`).
pub fn zone_mismatch(region: &Region, zone: &crate::spec::Zone) -> Option<String> {
    use crate::spec::Zone;
    match zone {
        Zone::Name(name) => {
            let ok = name.strip_prefix(region.code).is_some_and(|rest| {
                // `a`..`z` for a zone, `-<location>-<n><letter>` for a Local Zone.
                (rest.len() == 1 && rest.chars().all(|c| c.is_ascii_lowercase()))
                    || (rest.starts_with('-') && rest.len() > 2)
            });
            (!ok).then(|| match owner_of_name(name) {
                Some(r) => format!(
                    "zone `{name}` is in region `{}`, not `{}`",
                    r.code, region.code
                ),
                None => format!(
                    "zone `{name}` is not a zone of region `{}` (its zones are named `{}a`, `{}b`, ...)",
                    region.code, region.code, region.code
                ),
            })
        }
        Zone::Id(id) => {
            let ok = id
                .strip_prefix(region.zone_id_prefix)
                .is_some_and(|rest| rest.starts_with('-'));
            (!ok).then(|| match owner_of_id(id) {
                Some(r) => format!(
                    "zone id `{id}` is in region `{}`, not `{}`",
                    r.code, region.code
                ),
                None => format!(
                    "zone id `{id}` is not a zone of region `{}` (its zone ids are `{}-az1`, `{}-az2`, ...)",
                    region.code, region.zone_id_prefix, region.zone_id_prefix
                ),
            })
        }
    }
}

/// The region a zone name belongs to: the longest region code it starts with.
fn owner_of_name(name: &str) -> Option<&'static Region> {
    REGIONS
        .iter()
        .filter(|r| {
            name.strip_prefix(r.code)
                .is_some_and(|rest| rest.len() == 1 || rest.starts_with('-'))
        })
        .max_by_key(|r| r.code.len())
}

fn owner_of_id(id: &str) -> Option<&'static Region> {
    REGIONS
        .iter()
        .filter(|r| {
            id.strip_prefix(r.zone_id_prefix)
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .max_by_key(|r| r.zone_id_prefix.len())
}

/// The known region closest to a misspelt one, for the hint.
pub fn suggest(code: &str) -> Option<&'static str> {
    let codes: Vec<&'static str> = REGIONS.iter().map(|r| r.code).collect();
    crate::spec::decode::suggest(code, &codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Zone;

    #[test]
    fn prefixes_follow_the_documented_rule() {
        // First part, initials of the direction words, number: checked for every row so a
        // typo in the table cannot hide.
        for r in REGIONS {
            let parts: Vec<&str> = r.code.split('-').collect();
            let (last, mid) = parts[1..].split_last().unwrap();
            let initials: String = mid
                .iter()
                .map(|w| match *w {
                    "northeast" => "ne",
                    "northwest" => "nw",
                    "southeast" => "se",
                    "southwest" => "sw",
                    w => &w[..1],
                })
                .collect();
            let expected = format!("{}{initials}{last}", parts[0]);
            assert_eq!(r.zone_id_prefix, expected, "{}", r.code);
        }
    }

    #[test]
    fn zones_of_other_regions_are_named() {
        let use1 = find("us-east-1").unwrap();
        let euw1 = find("eu-west-1").unwrap();
        assert_eq!(zone_mismatch(use1, &Zone::Name("us-east-1a".into())), None);
        assert_eq!(zone_mismatch(use1, &Zone::Id("use1-az6".into())), None);
        assert_eq!(
            zone_mismatch(use1, &Zone::Name("us-east-1-bos-1a".into())),
            None
        );
        assert_eq!(zone_mismatch(use1, &Zone::Id("use1-bos1-az1".into())), None);
        assert_eq!(
            zone_mismatch(use1, &Zone::Name("eu-west-1a".into())).unwrap(),
            "zone `eu-west-1a` is in region `eu-west-1`, not `us-east-1`"
        );
        assert_eq!(
            zone_mismatch(euw1, &Zone::Id("use1-az6".into())).unwrap(),
            "zone id `use1-az6` is in region `us-east-1`, not `eu-west-1`"
        );
        // us-east-1 is a prefix of us-east-12x: not its zone.
        assert!(zone_mismatch(use1, &Zone::Name("us-east-12a".into())).is_some());
        assert!(zone_mismatch(use1, &Zone::Id("use12-az1".into())).is_some());
    }

    #[test]
    fn unknown_regions_are_unknown() {
        assert!(find("mars-north-1").is_none());
        assert_eq!(suggest("us-esat-1"), Some("us-east-1"));
    }
}
