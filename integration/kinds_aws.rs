//! The AWS kinds (`aws.s3.bucket`, `aws.sqs.queue`, `aws.sns.topic`), the
//! `secret.password` kind and the S3 value store, against a private moto
//! server. Every check of what exists in "AWS" uses the raw SDK, not the
//! kind under test. Tests run in parallel against one moto, each with its
//! own tenant (and value bucket).

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use envctl::envapi::store::StoredValue;
use envctl::envapi::{EnvKey, Level, ValueStore};
use envctl::kinds::aws::AwsClients;
use envctl::kinds::aws::s3::Bucket;
use envctl::kinds::aws::s3::bucket_names::{self, naming_problem};
use envctl::kinds::aws::sns::Topic;
use envctl::kinds::aws::sqs::Queue;
use envctl::kinds::secret_password::Password;
use envctl::kinds::{Cx, Kind, KindError, Outputs, Props, Readiness};
use envctl::secret::{MASK, SecretString};
use serde_json::json;
use support::kinds::{ENVIRONMENT, KindWorld};

const STACK: &str = "kinds-aws";

/// One test's tenant, backends and raw clients (see `support::kinds`).
struct T(KindWorld);

impl std::ops::Deref for T {
    type Target = KindWorld;

    fn deref(&self) -> &KindWorld {
        &self.0
    }
}

impl T {
    async fn new(tenant: &str) -> T {
        let world = KindWorld::new(STACK, tenant, "kt-values");
        world
            .backends
            .values
            .ensure_bucket()
            .await
            .expect("value bucket");
        T(world)
    }

    fn values(&self) -> &ValueStore {
        &self.backends.values
    }
}

fn props(v: serde_json::Value) -> Props {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("props must be an object, got {other}"),
    }
}

fn out(o: &Outputs, name: &str) -> String {
    o.require(name).unwrap().to_string()
}

// ---------------------------------------------------------------- S3 ----

/// The name envctl gives the bucket of `cx` in this installation: the
/// account from STS (moto's) and the region, through the same derivation
/// the kind uses.
async fn bucket_of(t: &T, cx: &Cx) -> String {
    let account = t.aws.identity.account_id().await.unwrap();
    let region = t.aws.identity.region().unwrap();
    bucket_names::tenant_bucket(&account, &region, &cx.tenant, &cx.resource_id).name
}

async fn bucket_names(aws: &AwsClients) -> Vec<String> {
    let out = aws.s3.list_buckets().send().await.unwrap();
    out.buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect()
}

async fn bucket_tags(aws: &AwsClients, name: &str) -> HashMap<String, String> {
    aws.s3
        .get_bucket_tagging()
        .bucket(name)
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

async fn bucket_exists(aws: &AwsClients, name: &str) -> bool {
    match aws.s3.head_bucket().bucket(name).send().await {
        Ok(_) => true,
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => false,
        Err(e) => panic!("HeadBucket {name}: {e:?}"),
    }
}

/// The bucket's versioning status. moto 5.2 answers GetBucketVersioning with
/// the root element `GetBucketVersioningResponse` (AWS:
/// `VersioningConfiguration`), which the SDK refuses; then the status is read
/// from the raw body.
async fn versioning_status(aws: &AwsClients, name: &str) -> Option<String> {
    match aws.s3.get_bucket_versioning().bucket(name).send().await {
        Ok(out) => out.status().map(|s| s.as_str().to_string()),
        Err(e) => {
            let raw = e.raw_response().expect("GetBucketVersioning answered");
            assert_eq!(
                raw.status().as_u16(),
                200,
                "GetBucketVersioning {name}: {e:?}"
            );
            let body = String::from_utf8_lossy(raw.body().bytes().unwrap()).to_string();
            let start = body.find("<Status>")? + "<Status>".len();
            let end = body[start..].find("</Status>")? + start;
            Some(body[start..end].to_string())
        }
    }
}

#[tokio::test]
async fn s3_bucket_is_created_once_tagged_hardened_swept_and_deleted() {
    let t = T::new("kt-s3").await;
    let cx = t.cx("uploads");

    let first = Bucket.apply(&cx, &props(json!({}))).await.unwrap();
    let name = out(&first, "name");
    assert_eq!(name, bucket_of(&t, &cx).await);
    // The installation element: account and region, in the account's own
    // namespace (moto refuses the namespace header with a wrong suffix).
    let account = t.aws.identity.account_id().await.unwrap();
    assert!(name.starts_with("envctl-kt-s3-uploads-"), "{name}");
    assert!(
        name.ends_with(&format!("-{account}-us-east-1-an")),
        "{name}"
    );
    assert_eq!(naming_problem(&name, true), None);
    assert_eq!(out(&first, "arn"), format!("arn:aws:s3:::{name}"));
    let count = |names: Vec<String>| names.iter().filter(|n| **n == name).count();
    assert_eq!(count(bucket_names(&t.aws).await), 1);
    t.assert_tagged("bucket", &bucket_tags(&t.aws, &name).await, "uploads");

    let enc = t
        .aws
        .s3
        .get_bucket_encryption()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let rule = enc.server_side_encryption_configuration().unwrap().rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .sse_algorithm()
        .as_str()
        .to_string();
    assert_eq!(rule, "AES256");
    let pab = t
        .aws
        .s3
        .get_public_access_block()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );

    let second = Bucket.apply(&cx, &props(json!({}))).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(count(bucket_names(&t.aws).await), 1);
    assert_eq!(Bucket.ready(&cx, &second).await.unwrap(), Readiness::Ready);
    // versioning: false on a bucket that never had it leaves it unversioned.
    let third = Bucket
        .apply(&cx, &props(json!({"versioning": false})))
        .await
        .unwrap();
    assert_eq!(first, third);
    assert_eq!(versioning_status(&t.aws, &name).await, None);

    // A tenant whose name starts with ours must not be swept with us.
    let other = T::new("kt-s3-other").await;
    let other_out = Bucket
        .apply(&other.cx("uploads"), &props(json!({})))
        .await
        .unwrap();
    let found = Bucket.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "uploads");
    assert_eq!(out(&found[0].outputs, "name"), name);

    // Delete what the sweep found, as destroy after state loss would.
    Bucket.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(!bucket_exists(&t.aws, &name).await);
    Bucket.delete(&cx, &first).await.unwrap();
    assert!(Bucket.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    assert!(bucket_exists(&t.aws, &out(&other_out, "name")).await);

    Bucket
        .delete(&other.cx("uploads"), &other_out)
        .await
        .unwrap();
}

#[tokio::test]
async fn s3_versioned_bucket_with_many_versions_is_deleted_cleanly() {
    let t = T::new("kt-s3v").await;
    let cx = t.cx("archive");
    let o = Bucket
        .apply(&cx, &props(json!({"versioning": true})))
        .await
        .unwrap();
    let name = out(&o, "name");
    assert_eq!(
        versioning_status(&t.aws, &name).await.as_deref(),
        Some("Enabled")
    );

    for i in 0..3 {
        t.aws
            .s3
            .put_object()
            .bucket(&name)
            .key("report.csv")
            .body(ByteStream::from(format!("v{i}").into_bytes()))
            .send()
            .await
            .unwrap();
    }
    t.aws
        .s3
        .put_object()
        .bucket(&name)
        .key("dir/other.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    // A delete marker on top of the versions.
    t.aws
        .s3
        .delete_object()
        .bucket(&name)
        .key("report.csv")
        .send()
        .await
        .unwrap();
    let versions = t
        .aws
        .s3
        .list_object_versions()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 4);
    assert_eq!(versions.delete_markers().len(), 1);

    // Turning versioning off suspends it (S3 cannot unversion a bucket).
    let again = Bucket
        .apply(&cx, &props(json!({"versioning": false})))
        .await
        .unwrap();
    assert_eq!(again, o);
    assert_eq!(
        versioning_status(&t.aws, &name).await.as_deref(),
        Some("Suspended")
    );
    // Back on. (Also: moto 5.2 fails DeleteObjects with a 500 on a suspended
    // bucket that holds delete markers; AWS does not.)
    let again = Bucket
        .apply(&cx, &props(json!({"versioning": true})))
        .await
        .unwrap();
    assert_eq!(again, o);
    assert_eq!(
        versioning_status(&t.aws, &name).await.as_deref(),
        Some("Enabled")
    );

    Bucket.delete(&cx, &o).await.unwrap();
    assert!(!bucket_exists(&t.aws, &name).await);
    Bucket.delete(&cx, &o).await.unwrap();
}

#[tokio::test]
async fn s3_bucket_without_force_destroy_is_not_emptied() {
    let t = T::new("kt-s3k").await;
    let cx = t.cx("keep");
    let o = Bucket
        .apply(&cx, &props(json!({"force_destroy": false})))
        .await
        .unwrap();
    let name = out(&o, "name");
    t.aws
        .s3
        .put_object()
        .bucket(&name)
        .key("precious")
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap();

    let err = Bucket.delete(&cx, &o).await.unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("force_destroy"), "{err}");
    assert!(bucket_exists(&t.aws, &name).await);
    // A sweep (state lost) keeps the setting: it is a tag.
    let found = Bucket.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(out(&found[0].outputs, "force_destroy"), "false");
    assert!(Bucket.delete(&cx, &found[0].outputs).await.is_err());

    t.aws
        .s3
        .delete_object()
        .bucket(&name)
        .key("precious")
        .send()
        .await
        .unwrap();
    Bucket.delete(&cx, &o).await.unwrap();
    assert!(!bucket_exists(&t.aws, &name).await);
}

#[tokio::test]
async fn s3_lifecycle_and_cors_are_set_and_converge() {
    let t = T::new("kt-s3lc").await;
    let cx = t.cx("exports");
    let spec = json!({
        "lifecycle": {"expire_days": 30, "noncurrent_expire_days": 7},
        "cors": [{"allowed_origins": ["https://app.acme.example.test"], "allowed_methods": ["PUT"]}]
    });
    let o = Bucket.apply(&cx, &props(spec.clone())).await.unwrap();
    Bucket.apply(&cx, &props(spec)).await.unwrap();
    let name = out(&o, "name");
    let lc = t
        .aws
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(lc.rules().len(), 1, "one rule after two applies");
    let rule = &lc.rules()[0];
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(30));
    assert_eq!(
        rule.noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(7)
    );
    let cors = t
        .aws
        .s3
        .get_bucket_cors()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(cors.cors_rules().len(), 1);
    assert_eq!(
        cors.cors_rules()[0].allowed_origins(),
        ["https://app.acme.example.test"]
    );
    assert_eq!(cors.cors_rules()[0].allowed_methods(), ["PUT"]);

    let err = Bucket
        .apply(&cx, &props(json!({"lifecycle": {"expire_days": 0}})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("lifecycle.expire_days"), "{err}");
    Bucket.delete(&cx, &o).await.unwrap();
}

#[tokio::test]
async fn s3_bucket_of_another_tenant_is_not_adopted() {
    let t = T::new("kt-s3x").await;
    let cx = t.cx("data");
    let name = bucket_of(&t, &cx).await;
    t.aws
        .s3
        .create_bucket()
        .bucket(&name)
        .bucket_namespace(aws_sdk_s3::types::BucketNamespace::AccountRegional)
        .send()
        .await
        .unwrap();
    t.aws
        .s3
        .put_bucket_tagging()
        .bucket(&name)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key("envctl:tenant")
                        .value("someone-else")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let err = Bucket.apply(&cx, &props(json!({}))).await.unwrap_err();
    assert!(err.to_string().contains("someone-else"), "{err}");
    assert!(Bucket.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    t.aws.s3.delete_bucket().bucket(&name).send().await.unwrap();
}

/// Clients of another AWS account of the same moto (STS AssumeRole into a
/// role of that account: moto registers the returned keys there).
async fn other_account(account: &str) -> AwsClients {
    let base = support::kinds::shared_moto().sdk_config();
    let assumed = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/envctl-test"))
        .role_session_name("envctl-test")
        .send()
        .await
        .unwrap();
    let c = assumed.credentials().unwrap();
    let credentials = aws_sdk_s3::config::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed",
    );
    let config = base
        .to_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            credentials,
        ))
        .build();
    AwsClients::from_config(&config)
}

#[tokio::test]
async fn s3_names_differ_per_installation_and_another_account_cannot_take_ours() {
    let t = T::new("kt-s3i").await;
    let cx = t.cx("media");
    let o = Bucket.apply(&cx, &props(json!({}))).await.unwrap();
    let ours = out(&o, "name");

    let stranger = other_account("111111111111").await;
    assert_eq!(
        stranger.identity.account_id().await.unwrap(),
        "111111111111"
    );
    // The account regional namespace refuses our name to another account.
    let err = stranger
        .s3
        .create_bucket()
        .bucket(&ours)
        .bucket_namespace(aws_sdk_s3::types::BucketNamespace::AccountRegional)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.raw_response()
            .is_some_and(|r| r.status().as_u16() >= 400),
        "{err:?}"
    );

    // The same tenant and resource in the other installation: its own bucket.
    let stranger_cx = Cx {
        backends: std::sync::Arc::new(envctl::kinds::Backends {
            aws: stranger.clone(),
            values: ValueStore::new(stranger.s3.clone(), "kt-values-unused"),
            kube: envctl::kinds::k8s::KubeClient::from_env(),
        }),
        ..cx.clone()
    };
    let theirs = Bucket.apply(&stranger_cx, &props(json!({}))).await.unwrap();
    let theirs = out(&theirs, "name");
    assert_ne!(theirs, ours);
    assert!(theirs.ends_with("-111111111111-us-east-1-an"), "{theirs}");
    // Each installation's sweep finds its own bucket only.
    let mine = Bucket.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(out(&mine[0].outputs, "name"), ours);
    t.assert_tagged("bucket", &bucket_tags(&t.aws, &ours).await, "media");

    Bucket
        .delete(&stranger_cx, &Outputs::new().plain("name", &theirs))
        .await
        .unwrap();
    Bucket.delete(&cx, &o).await.unwrap();
    assert!(!bucket_exists(&t.aws, &ours).await);
}

#[tokio::test]
async fn s3_bucket_named_by_an_earlier_version_is_kept_not_moved() {
    let t = T::new("kt-s3l").await;
    let cx = t.cx("data");
    let old = "envctl-kt-s3l-data";
    t.aws.s3.create_bucket().bucket(old).send().await.unwrap();
    let tag = |k: &str, v: &str| {
        aws_sdk_s3::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    t.aws
        .s3
        .put_bucket_tagging()
        .bucket(old)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(tag("envctl:tenant", "kt-s3l"))
                .tag_set(tag("envctl:resource", "data"))
                .tag_set(tag("envctl:managed", "true"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let o = Bucket.apply(&cx, &props(json!({}))).await.unwrap();
    assert_eq!(out(&o, "name"), old);
    assert!(!bucket_exists(&t.aws, &bucket_of(&t, &cx).await).await);
    t.assert_tagged("bucket", &bucket_tags(&t.aws, old).await, "data");
    Bucket.delete(&cx, &o).await.unwrap();
    assert!(!bucket_exists(&t.aws, old).await);
}

#[tokio::test]
async fn s3_bad_properties_fail_before_anything_is_created() {
    let t = T::new("kt-s3p").await;
    let cx = t.cx("typo");
    let err = Bucket
        .apply(&cx, &props(json!({"versionning": true})))
        .await
        .unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)));
    assert!(err.to_string().contains("versionning"), "{err}");
    assert!(!bucket_exists(&t.aws, &bucket_of(&t, &cx).await).await);
}

// --------------------------------------------------------------- SQS ----

async fn queue_urls(aws: &AwsClients, prefix: &str) -> Vec<String> {
    let out = aws
        .sqs
        .list_queues()
        .queue_name_prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut urls = out.queue_urls().to_vec();
    urls.sort();
    urls
}

async fn queue_exists(aws: &AwsClients, name: &str) -> bool {
    aws.sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .is_ok()
}

async fn queue_attrs(aws: &AwsClients, url: &str) -> HashMap<QueueAttributeName, String> {
    aws.sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes()
        .cloned()
        .unwrap_or_default()
}

async fn queue_tags(aws: &AwsClients, url: &str) -> HashMap<String, String> {
    aws.sqs
        .list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn sqs_queue_with_dead_letter_is_created_once_swept_and_deleted() {
    let t = T::new("kt-sqs").await;
    let cx = t.cx("orders");
    let p = props(json!({
        "dead_letter": true,
        "max_receive_count": 3,
        "visibility_timeout_seconds": 45,
    }));
    let first = Queue.apply(&cx, &p).await.unwrap();
    let (name, url, dlq_url) = (
        out(&first, "name"),
        out(&first, "url"),
        out(&first, "dlq_url"),
    );
    assert_eq!(name, "envctl-kt-sqs-orders");
    let prefix = "envctl-kt-sqs-";
    assert_eq!(
        queue_urls(&t.aws, prefix).await,
        vec![url.clone(), dlq_url.clone()]
    );
    assert!(dlq_url.ends_with("/envctl-kt-sqs-orders-dlq"), "{dlq_url}");
    t.assert_tagged("queue", &queue_tags(&t.aws, &url).await, "orders");
    t.assert_tagged("dlq", &queue_tags(&t.aws, &dlq_url).await, "orders");

    let attrs = queue_attrs(&t.aws, &url).await;
    assert_eq!(attrs[&QueueAttributeName::QueueArn], out(&first, "arn"));
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "45");
    let redrive: serde_json::Value =
        serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        json!(out(&first, "dlq_arn"))
    );
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "3"
    );
    let dlq_attrs = queue_attrs(&t.aws, &dlq_url).await;
    assert_eq!(
        dlq_attrs[&QueueAttributeName::QueueArn],
        out(&first, "dlq_arn")
    );

    let second = Queue.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(queue_urls(&t.aws, prefix).await.len(), 2);
    assert_eq!(Queue.ready(&cx, &second).await.unwrap(), Readiness::Ready);

    let found = Queue.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "orders");
    assert_eq!(out(&found[0].outputs, "url"), url);
    assert_eq!(out(&found[0].outputs, "dlq_url"), dlq_url);

    Queue.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(!queue_exists(&t.aws, &name).await);
    assert!(!queue_exists(&t.aws, "envctl-kt-sqs-orders-dlq").await);
    assert!(queue_urls(&t.aws, prefix).await.is_empty());
    Queue.delete(&cx, &first).await.unwrap();
}

#[tokio::test]
async fn sqs_attributes_converge_and_dead_letter_can_be_turned_off() {
    let t = T::new("kt-sqsc").await;
    let cx = t.cx("jobs");
    let first = Queue
        .apply(
            &cx,
            &props(json!({"visibility_timeout_seconds": 30, "dead_letter": true})),
        )
        .await
        .unwrap();
    let url = out(&first, "url");
    let second = Queue
        .apply(
            &cx,
            &props(json!({"visibility_timeout_seconds": 60, "message_retention_seconds": 3600})),
        )
        .await
        .unwrap();
    assert_eq!(out(&second, "url"), url);
    assert!(second.get("dlq_url").is_none());
    let attrs = queue_attrs(&t.aws, &url).await;
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "60");
    assert_eq!(attrs[&QueueAttributeName::MessageRetentionPeriod], "3600");
    assert!(
        attrs
            .get(&QueueAttributeName::RedrivePolicy)
            .is_none_or(|p| p.is_empty()),
        "{attrs:?}"
    );
    assert_eq!(queue_urls(&t.aws, "envctl-kt-sqsc-").await, vec![url]);
    Queue.delete(&cx, &second).await.unwrap();
    assert!(queue_urls(&t.aws, "envctl-kt-sqsc-").await.is_empty());
}

#[tokio::test]
async fn sqs_fifo_queue_and_dead_letter_queue_are_fifo() {
    let t = T::new("kt-sqsf").await;
    let cx = t.cx("ledger");
    let o = Queue
        .apply(&cx, &props(json!({"fifo": true, "dead_letter": true})))
        .await
        .unwrap();
    assert_eq!(out(&o, "name"), "envctl-kt-sqsf-ledger.fifo");
    assert!(out(&o, "dlq_url").ends_with("/envctl-kt-sqsf-ledger-dlq.fifo"));
    for url in [out(&o, "url"), out(&o, "dlq_url")] {
        let attrs = queue_attrs(&t.aws, &url).await;
        assert_eq!(attrs[&QueueAttributeName::FifoQueue], "true", "{url}");
    }
    assert_eq!(
        o,
        Queue
            .apply(&cx, &props(json!({"fifo": true, "dead_letter": true})))
            .await
            .unwrap()
    );
    Queue.delete(&cx, &o).await.unwrap();
    assert!(queue_urls(&t.aws, "envctl-kt-sqsf-").await.is_empty());
}

#[tokio::test]
async fn sqs_out_of_range_properties_are_refused() {
    let t = T::new("kt-sqsp").await;
    let cx = t.cx("bad");
    for p in [
        json!({"visibility_timeout_seconds": 50000}),
        json!({"message_retention_seconds": 10}),
        json!({"dead_letter": true, "max_receive_count": 0}),
        json!({"fifo": "yes"}),
    ] {
        let err = Queue.apply(&cx, &props(p.clone())).await.unwrap_err();
        assert!(matches!(err, KindError::Permanent(_)), "{p}: {err}");
    }
    assert!(queue_urls(&t.aws, "envctl-kt-sqsp-").await.is_empty());
}

// --------------------------------------------------------------- SNS ----

async fn subscriptions_of(aws: &AwsClients, topic_arn: &str) -> Vec<(String, String)> {
    // ListSubscriptions (not ...ByTopic) so that it works after the topic is gone.
    let out = aws.sns.list_subscriptions().send().await.unwrap();
    out.subscriptions()
        .iter()
        .filter(|s| s.topic_arn() == Some(topic_arn))
        .map(|s| {
            (
                s.protocol().unwrap_or_default().to_string(),
                s.endpoint().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn topic_arns(aws: &AwsClients) -> Vec<String> {
    let out = aws.sns.list_topics().send().await.unwrap();
    out.topics()
        .iter()
        .filter_map(|t| t.topic_arn().map(str::to_string))
        .collect()
}

async fn queue_policy_statements(aws: &AwsClients, url: &str) -> Vec<serde_json::Value> {
    let attrs = queue_attrs(aws, url).await;
    match attrs.get(&QueueAttributeName::Policy) {
        Some(p) if !p.is_empty() => {
            let v: serde_json::Value = serde_json::from_str(p).unwrap();
            match &v["Statement"] {
                serde_json::Value::Array(a) => a.clone(),
                serde_json::Value::Null => Vec::new(),
                other => vec![other.clone()],
            }
        }
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn sns_topic_subscribes_a_queue_once_and_delete_removes_it() {
    let t = T::new("kt-sns").await;
    let queue_cx = t.cx("orders-queue");
    let queue = Queue.apply(&queue_cx, &props(json!({}))).await.unwrap();
    let (queue_arn, queue_url) = (out(&queue, "arn"), out(&queue, "url"));

    let cx = t.cx("orders");
    let p = props(json!({"subscriptions": [queue_arn]}));
    let first = Topic.apply(&cx, &p).await.unwrap();
    let (arn, name) = (out(&first, "arn"), out(&first, "name"));
    assert_eq!(name, "envctl-kt-sns-orders");
    assert!(arn.ends_with(":envctl-kt-sns-orders"), "{arn}");
    let second = Topic.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(Topic.ready(&cx, &second).await.unwrap(), Readiness::Ready);

    assert_eq!(
        topic_arns(&t.aws)
            .await
            .iter()
            .filter(|a| **a == arn)
            .count(),
        1
    );
    let tags: HashMap<String, String> = t
        .aws
        .sns
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    t.assert_tagged("topic", &tags, "orders");
    assert_eq!(
        subscriptions_of(&t.aws, &arn).await,
        vec![("sqs".to_string(), queue_arn.clone())]
    );

    // The queue lets the topic (and only through its ARN) send to it.
    let statements = queue_policy_statements(&t.aws, &queue_url).await;
    let ours: Vec<_> = statements
        .iter()
        .filter(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"] == json!(arn))
        .collect();
    assert_eq!(ours.len(), 1, "{statements:?}");
    assert_eq!(ours[0]["Action"], json!("sqs:SendMessage"));
    assert_eq!(ours[0]["Resource"], json!(queue_arn));

    // And a message published to the topic arrives in the queue.
    t.aws
        .sns
        .publish()
        .topic_arn(&arn)
        .message("order 42 placed")
        .send()
        .await
        .unwrap();
    let received = t
        .aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = received
        .messages()
        .iter()
        .filter_map(|m| m.body())
        .collect();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("order 42 placed"), "{}", bodies[0]);

    let found = Topic.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "orders");
    assert_eq!(out(&found[0].outputs, "arn"), arn);

    Topic.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(!topic_arns(&t.aws).await.contains(&arn));
    assert!(subscriptions_of(&t.aws, &arn).await.is_empty());
    let statements = queue_policy_statements(&t.aws, &queue_url).await;
    assert!(
        !statements
            .iter()
            .any(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"] == json!(arn)),
        "{statements:?}"
    );
    Topic.delete(&cx, &first).await.unwrap();
    Queue.delete(&queue_cx, &queue).await.unwrap();
}

#[tokio::test]
async fn sns_two_topics_share_a_queue_policy() {
    let t = T::new("kt-sns2").await;
    let queue_cx = t.cx("events");
    let queue = Queue.apply(&queue_cx, &props(json!({}))).await.unwrap();
    let (queue_arn, queue_url) = (out(&queue, "arn"), out(&queue, "url"));
    let p = props(json!({"subscriptions": [queue_arn]}));
    let (a_cx, b_cx) = (t.cx("created"), t.cx("deleted"));
    let (a, b) = tokio::join!(Topic.apply(&a_cx, &p), Topic.apply(&b_cx, &p));
    let (a, b) = (a.unwrap(), b.unwrap());
    let sources: Vec<serde_json::Value> = queue_policy_statements(&t.aws, &queue_url)
        .await
        .iter()
        .map(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"].clone())
        .collect();
    assert!(sources.contains(&json!(out(&a, "arn"))), "{sources:?}");
    assert!(sources.contains(&json!(out(&b, "arn"))), "{sources:?}");

    Topic.delete(&a_cx, &a).await.unwrap();
    let sources: Vec<serde_json::Value> = queue_policy_statements(&t.aws, &queue_url)
        .await
        .iter()
        .map(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"].clone())
        .collect();
    assert_eq!(sources, vec![json!(out(&b, "arn"))]);
    Topic.delete(&b_cx, &b).await.unwrap();
    Queue.delete(&queue_cx, &queue).await.unwrap();
}

#[tokio::test]
async fn sns_fifo_topic_is_named_and_made_fifo() {
    let t = T::new("kt-snsf").await;
    let cx = t.cx("ledger");
    let o = Topic
        .apply(&cx, &props(json!({"fifo": true})))
        .await
        .unwrap();
    assert_eq!(out(&o, "name"), "envctl-kt-snsf-ledger.fifo");
    let attrs = t
        .aws
        .sns
        .get_topic_attributes()
        .topic_arn(out(&o, "arn"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs
            .attributes()
            .and_then(|a| a.get("FifoTopic"))
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        o,
        Topic
            .apply(&cx, &props(json!({"fifo": true})))
            .await
            .unwrap()
    );
    Topic.delete(&cx, &o).await.unwrap();
    assert!(!topic_arns(&t.aws).await.contains(&out(&o, "arn")));
}

#[tokio::test]
async fn sns_subscription_that_is_not_a_queue_arn_is_refused_before_creating() {
    let t = T::new("kt-snsp").await;
    let cx = t.cx("alerts");
    let err = Topic
        .apply(
            &cx,
            &props(json!({"subscriptions": ["https://example.invalid/hook"]})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(
        !topic_arns(&t.aws)
            .await
            .iter()
            .any(|a| a.ends_with(":envctl-kt-snsp-alerts"))
    );
}

// ------------------------------------------------------------- tags ----

#[tokio::test]
async fn a_rerun_with_a_new_expiry_retags_every_kind_in_place() {
    let t = T::new("kt-tag").await;
    let expiry = jiff::Timestamp::from_second(2_000_000_000).unwrap();
    let (b_cx, q_cx, t_cx) = (t.cx("files"), t.cx("work"), t.cx("news"));
    let b1 = Bucket.apply(&b_cx, &props(json!({}))).await.unwrap();
    let q1 = Queue
        .apply(&q_cx, &props(json!({"dead_letter": true})))
        .await
        .unwrap();
    let t1 = Topic.apply(&t_cx, &props(json!({}))).await.unwrap();

    let later = |mut cx: Cx| {
        cx.expires_at = Some(expiry);
        cx
    };
    let (b_cx, q_cx, t_cx) = (later(b_cx), later(q_cx), later(t_cx));
    let b2 = Bucket.apply(&b_cx, &props(json!({}))).await.unwrap();
    let q2 = Queue
        .apply(&q_cx, &props(json!({"dead_letter": true})))
        .await
        .unwrap();
    let t2 = Topic.apply(&t_cx, &props(json!({}))).await.unwrap();
    assert_eq!((&b1, &q1, &t1), (&b2, &q2, &t2));

    let want = expiry.to_string();
    let bucket = bucket_tags(&t.aws, &out(&b2, "name")).await;
    assert_eq!(bucket.get("envctl:expires-at"), Some(&want), "{bucket:?}");
    t.assert_tagged("bucket", &bucket, "files");
    for url in [out(&q2, "url"), out(&q2, "dlq_url")] {
        let tags = queue_tags(&t.aws, &url).await;
        assert_eq!(
            tags.get("envctl:expires-at"),
            Some(&want),
            "{url}: {tags:?}"
        );
    }
    let topic: HashMap<String, String> = t
        .aws
        .sns
        .list_tags_for_resource()
        .resource_arn(out(&t2, "arn"))
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert_eq!(topic.get("envctl:expires-at"), Some(&want), "{topic:?}");
    assert_eq!(
        topic_arns(&t.aws)
            .await
            .iter()
            .filter(|a| **a == out(&t2, "arn"))
            .count(),
        1
    );

    Topic.delete(&t_cx, &t2).await.unwrap();
    Queue.delete(&q_cx, &q2).await.unwrap();
    Bucket.delete(&b_cx, &b2).await.unwrap();
    assert!(Topic.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    assert!(Queue.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    assert!(Bucket.sweep(&t.sweep_cx()).await.unwrap().is_empty());
}

// ---------------------------------------------------- secret.password ----

#[tokio::test]
async fn password_is_generated_once_adopted_from_the_store_and_never_printed() {
    let t = T::new("kt-pw").await;
    let home = EnvKey::new(ENVIRONMENT, Some("kt-pw"), Level::Tenant, "DB_PASSWORD").unwrap();
    let mut cx = t.cx("db-password");
    cx.publish = vec![home.clone()];
    let p = props(json!({"length": 40}));

    let first = Password.apply(&cx, &p).await.unwrap();
    let value = first.get("value").unwrap();
    assert!(value.is_secret());
    let v1 = value.expose().to_string();
    assert_eq!(v1.len(), 40);
    assert!(
        v1.chars().all(|c| c.is_ascii_alphanumeric()),
        "not alphanumeric"
    );
    let shown = format!("{first:?} {:?}", first.plain_map());
    assert!(!shown.contains(&v1), "the password shows in Debug output");
    assert!(shown.contains(MASK));

    // Nothing stored yet: a rerun would generate a new one...
    let unstored = Password.apply(&cx, &p).await.unwrap();
    assert_ne!(unstored.require("value").unwrap(), v1);

    // ...but once the engine has published it, a rerun adopts it.
    t.values().put(&home, &v1, true).await.unwrap();
    let second = Password.apply(&cx, &p).await.unwrap();
    assert_eq!(second.require("value").unwrap(), v1);
    assert_eq!(first, second);
    let stored = t.values().get(&home).await.unwrap().unwrap();
    assert!(stored.secret);
    assert_eq!(stored.shown(false), MASK);

    Password.delete(&cx, &second).await.unwrap();

    let unpublished = Password
        .apply(&t.cx("other"), &props(json!({})))
        .await
        .unwrap_err();
    assert!(matches!(unpublished, KindError::Permanent(_)));
    assert!(
        unpublished.to_string().contains("published"),
        "{unpublished}"
    );
}

#[tokio::test]
async fn password_properties_are_checked() {
    let t = T::new("kt-pwp").await;
    let mut cx = t.cx("token");
    cx.publish = vec![EnvKey::new(ENVIRONMENT, Some("kt-pwp"), Level::Tenant, "TOKEN").unwrap()];
    let o = Password
        .apply(&cx, &props(json!({"special": true, "length": 128})))
        .await
        .unwrap();
    let v = o.require("value").unwrap();
    assert_eq!(v.len(), 128);
    assert!(v.chars().any(|c| !c.is_ascii_alphanumeric()));
    assert_eq!(
        Password
            .apply(&cx, &props(json!({})))
            .await
            .unwrap()
            .require("value")
            .unwrap()
            .len(),
        32
    );
    for bad in [
        json!({"length": 15}),
        json!({"length": 129}),
        json!({"size": 20}),
    ] {
        let err = Password.apply(&cx, &props(bad.clone())).await.unwrap_err();
        assert!(matches!(err, KindError::Permanent(_)), "{bad}: {err}");
    }
}

// -------------------------------------------------------- value store ----

#[tokio::test]
async fn value_store_default_bucket_is_this_installations_own() {
    let t = T::new("kt-vdef").await;
    let account = t.aws.identity.account_id().await.unwrap();
    let store = ValueStore::for_installation(&t.aws, None).await.unwrap();
    assert_eq!(
        store.bucket(),
        bucket_names::values_bucket(&account, "us-east-1").name
    );
    assert_eq!(
        store.bucket(),
        format!("envctl-values-{account}-us-east-1-an")
    );
    // Created in the account regional namespace (moto checks the suffix
    // against the caller's account), adopted on the second call.
    store.ensure_bucket().await.unwrap();
    store.ensure_bucket().await.unwrap();
    let tags = bucket_tags(&t.aws, store.bucket()).await;
    assert_eq!(tags.get("envctl:role").map(String::as_str), Some("values"));
    let k = key(Some("kt-vdef"), Level::Tenant, "API_URL");
    store.put(&k, "https://api", false).await.unwrap();
    assert_eq!(
        store.get(&k).await.unwrap().unwrap().value.expose(),
        "https://api"
    );
    store.delete(&k).await.unwrap();

    // --values-bucket / ENVCTL_VALUES_BUCKET overrides the name.
    let explicit = ValueStore::for_installation(&t.aws, Some("kt-values-explicit".into()))
        .await
        .unwrap();
    assert_eq!(explicit.bucket(), "kt-values-explicit");
}

#[tokio::test]
async fn value_store_put_asks_for_sse_itself() {
    // A bucket without default encryption (not made by ensure_bucket): moto
    // then reports SSE on an object only if the PutObject asked for it. (On
    // AWS every new object is SSE-S3 since 2023, so this needs moto.)
    let t = T::new("kt-vse").await;
    let bucket = "kt-values-kt-vse-raw";
    t.aws
        .s3
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let store = ValueStore::new(t.aws.s3.clone(), bucket);
    let k = key(Some("kt-vse"), Level::Tenant, "API_TOKEN");
    store.put(&k, "tok", true).await.unwrap();
    let head = t
        .aws
        .s3
        .head_object()
        .bucket(bucket)
        .key(k.object_key())
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    let raw = t
        .aws
        .s3
        .put_object()
        .bucket(bucket)
        .key("control")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.server_side_encryption(), None, "moto encrypts anyway?");
    // An object written by another tool, without our metadata, is masked.
    t.aws
        .s3
        .put_object()
        .bucket(bucket)
        .key("test/kt-vse/common/FOREIGN")
        .body(ByteStream::from_static(b"from the aws cli"))
        .send()
        .await
        .unwrap();
    let foreign = store
        .get(&key(Some("kt-vse"), Level::Tenant, "FOREIGN"))
        .await
        .unwrap()
        .unwrap();
    assert!(foreign.secret);
    assert_eq!(foreign.shown(true), "from the aws cli");
    assert_eq!(store.delete_tenant(ENVIRONMENT, "kt-vse").await.unwrap(), 2);
    t.aws
        .s3
        .delete_object()
        .bucket(bucket)
        .key("control")
        .send()
        .await
        .unwrap();
    t.aws
        .s3
        .delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
}

fn key(tenant: Option<&str>, level: Level, k: &str) -> EnvKey {
    EnvKey::new(ENVIRONMENT, tenant, level, k).unwrap()
}

#[tokio::test]
async fn value_store_bucket_is_encrypted_private_and_tagged_without_a_tenant() {
    let t = T::new("kt-vb").await;
    let store = t.values();
    // Twice: adopting the bucket is fine.
    store.ensure_bucket().await.unwrap();
    let bucket = store.bucket().to_string();
    assert_eq!(
        bucket_names(&t.aws)
            .await
            .iter()
            .filter(|b| **b == bucket)
            .count(),
        1
    );
    let tags = bucket_tags(&t.aws, &bucket).await;
    assert_eq!(tags.get("envctl:managed").map(String::as_str), Some("true"));
    assert_eq!(tags.get("envctl:role").map(String::as_str), Some("values"));
    assert!(!tags.contains_key("envctl:tenant"), "{tags:?}");
    let enc = t
        .aws
        .s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        enc.server_side_encryption_configuration().unwrap().rules()[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let pab = t
        .aws
        .s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pab.public_access_block_configuration()
            .unwrap()
            .block_public_policy(),
        Some(true)
    );
}

#[tokio::test]
async fn value_store_put_get_list_merge_and_delete() {
    let t = T::new("kt-vs").await;
    let store = t.values();
    let tn = Some("kt-vs");
    let billing = Level::Service("billing".into());
    let search = Level::Service("search".into());

    let env_a = key(None, Level::Environment, "A");
    let env_log = key(None, Level::Environment, "LOG_LEVEL");
    let ten_a = key(tn, Level::Tenant, "A");
    let ten_db = key(tn, Level::Tenant, "DB_PASSWORD");
    let svc_a = key(tn, billing.clone(), "A");
    let svc_only = key(tn, billing.clone(), "BILLING_ONLY");
    let other_svc = key(tn, search.clone(), "SEARCH_ONLY");
    let other_tenant = key(Some("kt-vs-2"), Level::Tenant, "A");
    for (k, v, secret) in [
        (&env_a, "env", false),
        (&env_log, "info", false),
        (&ten_a, "tenant", false),
        (&ten_db, "s3cret-value", true),
        (&svc_a, "service", false),
        (&svc_only, "b", false),
        (&other_svc, "s", false),
        (&other_tenant, "other", false),
    ] {
        store.put(k, v, secret).await.unwrap();
    }
    // An object outside the layout is ignored by list.
    t.aws
        .s3
        .put_object()
        .bucket(store.bucket())
        .key("test/kt-vs/README.txt")
        .body(ByteStream::from_static(b"not a value"))
        .send()
        .await
        .unwrap();

    // Every put asked for SSE, and carries the secret flag.
    let head = t
        .aws
        .s3
        .head_object()
        .bucket(store.bucket())
        .key(ten_db.object_key())
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("envctl-secret"))
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        head.content_type().map(|c| c.starts_with("text/plain")),
        Some(true)
    );

    let got = store.get(&ten_db).await.unwrap().unwrap();
    assert_eq!(got.value.expose(), "s3cret-value");
    assert!(got.secret);
    assert!(!format!("{got:?}").contains("s3cret-value"));
    let plain = store.get(&env_log).await.unwrap().unwrap();
    assert_eq!(
        plain,
        StoredValue {
            value: SecretString::new("info"),
            secret: false
        }
    );
    assert_eq!(plain.shown(false), "info");
    assert!(
        store
            .get(&key(tn, Level::Tenant, "MISSING"))
            .await
            .unwrap()
            .is_none()
    );

    // list
    let mut env_only = vec![env_a.clone(), env_log.clone()];
    env_only.sort();
    assert_eq!(store.list(ENVIRONMENT, None, None).await.unwrap(), env_only);
    let mut tenant_all = vec![
        env_a.clone(),
        env_log.clone(),
        ten_a.clone(),
        ten_db.clone(),
        svc_a.clone(),
        svc_only.clone(),
        other_svc.clone(),
    ];
    tenant_all.sort();
    assert_eq!(store.list(ENVIRONMENT, tn, None).await.unwrap(), tenant_all);
    let mut billing_view = vec![
        env_a.clone(),
        env_log.clone(),
        ten_a.clone(),
        ten_db.clone(),
        svc_a.clone(),
        svc_only.clone(),
    ];
    billing_view.sort();
    assert_eq!(
        store.list(ENVIRONMENT, tn, Some("billing")).await.unwrap(),
        billing_view
    );

    // merged: service > tenant-common > environment-common
    let merged = store
        .merged(ENVIRONMENT, tn, Some("billing"))
        .await
        .unwrap();
    let view: BTreeMap<&str, (String, Level)> = merged
        .iter()
        .map(|(k, (v, l))| (k.as_str(), (v.shown(false), l.clone())))
        .collect();
    assert_eq!(
        view,
        BTreeMap::from([
            ("A", ("service".to_string(), billing.clone())),
            ("BILLING_ONLY", ("b".to_string(), billing.clone())),
            ("DB_PASSWORD", (MASK.to_string(), Level::Tenant)),
            ("LOG_LEVEL", ("info".to_string(), Level::Environment)),
        ])
    );
    let tenant_view = store.merged(ENVIRONMENT, tn, None).await.unwrap();
    assert_eq!(tenant_view["A"].1, Level::Tenant);
    assert!(!tenant_view.contains_key("BILLING_ONLY"));

    // delete one
    store.delete(&svc_a).await.unwrap();
    store.delete(&svc_a).await.unwrap();
    assert!(store.get(&svc_a).await.unwrap().is_none());
    let merged = store
        .merged(ENVIRONMENT, tn, Some("billing"))
        .await
        .unwrap();
    assert_eq!(merged["A"].0.value.expose(), "tenant");

    // environments of a tenant, then delete the tenant
    assert_eq!(
        store.tenant_environments("kt-vs").await.unwrap(),
        vec![ENVIRONMENT.to_string()]
    );
    // ten_a, ten_db, svc_only, other_svc and the README
    assert_eq!(store.delete_tenant(ENVIRONMENT, "kt-vs").await.unwrap(), 5);
    assert!(store.tenant_environments("kt-vs").await.unwrap().is_empty());
    assert_eq!(store.list(ENVIRONMENT, tn, None).await.unwrap(), env_only);
    assert_eq!(
        store
            .get(&other_tenant)
            .await
            .unwrap()
            .unwrap()
            .value
            .expose(),
        "other"
    );
    assert_eq!(store.delete_tenant(ENVIRONMENT, "kt-vs").await.unwrap(), 0);
    // `common` is not a tenant: it would cover the environment-common values.
    assert!(store.delete_tenant(ENVIRONMENT, "common").await.is_err());
    assert_eq!(store.list(ENVIRONMENT, None, None).await.unwrap(), env_only);
}

#[tokio::test]
async fn value_store_delete_tenant_pages_through_many_objects() {
    let t = T::new("kt-vsm").await;
    let store = t.values();
    let tn = Some("kt-vsm");
    // More than one ListObjectsV2 page (1000) and one DeleteObjects batch.
    let keys: Vec<EnvKey> = (0..1100)
        .map(|i| {
            key(
                tn,
                Level::Service(format!("svc-{}", i % 7)),
                &format!("K_{i}"),
            )
        })
        .collect();
    use futures::stream::{self, StreamExt, TryStreamExt};
    stream::iter(keys.iter().map(|k| store.put(k, "v", false)))
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    assert_eq!(store.list(ENVIRONMENT, tn, None).await.unwrap().len(), 1100);
    assert_eq!(
        store.delete_tenant(ENVIRONMENT, "kt-vsm").await.unwrap(),
        1100
    );
    assert!(store.list(ENVIRONMENT, tn, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn through_the_realism_proxy_a_queue_recreated_too_soon_waits_out_sqs_60_seconds() {
    let moto = support::kinds::shared_moto();
    let realism = support::realism::Realism::start(&moto, Default::default());
    let aws = AwsClients::from_config(&realism.sdk_config());
    let backends = std::sync::Arc::new(envctl::kinds::Backends {
        values: ValueStore::new(aws.s3.clone(), "kt-values-realism-sqs"),
        aws,
        kube: envctl::kinds::k8s::KubeClient::from_env(),
    });
    let cx = Cx {
        tenant: envctl::tenant::TenantName::parse("kt-sqsr").unwrap(),
        stack: STACK.into(),
        environment: ENVIRONMENT.into(),
        resource_id: "jobs".into(),
        expires_at: None,
        publish: Vec::new(),
        interrupted: false,
        pool: None,
        backends,
    };
    let o = Queue.apply(&cx, &props(json!({}))).await.unwrap();
    Queue.delete(&cx, &o).await.unwrap();
    // Created again at once: SQS refuses the name for 60 s (scaled here);
    // the kind says it waits for that, and succeeds after it.
    let started = std::time::Instant::now();
    let mut waits = 0;
    let again = loop {
        match Queue.apply(&cx, &props(json!({}))).await {
            Ok(o) => break o,
            Err(KindError::Waiting {
                waiting_for,
                within,
                ..
            }) => {
                assert!(waiting_for.contains("60 seconds"), "{waiting_for}");
                assert!(within >= std::time::Duration::from_secs(60));
                waits += 1;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(started.elapsed().as_secs() < 60, "still refused");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(waits >= 1);
    assert!(realism.stat("sqs.queue_deleted_recently") >= 1);
    assert_eq!(out(&again, "name"), out(&o, "name"));
    Queue.delete(&cx, &again).await.unwrap();
}
