//! RDS as an independent client sees it: every DB instance with its status
//! and tags, read through the Rust SDK (never through envctl's state).

use std::collections::BTreeMap;

/// One DB instance: its status and tags.
#[derive(Clone, Debug)]
pub struct DbInstance {
    pub status: String,
    pub tags: BTreeMap<String, String>,
}

/// Every DB instance, by identifier.
pub async fn db_instances(rds: &aws_sdk_rds::Client) -> BTreeMap<String, DbInstance> {
    let out = rds.describe_db_instances().send().await.unwrap();
    out.db_instances()
        .iter()
        .map(|i| {
            let tags = i
                .tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            (
                i.db_instance_identifier().unwrap().to_string(),
                DbInstance {
                    status: i.db_instance_status().unwrap_or_default().to_string(),
                    tags,
                },
            )
        })
        .collect()
}
