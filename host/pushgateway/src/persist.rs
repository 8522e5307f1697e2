//! The persistence file: a header line, then one length-delimited record
//! per group (its labels, and each family with its push time), written to
//! a temporary file and renamed over the old one. A file that does not
//! read back is reported and the store starts empty.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use wasmetheus_prompb::client::{LabelPair, MetricFamily};
use wasmetheus_prompb::{Message as _, codec};

use crate::store::{Group, Store, Timestamped};

/// The first bytes of the file (format version 1).
const HEADER: &[u8] = b"wasmetheus-pushgateway 1\n";
/// A record (a group) is at most this large.
const MAX_RECORD: usize = 1 << 30;

#[derive(Clone, PartialEq, prost::Message)]
struct GroupRecord {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<LabelPair>,
    #[prost(message, repeated, tag = "2")]
    families: Vec<FamilyRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FamilyRecord {
    /// Unix time of the push, in nanoseconds.
    #[prost(int64, tag = "1")]
    pushed_unix_nanos: i64,
    #[prost(message, optional, tag = "2")]
    family: Option<MetricFamily>,
}

/// The file's bytes for `store`.
pub fn encode(store: &Store) -> Vec<u8> {
    let mut out = HEADER.to_vec();
    for group in store.groups.values() {
        let record = GroupRecord {
            labels: (group.labels.iter())
                .map(|(n, v)| LabelPair {
                    name: Some(n.clone()),
                    value: Some(v.clone()),
                })
                .collect(),
            families: (group.families.values())
                .map(|f| FamilyRecord {
                    pushed_unix_nanos: (f.pushed.duration_since(UNIX_EPOCH))
                        .map_or(0, |d| d.as_nanos() as i64),
                    family: Some(f.family.clone()),
                })
                .collect(),
        };
        codec::put_delimited(&record, &mut out);
    }
    out
}

/// The groups of a file's bytes, into `store` (its limits kept).
pub fn decode(bytes: &[u8], store: &mut Store) -> Result<(), String> {
    let body = bytes
        .strip_prefix(HEADER)
        .ok_or("not a wasmetheus Pushgateway file (unknown header)")?;
    let records = codec::split_delimited(body, MAX_RECORD).map_err(|e| e.to_string())?;
    let mut groups = std::collections::BTreeMap::new();
    for record in records {
        let record = GroupRecord::decode(record).map_err(|e| e.to_string())?;
        let labels: crate::GroupingKey = (record.labels.into_iter())
            .map(|l| (l.name.unwrap_or_default(), l.value.unwrap_or_default()))
            .collect();
        if !labels.contains_key("job") {
            return Err("a group without a job label".into());
        }
        let families = (record.families.into_iter())
            .filter_map(|f| {
                let family = f.family?;
                let pushed = UNIX_EPOCH
                    + Duration::from_nanos(u64::try_from(f.pushed_unix_nanos).unwrap_or(0));
                Some((
                    family.name.clone().unwrap_or_default(),
                    Timestamped { pushed, family },
                ))
            })
            .collect();
        groups.insert(labels.clone(), Group { labels, families });
    }
    store.set_groups(groups);
    Ok(())
}

/// Writes `bytes` to `file` atomically (a temporary file beside it,
/// synced, then renamed over it).
pub fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = file.with_extension("in_progress");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, file)?;
    // The rename itself survives a crash once the directory is synced.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads the store of `file` (absent: empty). A file that cannot be read
/// or decoded is logged and set aside as `<file>.corrupt`; the store
/// starts empty.
pub fn load(file: &Path, store: &mut Store) {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "could not read the Pushgateway's persisted groups; starting empty");
            return;
        }
    };
    if let Err(e) = decode(&bytes, store) {
        let aside = file.with_extension("corrupt");
        let _ = std::fs::rename(file, &aside);
        tracing::warn!(
            file = %file.display(),
            moved_to = %aside.display(),
            error = %e,
            "the Pushgateway's persistence file is corrupt; starting with no groups (the file was set aside)"
        );
        store.wipe();
    }
}
