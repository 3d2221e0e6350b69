//! Instance-type facts: EFA support, network cards, bandwidth, accelerators.
//!
//! Embedded from three tables, each later one winning for the types it holds:
//! `data/aws-instance-types.csv` (every type AWS's `DescribeInstanceTypes` returns, as recorded
//! in the AWS emulator moto's data and written by `scripts/catalog-import.py`; source key
//! AWSDIT), `data/instance-catalog.csv` (EFA-capable types, curated, with aws-ofi-nccl facts
//! and a `sources` column per row; copied from shared/reference) and
//! `data/extra-instance-types.csv` (common types without EFA, curated). `efactl catalog
//! refresh` writes an account's own `DescribeInstanceTypes` into a cache that wins over all
//! three ([`Catalog::with_overlay`]); `audit` overrides rows with live answers through
//! [`Catalog::insert`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

const AWS_CSV: &str = include_str!("../data/aws-instance-types.csv");
const EFA_CSV: &str = include_str!("../data/instance-catalog.csv");
const EXTRA_CSV: &str = include_str!("../data/extra-instance-types.csv");

/// Network cards whose ENI limit differs by card index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnisPerCard {
    Uniform(u32),
    /// p6e-gb200: two on even cards, one on odd cards.
    EvenOdd {
        even: u32,
        odd: u32,
    },
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceType {
    pub name: String,
    pub accelerator: Option<String>,
    pub accelerator_count: Option<u32>,
    /// `None` where no stored source says (trn2u.48xlarge).
    pub efa_supported: Option<bool>,
    pub max_efa_interfaces: Option<u32>,
    pub network_cards: Option<u32>,
    pub max_network_interfaces: Option<u32>,
    pub enis_per_card: EnisPerCard,
    pub bandwidth_gbps: Option<f64>,
    pub efa_version: Option<String>,
    pub gpudirect_rdma: Option<bool>,
    pub efa_only_supported: bool,
    /// Network card 0 carries only ENA (p6-b300): the primary must be `interface` and no EFA
    /// may sit on card 0.
    pub card0_ena_only: bool,
    pub cluster_placement: bool,
    pub aws_ofi_nccl_platform: Option<String>,
    pub aws_ofi_nccl_protocol: Option<String>,
    pub notes: String,
    pub sources: Vec<String>,
    /// `VCpuInfo.DefaultVCpus`: turns AWS Batch's vCPU limits into node counts.
    pub vcpus: Option<u32>,
}

impl InstanceType {
    /// ENIs a given network card accepts (device indexes 0..n).
    pub fn enis_on_card(&self, card: u32) -> Option<u32> {
        match self.enis_per_card {
            EnisPerCard::Uniform(n) => Some(n),
            EnisPerCard::EvenOdd { even, odd } => Some(if card % 2 == 0 { even } else { odd }),
            EnisPerCard::Unknown => None,
        }
    }

    pub fn supports_efa(&self) -> bool {
        self.efa_supported == Some(true) && self.max_efa_interfaces.unwrap_or(0) > 0
    }

    pub fn family(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }
}

/// Types whose card 0 is ENA-only. Source: AWS engineering in aws/aws-parallelcluster#7143
/// ("the primary network card (network card index 0) only supports ENA"), efa-facts.md §2.6.
const CARD0_ENA_ONLY: &[&str] = &["p6-b300.48xlarge"];

/// Cluster placement groups take every current-generation type except burstable (T), Mac and
/// the flex types. Source: EC2 User Guide, "Placement groups", cluster placement group rules.
fn cluster_placement_supported(name: &str) -> bool {
    let family = name.split('.').next().unwrap_or(name);
    !(family.starts_with('t') && family.len() <= 3
        || family.starts_with("mac")
        || family.ends_with("-flex"))
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("instance catalog line {line}: {message}")]
pub struct CatalogError {
    pub line: usize,
    pub message: String,
}

/// One catalog row: parsed on first use, because a check needs a handful of the few hundred
/// types and parsing them all would be most of `efactl check`'s run time.
#[derive(Debug, Clone)]
struct Entry {
    raw: Option<(&'static str, usize, Columns)>,
    parsed: OnceLock<Option<InstanceType>>,
}

impl Entry {
    fn get(&self) -> Option<&InstanceType> {
        self.parsed
            .get_or_init(|| {
                let (line, lineno, cols) = self.raw?;
                // Every bundled row is parsed in the tests; a row that fails is a build bug,
                // and the type then counts as unknown rather than crashing a check.
                cols.parse_row(line, lineno).ok()
            })
            .as_ref()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
    index: HashMap<Cow<'static, str>, usize>,
}

impl Catalog {
    /// The catalog compiled into this binary.
    pub fn bundled() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            let mut c = Catalog::default();
            for csv in [AWS_CSV, EFA_CSV, EXTRA_CSV] {
                let mut lines = csv.lines().enumerate().filter(|(_, l)| !l.starts_with('#'));
                let Some(cols) = lines.next().and_then(|(_, h)| Columns::from_header(h).ok())
                else {
                    continue;
                };
                for (i, line) in lines {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let name = cols.name_of(line);
                    let entry = Entry {
                        raw: Some((line, i + 1, cols)),
                        parsed: OnceLock::new(),
                    };
                    match c.index.get(name) {
                        Some(&at) => c.entries[at] = entry,
                        None => {
                            c.index.insert(Cow::Borrowed(name), c.entries.len());
                            c.entries.push(entry);
                        }
                    }
                }
            }
            c
        })
    }

    pub fn get(&self, name: &str) -> Option<&InstanceType> {
        self.index.get(name).and_then(|&i| self.entries[i].get())
    }

    /// Adds a type or replaces the bundled facts (a live DescribeInstanceTypes wins).
    pub fn insert(&mut self, t: InstanceType) {
        let entry = Entry {
            raw: None,
            parsed: OnceLock::from(Some(t.clone())),
        };
        match self.index.get(t.name.as_str()) {
            Some(&i) => self.entries[i] = entry,
            None => {
                self.index
                    .insert(Cow::Owned(t.name.clone()), self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    /// The bundled catalog with these types (a `catalog refresh` cache) winning over it.
    pub fn with_overlay(types: Vec<InstanceType>) -> Catalog {
        let mut c = Catalog::bundled().clone();
        for t in types {
            c.insert(t);
        }
        c
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &InstanceType> {
        self.entries.iter().filter_map(Entry::get)
    }

    /// The closest known name, for "did you mean".
    pub fn suggest(&self, name: &str) -> Option<&str> {
        let names: Vec<&str> = self.index.keys().map(|k| k.as_ref()).collect();
        let found = crate::spec::decode::suggest(name, &names)?;
        self.index.get_key_value(found).map(|(k, _)| k.as_ref())
    }
}

/// The first line of a catalog cache: `efactl catalog refresh` overwrites only a file that
/// starts with it (a file it wrote).
pub const CACHE_MARKER: &str = "# efactl instance-type cache, written by `efactl catalog refresh`";

/// A region's `DescribeInstanceTypes` answer as catalog rows: each type's live facts, with
/// what the API does not say kept from the bundled row
/// ([`crate::cloud::audit::merge_instance_type`]) and the call recorded in `sources`.
pub fn rows_from_describe(
    records: &[crate::cloud::records::InstanceTypeRecord],
    region: &str,
    date: &str,
) -> Vec<InstanceType> {
    let mut out: Vec<InstanceType> = records
        .iter()
        .filter(|r| !r.name.is_empty())
        .map(|r| {
            let mut t =
                crate::cloud::audit::merge_instance_type(r, Catalog::bundled().get(&r.name));
            t.sources
                .retain(|s| !s.starts_with("DescribeInstanceTypes"));
            t.sources
                .push(format!("DescribeInstanceTypes {region} {date}"));
            t
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// A cache's rows after a refresh: the fresh rows, and the earlier rows of types the fresh
/// answer does not hold (types of another region refreshed before), sorted by name.
pub fn merge_cache(earlier: Vec<InstanceType>, fresh: Vec<InstanceType>) -> Vec<InstanceType> {
    let mut by: std::collections::BTreeMap<String, InstanceType> =
        earlier.into_iter().map(|t| (t.name.clone(), t)).collect();
    for t in fresh {
        by.insert(t.name.clone(), t);
    }
    by.into_values().collect()
}

/// The text of a cache file: [`CACHE_MARKER`], a line saying what it holds, the rows.
pub fn cache_text(types: &[InstanceType], summary: &str) -> String {
    format!("{CACHE_MARKER}\n# {summary}\n{}", to_csv(types))
}

/// `v` is `w`, alone or followed by a remark after a space.
fn word(v: &str, w: &str) -> bool {
    v.strip_prefix(w)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// Splits one CSV record (RFC 4180 quoting). Fields borrow from the line unless they hold an
/// escaped quote: the catalog is parsed at every start, so this stays allocation-light.
fn split_record(line: &str) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut out = Vec::with_capacity(20);
    let bytes = line.as_bytes();
    let mut i = 0;
    loop {
        if bytes.get(i) == Some(&b'"') {
            // Quoted field: runs to the closing quote; "" is a literal quote.
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            while j < bytes.len() {
                if bytes[j] == b'"' {
                    if bytes.get(j + 1) == Some(&b'"') {
                        escaped = true;
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            let raw = &line[start..j.min(line.len())];
            let field = if escaped {
                Cow::Owned(raw.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(raw)
            };
            out.push(field);
            i = j + 1;
            // Skip to the separator after the closing quote.
            match line.as_bytes()[i.min(line.len())..]
                .iter()
                .position(|&b| b == b',')
            {
                Some(k) => i += k + 1,
                None => return out,
            }
        } else {
            match line.as_bytes()[i..].iter().position(|&b| b == b',') {
                Some(k) => {
                    out.push(Cow::Borrowed(&line[i..i + k]));
                    i += k + 1;
                }
                None => {
                    out.push(Cow::Borrowed(&line[i..]));
                    return out;
                }
            }
        }
    }
}

/// Column positions of a catalog file, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    count: usize,
    name: usize,
    acc: usize,
    acc_n: usize,
    efa: usize,
    max_efa: usize,
    cards: usize,
    bw: usize,
    efa_ver: usize,
    gdr: usize,
    efa_only: usize,
    notes: usize,
    max_ni: usize,
    enis: usize,
    block: usize,
    proto: usize,
    sources: usize,
    vcpus: Option<usize>,
    /// `cluster_placement` (yes/no), written by a refresh from `PlacementGroupInfo`; else
    /// the rule by family ([`cluster_placement_supported`]).
    placement: Option<usize>,
}

impl Columns {
    fn from_header(header: &str) -> Result<Columns, CatalogError> {
        let cols = split_record(header);
        let col = |name: &str| -> Result<usize, CatalogError> {
            cols.iter()
                .position(|c| c == name)
                .ok_or_else(|| CatalogError {
                    line: 1,
                    message: format!("missing column {name}"),
                })
        };
        Ok(Columns {
            count: cols.len(),
            name: col("instance_type")?,
            acc: col("accelerator")?,
            acc_n: col("accelerator_count")?,
            efa: col("efa_supported")?,
            max_efa: col("max_efa_interfaces")?,
            cards: col("network_cards")?,
            bw: col("network_bandwidth_gbps")?,
            efa_ver: col("efa_version")?,
            gdr: col("gpudirect_rdma")?,
            efa_only: col("efa_only_interfaces_supported")?,
            notes: col("notes")?,
            max_ni: col("max_network_interfaces")?,
            enis: col("enis_per_card")?,
            block: col("aws_ofi_nccl_platform_block")?,
            proto: col("aws_ofi_nccl_default_protocol")?,
            sources: col("sources")?,
            vcpus: cols.iter().position(|c| c == "vcpus"),
            placement: cols.iter().position(|c| c == "cluster_placement"),
        })
    }

    /// The instance-type name of a row, without parsing the rest.
    fn name_of<'a>(&self, line: &'a str) -> &'a str {
        // The name column is plain text (never quoted) in both files.
        line.split(',').nth(self.name).unwrap_or("").trim()
    }

    fn parse_row(&self, line: &str, lineno: usize) -> Result<InstanceType, CatalogError> {
        let i = lineno - 1;
        let (c_name, c_acc, c_acc_n, c_efa, c_max_efa, c_cards, c_bw, c_efa_ver, c_gdr) = (
            self.name,
            self.acc,
            self.acc_n,
            self.efa,
            self.max_efa,
            self.cards,
            self.bw,
            self.efa_ver,
            self.gdr,
        );
        let (c_efa_only, c_notes, c_max_ni, c_enis, c_block, c_proto, c_sources) = (
            self.efa_only,
            self.notes,
            self.max_ni,
            self.enis,
            self.block,
            self.proto,
            self.sources,
        );
        let cols_len = self.count;
        let f = split_record(line);
        if f.len() != cols_len {
            return Err(CatalogError {
                line: i + 1,
                message: format!("{} fields, expected {}", f.len(), cols_len),
            });
        }
        let opt = |c: usize| {
            let v = f[c].trim();
            (!v.is_empty()).then(|| v.to_string())
        };
        let num = |c: usize| -> Result<Option<u32>, CatalogError> {
            match opt(c) {
                None => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| CatalogError {
                    line: i + 1,
                    message: format!("`{v}` in column {c} is not a number"),
                }),
            }
        };
        let name = f[c_name].trim().to_string();
        let enis_per_card = match opt(c_enis) {
            None => EnisPerCard::Unknown,
            Some(v) => match v.parse::<u32>() {
                Ok(n) => EnisPerCard::Uniform(n),
                Err(_) => {
                    // "even cards=2, odd cards=1"
                    let pick = |key: &str| {
                        v.split(',')
                            .find(|p| p.trim().starts_with(key))
                            .and_then(|p| p.split('=').nth(1))
                            .and_then(|n| n.trim().parse::<u32>().ok())
                    };
                    match (pick("even"), pick("odd")) {
                        (Some(even), Some(odd)) => EnisPerCard::EvenOdd { even, odd },
                        _ => EnisPerCard::Unknown,
                    }
                }
            },
        };
        let gdr = opt(c_gdr).and_then(|v| {
            if v.starts_with("yes") {
                Some(true)
            } else if v.starts_with("no") {
                Some(false)
            } else {
                None
            }
        });
        Ok(InstanceType {
            accelerator: opt(c_acc).filter(|a| a != "none"),
            accelerator_count: num(c_acc_n)?,
            // `true`, `false`, or either with a remark after it (`true (2023 doc; ...)`).
            efa_supported: match opt(c_efa).as_deref() {
                None => None,
                Some(v) if word(v, "true") => Some(true),
                Some(v) if word(v, "false") => Some(false),
                Some(v) => {
                    return Err(CatalogError {
                        line: i + 1,
                        message: format!("efa_supported is `{v}`, not true, false or empty"),
                    })
                }
            },
            max_efa_interfaces: num(c_max_efa)?,
            network_cards: num(c_cards)?,
            max_network_interfaces: num(c_max_ni)?,
            enis_per_card,
            bandwidth_gbps: opt(c_bw).and_then(|v| v.parse().ok()),
            efa_version: opt(c_efa_ver),
            gpudirect_rdma: gdr,
            efa_only_supported: opt(c_efa_only).is_some_and(|v| v.starts_with("yes")),
            card0_ena_only: CARD0_ENA_ONLY.contains(&name.as_str())
                || f[c_notes].contains(CARD0_ENA_NOTE),
            cluster_placement: match self.placement.and_then(opt) {
                Some(v) if word(&v, "yes") => true,
                Some(v) if word(&v, "no") => false,
                Some(v) => {
                    return Err(CatalogError {
                        line: i + 1,
                        message: format!("cluster_placement is `{v}`, not yes, no or empty"),
                    })
                }
                None => cluster_placement_supported(&name),
            },
            aws_ofi_nccl_platform: opt(c_block),
            aws_ofi_nccl_protocol: opt(c_proto),
            notes: f[c_notes].trim().to_string(),
            sources: f[c_sources]
                .split(';')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            vcpus: match self.vcpus {
                Some(c) => num(c)?,
                None => None,
            },
            name,
        })
    }
}

/// What catalog-import.py writes in `notes` when card 0 of an EFA type lists no `efa` in its
/// `InterfaceTypes`.
const CARD0_ENA_NOTE: &str = "card 0 carries ENA only";

/// The catalog's columns, in the order the tables use.
pub const CSV_HEADER: &str = "instance_type,accelerator,accelerator_count,efa_supported,max_efa_interfaces,network_cards,network_bandwidth_gbps,efa_version,gpudirect_rdma,efa_only_interfaces_supported,notes,max_network_interfaces,enis_per_card,aws_ofi_nccl_platform_block,aws_ofi_nccl_default_protocol,focus,sources,vcpus,cluster_placement";

/// Types as catalog rows (with [`CSV_HEADER`]), which [`parse_csv`] reads back.
pub fn to_csv(types: &[InstanceType]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let n = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
    let mut out = format!("{CSV_HEADER}\n");
    for t in types {
        let mut notes = t.notes.replace('\n', " ");
        if t.card0_ena_only
            && !CARD0_ENA_ONLY.contains(&t.name.as_str())
            && !notes.contains(CARD0_ENA_NOTE)
        {
            notes = if notes.is_empty() {
                CARD0_ENA_NOTE.to_string()
            } else {
                format!("{notes}; {CARD0_ENA_NOTE}")
            };
        }
        let enis = match t.enis_per_card {
            EnisPerCard::Uniform(x) => x.to_string(),
            EnisPerCard::EvenOdd { even, odd } => format!("even cards={even}, odd cards={odd}"),
            EnisPerCard::Unknown => String::new(),
        };
        let row = [
            t.name.clone(),
            t.accelerator.clone().unwrap_or_else(|| "none".into()),
            n(t.accelerator_count),
            t.efa_supported.map(|b| b.to_string()).unwrap_or_default(),
            n(t.max_efa_interfaces),
            n(t.network_cards),
            t.bandwidth_gbps.map(|b| b.to_string()).unwrap_or_default(),
            t.efa_version.clone().unwrap_or_default(),
            match t.gpudirect_rdma {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => String::new(),
            },
            if t.efa_only_supported { "yes" } else { "no" }.into(),
            notes,
            n(t.max_network_interfaces),
            enis,
            t.aws_ofi_nccl_platform.clone().unwrap_or_default(),
            t.aws_ofi_nccl_protocol.clone().unwrap_or_default(),
            "no".into(),
            t.sources.join(";"),
            n(t.vcpus),
            if t.cluster_placement { "yes" } else { "no" }.into(),
        ];
        let fields: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

pub fn parse_csv(text: &str) -> Result<Vec<InstanceType>, CatalogError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let cols = Columns::from_header(header)?;
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        out.push(cols.parse_row(line, i + 1)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_parse_completely() {
        let efa = parse_csv(EFA_CSV).expect("instance-catalog.csv parses");
        assert_eq!(
            efa.len(),
            EFA_CSV.lines().filter(|l| !l.trim().is_empty()).count() - 1
        );
        let extra = parse_csv(EXTRA_CSV).expect("extra-instance-types.csv parses");
        for t in &extra {
            assert_eq!(
                t.efa_supported,
                Some(false),
                "{} in the extra file claims EFA",
                t.name
            );
            assert!(!t.sources.is_empty(), "{} has no source", t.name);
        }
        for t in efa.iter().chain(&extra) {
            assert!(!t.sources.is_empty(), "{} has no source", t.name);
        }
        let aws = parse_csv(AWS_CSV).expect("aws-instance-types.csv parses");
        assert!(
            aws.len() > 1000,
            "{} types from DescribeInstanceTypes",
            aws.len()
        );
        assert!(aws
            .iter()
            .all(|t| t.sources == ["AWSDIT"] && t.vcpus.is_some()));
        let mut names: Vec<&str> = aws
            .iter()
            .chain(&efa)
            .chain(&extra)
            .map(|t| t.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(Catalog::bundled().len(), names.len());
    }

    #[test]
    fn every_current_type_is_known_with_aws_s_network_facts() {
        let c = Catalog::bundled();
        // Head and login nodes of real templates: unknown before the full table.
        for name in [
            "m5.12xlarge",
            "c6i.4xlarge",
            "r7i.2xlarge",
            "t3.medium",
            "m7g.large",
        ] {
            let t = c
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not in the catalog"));
            assert_eq!(t.efa_supported, Some(false), "{name}");
        }
        let m5 = c.get("m5.12xlarge").unwrap();
        assert_eq!((m5.vcpus, m5.max_network_interfaces), (Some(48), Some(8)));
        // A curated row keeps its aws-ofi-nccl facts and takes AWS's vCPU count.
        let p5 = c.get("p5.48xlarge").unwrap();
        assert_eq!(p5.vcpus, Some(192));
        assert_eq!(p5.aws_ofi_nccl_protocol.as_deref(), Some("RDMA"));
        // A curated row that was blank or wrong where AWS answers is corrected.
        let trn2u = c.get("trn2u.48xlarge").unwrap();
        assert_eq!(
            (trn2u.efa_supported, trn2u.max_efa_interfaces),
            (Some(true), Some(16))
        );
        assert!(trn2u.sources.iter().any(|s| s == "AWSDIT"));
        let i7ie = c.get("i7ie.48xlarge").unwrap();
        assert_eq!(i7ie.network_cards, Some(2));
        assert_eq!(
            (i7ie.enis_on_card(0), i7ie.enis_on_card(1)),
            (Some(8), Some(7))
        );
        // AWS's own card 0 flag agrees with the curated one.
        let aws = parse_csv(AWS_CSV).unwrap();
        let b300 = aws.iter().find(|t| t.name == "p6-b300.48xlarge").unwrap();
        assert!(b300.card0_ena_only);
        assert_eq!(aws.iter().filter(|t| t.card0_ena_only).count(), 1);
    }

    #[test]
    fn catalog_rows_written_read_back_equal() {
        let c = Catalog::bundled();
        let types: Vec<InstanceType> = [
            "p5.48xlarge",
            "p6e-gb200.36xlarge",
            "p6-b300.48xlarge",
            "m5.12xlarge",
        ]
        .iter()
        .map(|n| c.get(n).unwrap().clone())
        .collect();
        let mut types = types;
        // A live answer that a type takes no cluster placement group survives the cache.
        types[3].cluster_placement = false;
        let back = parse_csv(&cache_text(&types, "4 types")).unwrap();
        assert_eq!(back.len(), 4);
        assert!(!back[3].cluster_placement && back[0].cluster_placement);
        for (a, b) in types.iter().zip(&back) {
            assert_eq!(a, b);
        }
        let over = Catalog::with_overlay(vec![InstanceType {
            name: "zz9.huge".into(),
            ..back[3].clone()
        }]);
        assert!(over.get("zz9.huge").is_some() && Catalog::bundled().get("zz9.huge").is_none());
    }

    #[test]
    fn headline_types_have_their_documented_shape() {
        let c = Catalog::bundled();
        let p5 = c.get("p5.48xlarge").unwrap();
        assert_eq!(
            (p5.max_efa_interfaces, p5.network_cards),
            (Some(32), Some(32))
        );
        assert_eq!(p5.enis_on_card(5), Some(2));
        let trn2 = c.get("trn2.48xlarge").unwrap();
        assert_eq!(trn2.max_efa_interfaces, Some(16));
        assert_eq!(trn2.bandwidth_gbps, Some(3200.0));
        let b300 = c.get("p6-b300.48xlarge").unwrap();
        assert!(b300.card0_ena_only);
        assert_eq!(
            (b300.max_efa_interfaces, b300.network_cards),
            (Some(16), Some(17))
        );
        let gb200 = c.get("p6e-gb200.36xlarge").unwrap();
        assert_eq!(
            (gb200.enis_on_card(2), gb200.enis_on_card(3)),
            (Some(2), Some(1))
        );
        let inf2 = c.get("inf2.48xlarge").unwrap();
        assert!(!inf2.supports_efa());
        assert_eq!(c.get("trn2u.48xlarge").unwrap().efa_supported, Some(true));
        assert!(c.get("p5.48xlarge").unwrap().cluster_placement);
    }

    #[test]
    fn quoted_fields_keep_their_commas() {
        assert_eq!(split_record(r#"a,"b, c",d"#), vec!["a", "b, c", "d"]);
        assert_eq!(split_record(r#""say ""hi""",x"#), vec![r#"say "hi""#, "x"]);
        assert_eq!(split_record("a,,"), vec!["a", "", ""]);
        assert_eq!(split_record(r#""x""#), vec!["x"]);
        assert_eq!(split_record(r#"1,"q",2"#), vec!["1", "q", "2"]);
    }

    #[test]
    fn placement_support_excludes_burstable_and_mac() {
        assert!(!cluster_placement_supported("t3.large"));
        assert!(!cluster_placement_supported("mac2.metal"));
        assert!(!cluster_placement_supported("m7i-flex.large"));
        assert!(cluster_placement_supported("trn1.32xlarge"));
    }
}
