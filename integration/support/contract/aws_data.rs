//! Contract cases of the AWS data kinds: `aws.s3.bucket`, `aws.sqs.queue`
//! and `aws.sns.topic`. None needs anything made first.

use std::collections::HashMap;

use async_trait::async_trait;
use envctl::kinds::{Cx, Outputs, Props};
use serde_json::json;

use super::{Case, Marks, out, props};
use crate::support::kinds::KindWorld;

pub static CASES: [&dyn Case; 3] = [&Bucket, &Queue, &Topic];

// ------------------------------------------------------------------ S3 ----

struct Bucket;

#[async_trait]
impl Case for Bucket {
    fn kind_name(&self) -> &'static str {
        "aws.s3.bucket"
    }
    fn code(&self) -> &'static str {
        "s3"
    }
    fn identity(&self) -> &'static str {
        "name"
    }
    async fn prepare(&self, _w: &KindWorld, _cx: &mut Cx) -> Props {
        props(json!({}))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        let name = out(o, "name");
        let list = w.aws.s3.list_buckets().send().await.unwrap();
        list.buckets()
            .iter()
            .filter(|b| b.name() == Some(name.as_str()))
            .count()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let t = w
            .aws
            .s3
            .get_bucket_tagging()
            .bucket(out(o, "name"))
            .send()
            .await
            .unwrap();
        Some(Marks::Tags(
            t.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        ))
    }
}

// ----------------------------------------------------------------- SQS ----

struct Queue;

#[async_trait]
impl Case for Queue {
    fn kind_name(&self) -> &'static str {
        "aws.sqs.queue"
    }
    fn code(&self) -> &'static str {
        "sqs"
    }
    fn identity(&self) -> &'static str {
        "url"
    }
    async fn prepare(&self, _w: &KindWorld, _cx: &mut Cx) -> Props {
        props(json!({}))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        let name = out(o, "name");
        let list = w
            .aws
            .sqs
            .list_queues()
            .queue_name_prefix(&name)
            .send()
            .await
            .unwrap();
        list.queue_urls()
            .iter()
            .filter(|u| u.rsplit('/').next() == Some(name.as_str()))
            .count()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let t = w
            .aws
            .sqs
            .list_queue_tags()
            .queue_url(out(o, "url"))
            .send()
            .await
            .unwrap();
        Some(Marks::Tags(t.tags()?.clone().into_iter().collect()))
    }
}

// ----------------------------------------------------------------- SNS ----

struct Topic;

#[async_trait]
impl Case for Topic {
    fn kind_name(&self) -> &'static str {
        "aws.sns.topic"
    }
    fn code(&self) -> &'static str {
        "sns"
    }
    fn identity(&self) -> &'static str {
        "arn"
    }
    async fn prepare(&self, _w: &KindWorld, _cx: &mut Cx) -> Props {
        props(json!({}))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        let suffix = format!(":{}", out(o, "name"));
        let mut n = 0;
        let mut pages = w.aws.sns.list_topics().into_paginator().send();
        while let Some(page) = pages.next().await {
            n += page
                .unwrap()
                .topics()
                .iter()
                .filter(|t| t.topic_arn().is_some_and(|a| a.ends_with(&suffix)))
                .count();
        }
        n
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let t = w
            .aws
            .sns
            .list_tags_for_resource()
            .resource_arn(out(o, "arn"))
            .send()
            .await
            .unwrap();
        let tags: HashMap<String, String> = t
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        Some(Marks::Tags(tags))
    }
}
