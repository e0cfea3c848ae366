//! The listeners of a load balancer and the host-header rules of the
//! serving one: what is wanted, compared with what exists, created,
//! modified or deleted.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HostHeaderConditionConfig,
    Listener, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, Rule,
    RuleCondition,
};

use super::tagging::tags_of;
use crate::kinds::aws::call::deleted;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::foreign_owner;
use crate::kinds::aws::tags::sdk_tags;
use crate::kinds::{Cx, KindError};

/// The TLS policy of the HTTPS listener: TLS 1.3 and 1.2 only, the policy
/// the ELB console proposes by default.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum WantAction {
    Forward(String),
    RedirectToHttps,
    /// A fixed 404: the default of a listener tenants share, where each
    /// tenant's host rule forwards its own hosts (`unmatched: not-found`).
    NotFound,
}

/// The body of the fixed 404 of a shared listener.
const NOT_FOUND_BODY: &str = "no tenant answers this host name";

impl WantAction {
    fn build(&self) -> Action {
        match self {
            WantAction::Forward(tg) => Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(tg)
                .build(),
            WantAction::RedirectToHttps => Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port("443")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build(),
            // FixedResponseActionConfig: StatusCode 2XX/4XX/5XX, ContentType
            // text/plain among others, MessageBody up to 1024 characters
            // (ELBv2 API reference).
            WantAction::NotFound => Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code("404")
                        .content_type("text/plain")
                        .message_body(NOT_FOUND_BODY)
                        .build(),
                )
                .build(),
        }
    }

    fn matches(&self, a: &Action) -> bool {
        match self {
            WantAction::Forward(tg) => {
                a.r#type() == Some(&ActionTypeEnum::Forward) && forward_target(a) == Some(tg)
            }
            WantAction::RedirectToHttps => {
                a.r#type() == Some(&ActionTypeEnum::Redirect)
                    && a.redirect_config().is_some_and(|r| {
                        r.protocol() == Some("HTTPS")
                            && r.port() == Some("443")
                            && r.status_code() == Some(&RedirectActionStatusCodeEnum::Http301)
                    })
            }
            WantAction::NotFound => {
                a.r#type() == Some(&ActionTypeEnum::FixedResponse)
                    && a.fixed_response_config()
                        .is_some_and(|f| f.status_code() == Some("404"))
            }
        }
    }
}

/// The one target group a forward action sends to (AWS answers with both
/// TargetGroupArn and ForwardConfig).
pub(super) fn forward_target(a: &Action) -> Option<&str> {
    a.target_group_arn().or_else(|| {
        let groups = a.forward_config()?.target_groups();
        match groups {
            [one] => one.target_group_arn(),
            _ => None,
        }
    })
}

pub(super) struct WantListener {
    pub(super) port: i32,
    pub(super) protocol: ProtocolEnum,
    pub(super) certificate: Option<String>,
    pub(super) action: WantAction,
}

impl WantListener {
    fn matches(&self, l: &Listener) -> bool {
        let https = self.protocol == ProtocolEnum::Https;
        l.protocol() == Some(&self.protocol)
            && (!https
                || (l.ssl_policy() == Some(SSL_POLICY)
                    && l.certificates().first().and_then(|c| c.certificate_arn())
                        == self.certificate.as_deref()))
            && matches!(l.default_actions(), [a] if self.action.matches(a))
    }

    fn certificates(&self) -> Option<Vec<Certificate>> {
        self.certificate
            .as_ref()
            .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
    }
}

pub(super) async fn listeners_of(
    elbv2: &Client,
    lb_arn: &str,
) -> Result<Option<Vec<Listener>>, KindError> {
    let mut out = Vec::new();
    let mut pages = elbv2
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => out.extend(p.listeners().iter().cloned()),
            Err(e) if e.code() == Some("LoadBalancerNotFound") => return Ok(None),
            Err(e) => return Err(classify(&format!("DescribeListeners {lb_arn}"), e)),
        }
    }
    Ok(Some(out))
}

/// The listener on `want.port`, created or changed to match; its ARN.
pub(super) async fn ensure_listener(
    elbv2: &Client,
    cx: &Cx,
    lb_arn: &str,
    existing: &[Listener],
    want: &WantListener,
) -> Result<String, KindError> {
    let what = format!("listener {}:{}", want.protocol.as_str(), want.port);
    if let Some(l) = existing.iter().find(|l| l.port() == Some(want.port)) {
        let arn = l
            .listener_arn()
            .ok_or_else(|| KindError::Permanent(format!("{what}: no ARN")))?
            .to_string();
        if !want.matches(l) {
            elbv2
                .modify_listener()
                .listener_arn(&arn)
                .port(want.port)
                .protocol(want.protocol.clone())
                .set_certificates(want.certificates())
                .set_ssl_policy(
                    (want.protocol == ProtocolEnum::Https).then(|| SSL_POLICY.to_string()),
                )
                .default_actions(want.action.build())
                .send()
                .await
                // CertificateNotFound is a wait here too (see CreateListener).
                .map_err(|e| classify(&format!("ModifyListener {what}"), e))?;
        }
        return Ok(arn);
    }
    let created = elbv2
        .create_listener()
        .load_balancer_arn(lb_arn)
        .port(want.port)
        .protocol(want.protocol.clone())
        .set_certificates(want.certificates())
        .set_ssl_policy((want.protocol == ProtocolEnum::Https).then(|| SSL_POLICY.to_string()))
        .default_actions(want.action.build())
        .set_tags(Some(sdk_tags(cx.tags())?))
        .send()
        .await;
    match created {
        Ok(out) => out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .map(str::to_string)
            .ok_or_else(|| KindError::Permanent(format!("CreateListener {what}: no ARN"))),
        Err(e) if e.code() == Some("DuplicateListener") => Err(KindError::Transient(format!(
            "CreateListener {what}: it was created meanwhile; adopting it next"
        ))),
        // CertificateNotFound right after ACM issued the certificate: a wait
        // (classify), as terraform-provider-aws retries it on create and
        // modify (internal/service/elbv2/listener.go, RetryWhenAWSErrCodeEquals
        // ... CertificateNotFoundException).
        Err(e) => Err(classify(&format!("CreateListener {what}"), e)),
    }
}

/// The non-default rules of a listener; `None` when it is gone.
pub(super) async fn rules_of(
    elbv2: &Client,
    listener_arn: &str,
) -> Result<Option<Vec<Rule>>, KindError> {
    let mut out = Vec::new();
    let mut pages = elbv2
        .describe_rules()
        .listener_arn(listener_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => out.extend(
                p.rules()
                    .iter()
                    .filter(|r| r.is_default() != Some(true) && r.priority() != Some("default"))
                    .cloned(),
            ),
            Err(e) if e.code() == Some("ListenerNotFound") => return Ok(None),
            Err(e) => return Err(classify(&format!("DescribeRules {listener_arn}"), e)),
        }
    }
    Ok(Some(out))
}

/// The host of a rule with exactly one host-header condition on one value.
pub(super) fn rule_host(r: &Rule) -> Option<String> {
    let [c] = r.conditions() else { return None };
    if c.field() != Some("host-header") {
        return None;
    }
    let values = match c.host_header_config() {
        Some(h) if !h.values().is_empty() => h.values(),
        _ => c.values(),
    };
    match values {
        [one] => Some(one.to_ascii_lowercase()),
        _ => None,
    }
}

pub(super) async fn delete_rule(elbv2: &Client, arn: &str) -> Result<(), KindError> {
    deleted(
        &format!("DeleteRule {arn}"),
        elbv2.delete_rule().rule_arn(arn).send().await,
        &["RuleNotFound"],
    )
}

/// Makes the listener's rules exactly one host-header rule per host, each
/// forwarding to `tg_arn`. Rules are matched by their host; new ones take
/// the lowest free priorities.
pub(super) async fn converge_rules(
    elbv2: &Client,
    cx: &Cx,
    listener_arn: &str,
    hosts: &[String],
    tg_arn: &str,
) -> Result<(), KindError> {
    let Some(rules) = rules_of(elbv2, listener_arn).await? else {
        return Err(KindError::Transient(format!(
            "listener {listener_arn} vanished while its rules were being set"
        )));
    };
    let forward = WantAction::Forward(tg_arn.to_string());
    // Another tenant's rules (its aws.elbv2.host_rule on our shared load
    // balancer) are neither ours to keep nor to remove; their priorities
    // are taken.
    let arns: Vec<String> = rules
        .iter()
        .filter_map(|r| r.rule_arn().map(str::to_string))
        .collect();
    let tags = tags_of(elbv2, &arns).await?;
    let foreign = |r: &Rule| {
        r.rule_arn()
            .and_then(|a| tags.get(a))
            .is_some_and(|t| foreign_owner(t, cx.tenant.as_str()).is_some())
    };
    let mut used: BTreeSet<i32> = BTreeSet::new();
    let mut kept: BTreeMap<String, &Rule> = BTreeMap::new();
    let mut stale = Vec::new();
    for r in &rules {
        if foreign(r) {
            used.extend(r.priority().and_then(|p| p.parse::<i32>().ok()));
            continue;
        }
        match rule_host(r) {
            Some(h) if hosts.contains(&h) && !kept.contains_key(&h) => {
                kept.insert(h, r);
            }
            _ => stale.extend(r.rule_arn()),
        }
    }
    for arn in stale {
        delete_rule(elbv2, arn).await?;
    }
    for r in kept.values() {
        if let Some(p) = r.priority().and_then(|p| p.parse().ok()) {
            used.insert(p);
        }
        if !matches!(r.actions(), [a] if forward.matches(a))
            && let Some(arn) = r.rule_arn()
        {
            elbv2
                .modify_rule()
                .rule_arn(arn)
                .actions(forward.build())
                .send()
                .await
                .map_err(|e| classify(&format!("ModifyRule {arn}"), e))?;
        }
    }
    for host in hosts.iter().filter(|h| !kept.contains_key(*h)) {
        let priority = (1..).find(|p| !used.contains(p)).unwrap_or(1);
        used.insert(priority);
        let created = elbv2
            .create_rule()
            .listener_arn(listener_arn)
            .priority(priority)
            .conditions(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(HostHeaderConditionConfig::builder().values(host).build())
                    .build(),
            )
            .actions(forward.build())
            .set_tags(Some(sdk_tags(cx.tags())?))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("PriorityInUse") => {
                return Err(KindError::Transient(format!(
                    "CreateRule {host}: priority {priority} was taken meanwhile; retrying"
                )));
            }
            Err(e) => return Err(classify(&format!("CreateRule {host}"), e)),
        }
    }
    Ok(())
}

/// Deletes a listener's rules, then the listener; gone is fine.
pub(super) async fn delete_listener(elbv2: &Client, listener_arn: &str) -> Result<(), KindError> {
    if let Some(rules) = rules_of(elbv2, listener_arn).await? {
        for arn in rules.iter().filter_map(|r| r.rule_arn()) {
            delete_rule(elbv2, arn).await?;
        }
    }
    deleted(
        &format!("DeleteListener {listener_arn}"),
        elbv2
            .delete_listener()
            .listener_arn(listener_arn)
            .send()
            .await,
        &["ListenerNotFound"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_hosts_are_read_from_either_form() {
        let with_config = Rule::builder()
            .conditions(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(
                        HostHeaderConditionConfig::builder()
                            .values("API.example.com")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(rule_host(&with_config).as_deref(), Some("api.example.com"));
        let legacy = Rule::builder()
            .conditions(
                RuleCondition::builder()
                    .field("host-header")
                    .values("a.example.com")
                    .build(),
            )
            .build();
        assert_eq!(rule_host(&legacy).as_deref(), Some("a.example.com"));
        let path = Rule::builder()
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .values("/x")
                    .build(),
            )
            .build();
        assert_eq!(rule_host(&path), None);
    }

    #[test]
    fn forward_actions_match_either_form() {
        let tg = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1";
        let want = WantAction::Forward(tg.into());
        assert!(want.matches(&want.build()));
        let via_config = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                aws_sdk_elasticloadbalancingv2::types::ForwardActionConfig::builder()
                    .target_groups(
                        aws_sdk_elasticloadbalancingv2::types::TargetGroupTuple::builder()
                            .target_group_arn(tg)
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert!(want.matches(&via_config));
        assert!(!WantAction::RedirectToHttps.matches(&via_config));
        assert!(WantAction::RedirectToHttps.matches(&WantAction::RedirectToHttps.build()));
    }
}
