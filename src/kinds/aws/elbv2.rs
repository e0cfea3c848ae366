//! The `aws.elbv2.load_balancer` kind: an Application (or Network) Load
//! Balancer per tenant resource with one target group. An ALB with a
//! certificate gets an HTTPS:443 listener forwarding to the target group, an
//! HTTP:80 listener redirecting to it, and a host-header rule per host; an NLB
//! gets one TCP listener. Also the helpers the other load-balancer and
//! database kinds share: list-valued properties and bounded polling.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, HostHeaderConditionConfig, Listener,
    LoadBalancer as LbDescription, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, Rule,
    RuleCondition, Tag, TargetGroup, TargetTypeEnum,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::classify;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};

/// Load balancer and target group names are at most 32 characters.
const MAX_NAME: usize = 32;
/// The TLS policy of the HTTPS listener: TLS 1.3 and 1.2 only, the policy
/// the ELB console proposes by default.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// Rules per ALB (default quota, default rules not counted).
const MAX_HOSTS: usize = 100;
/// DescribeTags takes at most 20 ARNs per call.
const TAG_BATCH: usize = 20;
/// How long one `delete` call waits for the load balancer to disappear
/// before it hands back to the engine (which retries it). Below the engine's
/// per-attempt limit.
const GONE_WAIT: Duration = Duration::from_secs(240);

pub struct LoadBalancer;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum LbType {
    #[default]
    Application,
    Network,
}

/// Whether a load balancer gets public addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub(crate) enum Scheme {
    #[default]
    #[serde(rename = "internet-facing")]
    InternetFacing,
    #[serde(rename = "internal")]
    Internal,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

/// An Application (or Network) Load Balancer with one target group: HTTPS:443
/// with a certificate (HTTP:80 redirecting to it), host-header rules; or TCP.
///
/// An application load balancer without a certificate gets HTTP:80
/// forwarding to the target group; with `certificate_arn`, HTTPS:443
/// forwards (TLS policy `ELBSecurityPolicy-TLS13-1-2-2021-06`) and HTTP:80
/// answers 301 to HTTPS. Each of `hosts` gets a host-header rule on the
/// forwarding listener. A network load balancer gets one TCP listener on
/// `listener_port`. Rules: ELBv2 API reference, CreateLoadBalancer (`Subnets`:
/// an application load balancer needs two Availability Zones; `Scheme`),
/// CreateTargetGroup (`Port` 1-65535, `HealthCheckPath` 1-1024 characters
/// starting with '/', `VpcId`), CreateListener (`Port` 1-65535) and
/// CreateRule (host-header values: 1-128 characters of a-z, 0-9, `-`, `.`,
/// `*`, `?`; at most 100 rules per listener by default, "Quotas for your
/// Application Load Balancers"). The load balancer and target group names
/// are envctl's (`envctl-<tenant>-<id>`, at most 32 characters of letters,
/// digits and `-`, not at either end, not beginning with `internal-`),
/// checked at apply where the tenant is known.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LbProps {
    /// `application` (default) or `network`.
    #[serde(default, rename = "type")]
    lb_type: LbType,
    /// Subnets to place it in; an application load balancer needs subnets
    /// in two Availability Zones. A list, or a comma-separated string (as
    /// references yield), e.g. `${network.subnet_ids}`.
    #[serde(deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    subnet_ids: Vec<String>,
    /// Security groups (a list or a comma-separated string), e.g.
    /// `[${alb-sg.group_id}]`; absent: the VPC's default group.
    #[serde(default, deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    security_group_ids: Vec<String>,
    /// `internet-facing` (default) or `internal`; cannot change once created.
    #[serde(default)]
    scheme: Scheme,
    /// Application only: the ACM certificate ARN of the HTTPS:443 listener,
    /// e.g. `${cert.arn}`; with it HTTP:80 redirects to HTTPS (301), without
    /// it (absent or empty) HTTP:80 forwards to the targets.
    #[serde(default)]
    certificate_arn: Option<String>,
    /// The port the targets listen on; default 8080. Cannot change once
    /// created.
    #[serde(default = "default_target_port")]
    #[schemars(range(min = 1, max = 65535))]
    target_port: u16,
    /// HTTP health check path of the target group, starting with `/`;
    /// default `/healthcheck`.
    #[serde(default = "default_health_check_path")]
    #[schemars(length(max = 1024))]
    health_check_path: String,
    /// Application only: host names (a list or a comma-separated string),
    /// e.g. `[api.example.com, "*.example.com"]`; each gets a host-header
    /// rule forwarding to the target group. Default none.
    #[serde(default, deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    hosts: Vec<String>,
    /// VPC of the target group, e.g. `${network.vpc_id}`; default: the load
    /// balancer's VPC.
    #[serde(default)]
    vpc_id: Option<String>,
    /// Network only: the port of the TCP listener; default 80.
    #[serde(default)]
    #[schemars(range(min = 1, max = 65535))]
    listener_port: Option<u16>,
}

impl KindProps for LbProps {
    /// The rules across fields and on characters (ELBv2 API reference, see
    /// the struct): ids by prefix, subnets in two zones for an application
    /// load balancer, the health-check path, host-header values (unique, at
    /// most 100), and which properties belong to which type. References are
    /// skipped; a list holding one may stand for several items.
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        let mut bad = |path: &[&str], m: String| issues.push(PropIssue::new(path, m));
        if self.subnet_ids.is_empty() {
            bad(
                &["subnet_ids"],
                "is empty; give at least one subnet id, e.g. ${network.subnet_ids}".into(),
            );
        }
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| !is_ref(h))
            .map(|h| h.to_ascii_lowercase())
            .collect();
        for h in hosts.iter().filter(|h| !valid_host(h)) {
            bad(
                &["hosts"],
                format!(
                    "'{h}' is not a host-header value ALB accepts: 1-128 characters of a-z, \
                     0-9, '-', '.', and the wildcards '*' and '?'"
                ),
            );
        }
        if self.hosts.len() > MAX_HOSTS {
            bad(
                &["hosts"],
                format!(
                    "has {} entries; an ALB listener takes at most {MAX_HOSTS} rules: split \
                     the hosts over several load balancers",
                    self.hosts.len()
                ),
            );
        }
        let mut unique = BTreeSet::new();
        if let Some(h) = hosts.iter().find(|h| !unique.insert(h.as_str())) {
            bad(
                &["hosts"],
                format!("'{h}' is listed twice (host names ignore case); list each once"),
            );
        }
        let certificate = self
            .certificate_arn
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        match self.lb_type {
            LbType::Application => {
                if self.subnet_ids.len() == 1 && !has_ref(&self.subnet_ids) {
                    bad(
                        &["subnet_ids"],
                        "an application load balancer needs subnets in at least two \
                         Availability Zones; add a subnet of another zone"
                            .into(),
                    );
                }
                if self.listener_port.is_some() {
                    bad(
                        &["listener_port"],
                        "is for type: network; an application load balancer listens on 80 \
                         (and 443 with certificate_arn): remove it"
                            .into(),
                    );
                }
            }
            LbType::Network => {
                if certificate {
                    bad(
                        &["certificate_arn"],
                        "is for type: application; a network load balancer gets a TCP \
                         listener: remove it"
                            .into(),
                    );
                }
                if !self.hosts.is_empty() {
                    bad(
                        &["hosts"],
                        "needs type: application (host-header rules are an ALB feature): \
                         remove it"
                            .into(),
                    );
                }
            }
        }
        issues.extend(id_issue("subnet_ids", &self.subnet_ids, "subnet-"));
        issues.extend(id_issue(
            "security_group_ids",
            &self.security_group_ids,
            "sg-",
        ));
        if let Some(v) = self.vpc_id.as_deref().filter(|v| !v.trim().is_empty()) {
            issues.extend(id_issue("vpc_id", &[v.trim().to_string()], "vpc-"));
        }
        issues.extend(health_check_path_issue(&self.health_check_path));
        issues
    }
}

/// The kind's name in stacks.
const NAME: &str = "aws.elbv2.load_balancer";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<LbProps>(NAME));

pub(crate) fn default_target_port() -> u16 {
    8080
}

pub(crate) fn default_health_check_path() -> String {
    "/healthcheck".to_string()
}

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the load balancer ARN",
    },
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the load balancer name, envctl-<tenant>-<id> (at most 32 characters)",
    },
    OutputSpec {
        name: "dns_name",
        secret: false,
        doc: "the load balancer's DNS name",
    },
    OutputSpec {
        name: "canonical_hosted_zone_id",
        secret: false,
        doc: "the Route 53 hosted zone of the DNS name, for alias records",
    },
    OutputSpec {
        name: "target_group_arn",
        secret: false,
        doc: "the target group ARN (register instances or an Auto Scaling group with it)",
    },
    OutputSpec {
        name: "listener_arn",
        secret: false,
        doc: "the listener that forwards to the target group (HTTPS with a certificate, \
              else HTTP; TCP for a network load balancer)",
    },
    OutputSpec {
        name: "https_listener_arn",
        secret: false,
        doc: "the HTTPS listener ARN (only with certificate_arn)",
    },
];

// ------------------------------------------------------------ shared ----

use super::owner::{foreign_owner, refuse_foreign, swept_resource};
use super::props::{
    has_ref, health_check_path_issue, id_issue, non_empty, refuse, string_list, string_list_schema,
};
use super::wait::poll_until;

/// Checks a load balancer or target group name: letters, digits and '-',
/// not at either end, not beginning with `internal-`.
pub(crate) fn check_elb_name(what: &str, name: &str, cx: &Cx) -> Result<(), KindError> {
    if valid_elb_name(name) {
        Ok(())
    } else {
        Err(KindError::Permanent(format!(
            "{what} name '{name}' (from tenant '{}' and resource id '{}') is not valid: ELB \
             names use letters, digits and '-', not at either end; rename the resource",
            cx.tenant, cx.resource_id
        )))
    }
}

/// CreateLoadBalancer / CreateTargetGroup `Name`: at most 32 characters,
/// letters, digits and '-', not beginning or ending with '-', and (load
/// balancers) not beginning with `internal-` (ELBv2 API reference).
pub(crate) fn valid_elb_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.starts_with("internal-")
}

// ------------------------------------------------------------- props ----

struct Wanted {
    name: String,
    lb_type: LbType,
    subnets: Vec<String>,
    security_groups: Vec<String>,
    scheme: Scheme,
    certificate: Option<String>,
    target_port: u16,
    health_check_path: String,
    hosts: Vec<String>,
    vpc_id: Option<String>,
    listener_port: u16,
}

/// A host header ALB accepts: 1-128 characters of a-z, 0-9, '-', '.', and
/// the wildcards '*' and '?'.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 128
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.*?".contains(c))
}

fn wanted(cx: &Cx, props: &Props) -> Result<Wanted, KindError> {
    let p: LbProps = parse_props(props)?;
    let name = cx.physical_name(MAX_NAME);
    check_elb_name("load balancer", &name, cx)?;
    refuse(SCHEMA.issues(props))?;
    Ok(Wanted {
        name,
        lb_type: p.lb_type,
        subnets: p.subnet_ids,
        security_groups: p.security_group_ids,
        scheme: p.scheme,
        certificate: non_empty(p.certificate_arn),
        target_port: p.target_port,
        health_check_path: p.health_check_path,
        hosts: p.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        vpc_id: non_empty(p.vpc_id),
        listener_port: p.listener_port.unwrap_or(80),
    })
}

// -------------------------------------------------------------- tags ----

fn sdk_tags(cx: &Cx) -> Vec<Tag> {
    cx.tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of each ARN (in batches of 20).
async fn tags_of(
    elbv2: &Client,
    arns: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, KindError> {
    let mut out = HashMap::new();
    for batch in arns.chunks(TAG_BATCH) {
        let answer = elbv2
            .describe_tags()
            .set_resource_arns(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| classify("DescribeTags", e))?;
        for d in answer.tag_descriptions() {
            if let Some(arn) = d.resource_arn() {
                out.insert(
                    arn.to_string(),
                    d.tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                        .collect(),
                );
            }
        }
    }
    Ok(out)
}

/// Refuses a resource of another tenant; adds our tags where missing.
async fn ensure_tags(
    elbv2: &Client,
    cx: &Cx,
    what: &str,
    name: &str,
    arn: &str,
) -> Result<(), KindError> {
    let have = tags_of(elbv2, &[arn.to_string()])
        .await?
        .remove(arn)
        .unwrap_or_default();
    refuse_foreign(&format!("{what} {name}"), &have, cx)?;
    let missing: Vec<Tag> = cx
        .tags()
        .into_iter()
        .filter(|(k, v)| have.get(k) != Some(v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if !missing.is_empty() {
        elbv2
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(missing))
            .send()
            .await
            .map_err(|e| classify(&format!("AddTags {name}"), e))?;
    }
    Ok(())
}

// ------------------------------------------------------ load balancer ----

fn sdk_type(t: LbType) -> LoadBalancerTypeEnum {
    match t {
        LbType::Application => LoadBalancerTypeEnum::Application,
        LbType::Network => LoadBalancerTypeEnum::Network,
    }
}

async fn find_lb(elbv2: &Client, name: &str) -> Result<Option<LbDescription>, KindError> {
    match elbv2.describe_load_balancers().names(name).send().await {
        Ok(out) => Ok(out.load_balancers().first().cloned()),
        Err(e) if e.code() == Some("LoadBalancerNotFound") => Ok(None),
        Err(e) => Err(classify(&format!("DescribeLoadBalancers {name}"), e)),
    }
}

async fn lb_by_arn(elbv2: &Client, arn: &str) -> Result<Option<LbDescription>, KindError> {
    match elbv2
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
    {
        Ok(out) => Ok(out.load_balancers().first().cloned()),
        Err(e) if e.code() == Some("LoadBalancerNotFound") => Ok(None),
        Err(e) => Err(classify(&format!("DescribeLoadBalancers {arn}"), e)),
    }
}

/// Finds the load balancer or creates it, then converges what can change in
/// place (tags, subnets, security groups).
async fn ensure_lb(elbv2: &Client, cx: &Cx, w: &Wanted) -> Result<LbDescription, KindError> {
    let name = &w.name;
    let lb = match find_lb(elbv2, name).await? {
        Some(lb) => lb,
        None => {
            let created = elbv2
                .create_load_balancer()
                .name(name)
                .set_subnets(Some(w.subnets.clone()))
                .set_security_groups(
                    (!w.security_groups.is_empty()).then(|| w.security_groups.clone()),
                )
                .scheme(LoadBalancerSchemeEnum::from(w.scheme.as_str()))
                .r#type(sdk_type(w.lb_type))
                .set_tags(Some(sdk_tags(cx)))
                .send()
                .await;
            match created {
                Ok(out) => out.load_balancers().first().cloned().ok_or_else(|| {
                    KindError::Permanent(format!(
                        "CreateLoadBalancer {name}: no load balancer in the answer"
                    ))
                })?,
                // Made meanwhile (with other settings): the retry adopts it.
                Err(e) if e.code() == Some("DuplicateLoadBalancerName") => {
                    return Err(KindError::Transient(format!(
                        "CreateLoadBalancer {name}: it was created meanwhile; adopting it next"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateLoadBalancer {name}"), e)),
            }
        }
    };
    let arn = lb
        .load_balancer_arn()
        .ok_or_else(|| KindError::Permanent(format!("load balancer {name}: no ARN")))?
        .to_string();
    ensure_tags(elbv2, cx, "load balancer", name, &arn).await?;

    if lb.r#type() != Some(&sdk_type(w.lb_type)) {
        return Err(KindError::Permanent(format!(
            "load balancer {name} exists with type {}, not {:?}; the type cannot change: \
             destroy the resource first",
            lb.r#type().map(|t| t.as_str()).unwrap_or("?"),
            w.lb_type
        )));
    }
    if let Some(s) = lb.scheme()
        && s.as_str() != w.scheme.as_str()
    {
        return Err(KindError::Permanent(format!(
            "load balancer {name} exists with scheme {}, not {}; the scheme cannot change: \
             destroy the resource first",
            s.as_str(),
            w.scheme.as_str()
        )));
    }
    let have_subnets: BTreeSet<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|az| az.subnet_id())
        .collect();
    let want_subnets: BTreeSet<&str> = w.subnets.iter().map(String::as_str).collect();
    if !have_subnets.is_empty() && have_subnets != want_subnets {
        elbv2
            .set_subnets()
            .load_balancer_arn(&arn)
            .set_subnets(Some(w.subnets.clone()))
            .send()
            .await
            .map_err(|e| classify(&format!("SetSubnets {name}"), e))?;
    }
    if !w.security_groups.is_empty() {
        let have: BTreeSet<&str> = lb.security_groups().iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = w.security_groups.iter().map(String::as_str).collect();
        if have != want {
            elbv2
                .set_security_groups()
                .load_balancer_arn(&arn)
                .set_security_groups(Some(w.security_groups.clone()))
                .send()
                .await
                .map_err(|e| classify(&format!("SetSecurityGroups {name}"), e))?;
        }
    }
    Ok(lb)
}

// ------------------------------------------------------- target group ----

async fn find_tg(elbv2: &Client, name: &str) -> Result<Option<TargetGroup>, KindError> {
    match elbv2.describe_target_groups().names(name).send().await {
        Ok(out) => Ok(out.target_groups().first().cloned()),
        Err(e) if e.code() == Some("TargetGroupNotFound") => Ok(None),
        Err(e) => Err(classify(&format!("DescribeTargetGroups {name}"), e)),
    }
}

fn tg_protocol(t: LbType) -> ProtocolEnum {
    match t {
        LbType::Application => ProtocolEnum::Http,
        LbType::Network => ProtocolEnum::Tcp,
    }
}

/// Finds the target group or creates it; its port, protocol and VPC cannot
/// change, its health check path can.
async fn ensure_tg(elbv2: &Client, cx: &Cx, w: &Wanted, vpc: &str) -> Result<String, KindError> {
    let name = &w.name;
    let protocol = tg_protocol(w.lb_type);
    let tg = match find_tg(elbv2, name).await? {
        Some(tg) => tg,
        None => {
            let created = elbv2
                .create_target_group()
                .name(name)
                .protocol(protocol.clone())
                .port(i32::from(w.target_port))
                .vpc_id(vpc)
                .target_type(TargetTypeEnum::Instance)
                .health_check_enabled(true)
                .health_check_protocol(ProtocolEnum::Http)
                .health_check_path(&w.health_check_path)
                .set_tags(Some(sdk_tags(cx)))
                .send()
                .await;
            match created {
                Ok(out) => out.target_groups().first().cloned().ok_or_else(|| {
                    KindError::Permanent(format!(
                        "CreateTargetGroup {name}: no target group in the answer"
                    ))
                })?,
                Err(e) if e.code() == Some("DuplicateTargetGroupName") => {
                    return Err(KindError::Transient(format!(
                        "CreateTargetGroup {name}: it was created meanwhile; adopting it next"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateTargetGroup {name}"), e)),
            }
        }
    };
    let arn = tg
        .target_group_arn()
        .ok_or_else(|| KindError::Permanent(format!("target group {name}: no ARN")))?
        .to_string();
    ensure_tags(elbv2, cx, "target group", name, &arn).await?;
    let immutable = [
        (
            "port",
            tg.port().map(|p| p.to_string()),
            w.target_port.to_string(),
        ),
        (
            "protocol",
            tg.protocol().map(|p| p.as_str().to_string()),
            protocol.as_str().to_string(),
        ),
        ("VPC", tg.vpc_id().map(str::to_string), vpc.to_string()),
    ];
    for (what, have, want) in immutable {
        if let Some(have) = have
            && have != want
        {
            return Err(KindError::Permanent(format!(
                "target group {name} exists with {what} {have}, not {want}; a target group's \
                 port, protocol and VPC cannot change: destroy the resource first"
            )));
        }
    }
    if tg.health_check_path() != Some(w.health_check_path.as_str()) {
        elbv2
            .modify_target_group()
            .target_group_arn(&arn)
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_path(&w.health_check_path)
            .send()
            .await
            .map_err(|e| classify(&format!("ModifyTargetGroup {name}"), e))?;
    }
    Ok(arn)
}

// ---------------------------------------------------------- listeners ----

#[derive(Clone, Debug, PartialEq, Eq)]
enum WantAction {
    Forward(String),
    RedirectToHttps,
}

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
        }
    }
}

/// The one target group a forward action sends to (AWS answers with both
/// TargetGroupArn and ForwardConfig).
fn forward_target(a: &Action) -> Option<&str> {
    a.target_group_arn().or_else(|| {
        let groups = a.forward_config()?.target_groups();
        match groups {
            [one] => one.target_group_arn(),
            _ => None,
        }
    })
}

struct WantListener {
    port: i32,
    protocol: ProtocolEnum,
    certificate: Option<String>,
    action: WantAction,
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

async fn listeners_of(elbv2: &Client, lb_arn: &str) -> Result<Option<Vec<Listener>>, KindError> {
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
async fn ensure_listener(
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
        .set_tags(Some(sdk_tags(cx)))
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
async fn rules_of(elbv2: &Client, listener_arn: &str) -> Result<Option<Vec<Rule>>, KindError> {
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
fn rule_host(r: &Rule) -> Option<String> {
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

async fn delete_rule(elbv2: &Client, arn: &str) -> Result<(), KindError> {
    match elbv2.delete_rule().rule_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("RuleNotFound") => Ok(()),
        Err(e) => Err(classify(&format!("DeleteRule {arn}"), e)),
    }
}

/// Makes the listener's rules exactly one host-header rule per host, each
/// forwarding to `tg_arn`. Rules are matched by their host; new ones take
/// the lowest free priorities.
async fn converge_rules(
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
    let mut kept: BTreeMap<String, &Rule> = BTreeMap::new();
    let mut stale = Vec::new();
    for r in &rules {
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
    let mut used: BTreeSet<i32> = BTreeSet::new();
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
            .set_tags(Some(sdk_tags(cx)))
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
async fn delete_listener(elbv2: &Client, listener_arn: &str) -> Result<(), KindError> {
    if let Some(rules) = rules_of(elbv2, listener_arn).await? {
        for arn in rules.iter().filter_map(|r| r.rule_arn()) {
            delete_rule(elbv2, arn).await?;
        }
    }
    match elbv2
        .delete_listener()
        .listener_arn(listener_arn)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ListenerNotFound") => Ok(()),
        Err(e) => Err(classify(&format!("DeleteListener {listener_arn}"), e)),
    }
}

// ------------------------------------------------------------ delete ----

/// Whether the resource at `arn` is tagged for another tenant (`Ok(true)`
/// also when it is gone).
async fn gone_or_foreign(
    elbv2: &Client,
    arn: &str,
    not_found: &str,
    tenant: &str,
) -> Result<bool, KindError> {
    match elbv2.describe_tags().resource_arns(arn).send().await {
        Ok(out) => Ok(out.tag_descriptions().iter().any(|d| {
            let t: BTreeMap<String, String> = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect();
            foreign_owner(&t, tenant).is_some()
        })),
        Err(e) if e.code() == Some(not_found) => Ok(true),
        Err(e) => Err(classify(&format!("DescribeTags {arn}"), e)),
    }
}

async fn delete_lb(elbv2: &Client, arn: &str, tenant: &str) -> Result<(), KindError> {
    if gone_or_foreign(elbv2, arn, "LoadBalancerNotFound", tenant).await? {
        return Ok(());
    }
    // Dependents first: rules, then listeners.
    if let Some(listeners) = listeners_of(elbv2, arn).await? {
        for l in listeners.iter().filter_map(|l| l.listener_arn()) {
            delete_listener(elbv2, l).await?;
        }
    }
    match elbv2
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("LoadBalancerNotFound") => {}
        Err(e) => return Err(classify(&format!("DeleteLoadBalancer {arn}"), e)),
    }
    let gone = poll_until(GONE_WAIT, || async {
        Ok(lb_by_arn(elbv2, arn).await?.is_none().then_some(()))
    })
    .await?;
    if gone.is_some() {
        Ok(())
    } else {
        Err(KindError::Transient(format!(
            "load balancer {arn} is still being deleted"
        )))
    }
}

async fn delete_tg(elbv2: &Client, arn: &str, tenant: &str) -> Result<(), KindError> {
    if gone_or_foreign(elbv2, arn, "TargetGroupNotFound", tenant).await? {
        return Ok(());
    }
    match elbv2
        .delete_target_group()
        .target_group_arn(arn)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("TargetGroupNotFound") => Ok(()),
        // A load balancer that is going away still holds it for a moment.
        Err(e) if e.code() == Some("ResourceInUse") => Err(KindError::Transient(format!(
            "DeleteTargetGroup {arn}: still in use by a listener or rule; retrying"
        ))),
        Err(e) => Err(classify(&format!("DeleteTargetGroup {arn}"), e)),
    }
}

// -------------------------------------------------------------- kind ----

#[async_trait]
impl Kind for LoadBalancer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "elb"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// A new ALB is `provisioning` for about three minutes before it is
    /// `active` (typical figure for AWS; the ELB user guide, "Load balancer
    /// state", documents the states but no duration, and the SDK's
    /// `load_balancer_available` waiter polls every 15 s for up to 10 min).
    /// Target group, listeners and rules add a few seconds.
    fn expected(&self) -> Duration {
        Duration::from_secs(180)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(15 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let w = wanted(cx, props)?;
        let elbv2 = &cx.backends.aws.elbv2;
        let lb = ensure_lb(elbv2, cx, &w).await?;
        let lb_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let vpc = w
            .vpc_id
            .clone()
            .or_else(|| lb.vpc_id().map(str::to_string))
            .ok_or_else(|| {
                KindError::Permanent(format!(
                    "load balancer {}: no VPC known for the target group; set vpc_id",
                    w.name
                ))
            })?;
        let tg_arn = ensure_tg(elbv2, cx, &w, &vpc).await?;

        let forward = WantAction::Forward(tg_arn.clone());
        let wanted_listeners: Vec<WantListener> = match (w.lb_type, &w.certificate) {
            (LbType::Application, Some(cert)) => vec![
                WantListener {
                    port: 443,
                    protocol: ProtocolEnum::Https,
                    certificate: Some(cert.clone()),
                    action: forward,
                },
                WantListener {
                    port: 80,
                    protocol: ProtocolEnum::Http,
                    certificate: None,
                    action: WantAction::RedirectToHttps,
                },
            ],
            (LbType::Application, None) => vec![WantListener {
                port: 80,
                protocol: ProtocolEnum::Http,
                certificate: None,
                action: forward,
            }],
            (LbType::Network, _) => vec![WantListener {
                port: i32::from(w.listener_port),
                protocol: ProtocolEnum::Tcp,
                certificate: None,
                action: forward,
            }],
        };
        let existing = listeners_of(elbv2, &lb_arn).await?.ok_or_else(|| {
            KindError::Transient(format!(
                "load balancer {} vanished while it was being set up",
                w.name
            ))
        })?;
        // Listeners on ports we no longer want go (a removed certificate
        // leaves no HTTPS listener behind).
        let ports: BTreeSet<i32> = wanted_listeners.iter().map(|l| l.port).collect();
        for l in &existing {
            if let (Some(port), Some(arn)) = (l.port(), l.listener_arn())
                && !ports.contains(&port)
            {
                delete_listener(elbv2, arn).await?;
            }
        }
        let mut arns = Vec::new();
        for want in &wanted_listeners {
            arns.push(ensure_listener(elbv2, cx, &lb_arn, &existing, want).await?);
        }
        // The first listener serves (forwards); host rules live there, and
        // nowhere else (a rule on the redirecting listener would bypass it).
        let serving = arns[0].clone();
        for (i, arn) in arns.iter().enumerate() {
            let hosts: &[String] = if i == 0 { &w.hosts } else { &[] };
            converge_rules(elbv2, cx, arn, hosts, &tg_arn).await?;
        }

        let mut out = Outputs::new()
            .plain("arn", &lb_arn)
            .plain("name", &w.name)
            .plain("dns_name", lb.dns_name().unwrap_or_default())
            .plain(
                "canonical_hosted_zone_id",
                lb.canonical_hosted_zone_id().unwrap_or_default(),
            )
            .plain("target_group_arn", tg_arn)
            .plain("listener_arn", &serving);
        if w.certificate.is_some() && w.lb_type == LbType::Application {
            out = out.plain("https_listener_arn", serving);
        }
        Ok(out)
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let arn = out.require("arn")?;
        let Some(lb) = lb_by_arn(&cx.backends.aws.elbv2, arn).await? else {
            // The API is eventually consistent; the SDK's waiter retries too.
            return Ok(Readiness::Pending("load balancer not visible yet".into()));
        };
        let state = lb.state();
        let reason = state.and_then(|s| s.reason()).unwrap_or("");
        match state.and_then(|s| s.code()) {
            Some(LoadBalancerStateEnum::Active) => Ok(Readiness::Ready),
            Some(LoadBalancerStateEnum::Failed) => Err(KindError::Permanent(format!(
                "load balancer {} failed to provision: {reason}",
                lb.load_balancer_name().unwrap_or(arn)
            ))),
            Some(code) => Ok(Readiness::Pending(
                format!("{} {reason}", code.as_str()).trim().to_string(),
            )),
            None => Ok(Readiness::Pending("no state reported yet".into())),
        }
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let elbv2 = &cx.backends.aws.elbv2;
        let lb = out.get("arn").map(|v| v.expose().to_string());
        let tg = out.get("target_group_arn").map(|v| v.expose().to_string());
        if lb.is_none() && tg.is_none() {
            return Err(KindError::Permanent(
                "output 'arn' (or 'target_group_arn') is missing".into(),
            ));
        }
        // The target group goes after the load balancer: its listeners use it.
        if let Some(arn) = lb {
            delete_lb(elbv2, &arn, cx.tenant.as_str()).await?;
        }
        if let Some(arn) = tg {
            delete_tg(elbv2, &arn, cx.tenant.as_str()).await?;
        }
        Ok(())
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let elbv2 = &cx.backends.aws.elbv2;
        let tenant = cx.tenant.as_str();
        // Names may be cut short (32 characters), so every load balancer's
        // tags are read, not just those whose name starts with the tenant.
        let mut lbs: Vec<(String, String)> = Vec::new();
        let mut pages = elbv2.describe_load_balancers().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeLoadBalancers", e))?;
            for lb in page.load_balancers() {
                if let (Some(arn), Some(name)) = (lb.load_balancer_arn(), lb.load_balancer_name()) {
                    lbs.push((arn.to_string(), name.to_string()));
                }
            }
        }
        let mut tgs: Vec<String> = Vec::new();
        let mut pages = elbv2.describe_target_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeTargetGroups", e))?;
            tgs.extend(
                page.target_groups()
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_string)),
            );
        }
        let lb_arns: Vec<String> = lbs.iter().map(|(a, _)| a.clone()).collect();
        let lb_tags = tags_of(elbv2, &lb_arns).await?;
        let tg_tags = tags_of(elbv2, &tgs).await?;

        // resource id → (load balancers, target groups)
        type Pair = (Vec<(String, String)>, Vec<String>);
        let mut by_resource: BTreeMap<String, Pair> = BTreeMap::new();
        for (arn, name) in lbs {
            if let Some(id) = lb_tags.get(&arn).and_then(|t| swept_resource(tenant, t)) {
                by_resource.entry(id).or_default().0.push((arn, name));
            }
        }
        for arn in tgs {
            if let Some(id) = tg_tags.get(&arn).and_then(|t| swept_resource(tenant, t)) {
                by_resource.entry(id).or_default().1.push(arn);
            }
        }
        let mut found = Vec::new();
        for (resource_id, (lbs, tgs)) in by_resource {
            let n = lbs.len().max(tgs.len());
            for i in 0..n {
                let mut outputs = Outputs::new();
                if let Some((arn, name)) = lbs.get(i) {
                    outputs = outputs.plain("arn", arn).plain("name", name);
                }
                if let Some(tg) = tgs.get(i) {
                    outputs = outputs.plain("target_group_arn", tg);
                }
                found.push(Found {
                    resource_id: resource_id.clone(),
                    outputs,
                });
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct L {
        #[serde(default, deserialize_with = "string_list")]
        ids: Vec<String>,
    }

    fn list(v: serde_json::Value) -> Vec<String> {
        serde_json::from_value::<L>(serde_json::json!({ "ids": v }))
            .unwrap()
            .ids
    }

    #[test]
    fn lists_come_as_lists_or_comma_separated_strings() {
        assert_eq!(list(serde_json::json!("a, b,,c")), ["a", "b", "c"]);
        assert_eq!(list(serde_json::json!(["a", "b,c", "a"])), ["a", "b", "c"]);
        assert!(list(serde_json::json!(null)).is_empty());
        assert!(list(serde_json::json!("")).is_empty());
        assert!(serde_json::from_value::<L>(serde_json::json!({ "ids": 5 })).is_err());
        assert!(serde_json::from_value::<L>(serde_json::json!({ "ids": [5] })).is_err());
    }

    #[test]
    fn hosts_are_checked() {
        assert!(valid_host("api.example.com"));
        assert!(valid_host("*.example.com"));
        assert!(!valid_host(""));
        assert!(!valid_host("exa mple.com"));
        assert!(!valid_host("example.com/path"));
        assert!(!valid_host(&"a".repeat(129)));
    }

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

    #[test]
    fn literal_paths_hosts_and_ports_break_elb_rules_at_validation() {
        // Two subnets unless given: the rest of each case is what is tested.
        let check = |mut v: serde_json::Value| {
            let m = v.as_object_mut().unwrap();
            m.entry("subnet_ids")
                .or_insert(serde_json::json!(["subnet-a", "subnet-b"]));
            let mut paths: Vec<String> = LoadBalancer
                .check(m)
                .into_iter()
                .map(|i| i.path.join("."))
                .collect();
            paths.sort();
            paths
        };
        assert!(check(serde_json::json!({"health_check_path": "/healthcheck", "hosts": ["app.${zone.name}"]})).is_empty());
        assert_eq!(
            check(serde_json::json!({"health_check_path": "healthcheck"})),
            ["health_check_path"]
        );
        assert_eq!(
            check(serde_json::json!({"health_check_path": "/a b"})),
            ["health_check_path"]
        );
        // The message names the host; the list may have come as one
        // comma-separated string, so no index.
        assert_eq!(
            check(serde_json::json!({"hosts": ["ok.example.com", "bad_host!"]})),
            ["hosts"]
        );
        assert_eq!(
            check(serde_json::json!({"target_port": 0, "listener_port": 70000})),
            ["listener_port", "target_port"]
        );
    }

    #[test]
    fn wrongly_typed_and_out_of_range_literals_name_the_field() {
        let issues = |v: serde_json::Value| {
            LoadBalancer
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| (i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        let two = serde_json::json!(["subnet-a", "subnet-b"]);
        let found = issues(serde_json::json!({"subnet_ids": two, "target_port": "web"}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "target_port");
        assert!(
            found[0].1.starts_with("must be a whole number"),
            "{found:?}"
        );
        let found = issues(serde_json::json!({"subnet_ids": two, "type": "gateway"}));
        assert_eq!(
            found,
            [(
                "type".to_string(),
                "is gateway; use one of: application, network".to_string()
            )]
        );
        let found = issues(serde_json::json!({"subnet_ids": two, "target_port": 65536}));
        assert_eq!(found[0].0, "target_port", "{found:?}");
        assert!(
            found[0].1.contains("the most allowed is 65535"),
            "{found:?}"
        );
    }

    #[test]
    fn rules_across_fields_skip_references() {
        let paths = |v: serde_json::Value| {
            LoadBalancer
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| i.path.join("."))
                .collect::<Vec<_>>()
        };
        // One reference may stand for several subnets.
        assert!(paths(serde_json::json!({"subnet_ids": "${network.subnet_ids}"})).is_empty());
        assert!(paths(serde_json::json!({"subnet_ids": ["${network.subnet_ids}"]})).is_empty());
        assert_eq!(
            paths(serde_json::json!({"subnet_ids": ["subnet-a"]})),
            ["subnet_ids"]
        );
        assert_eq!(
            paths(serde_json::json!({
                "subnet_ids": "subnet-a,subnet-b", "hosts": "a.test, A.test"
            })),
            ["hosts"]
        );
        assert_eq!(
            paths(serde_json::json!({
                "type": "network", "subnet_ids": "subnet-a", "hosts": ["a.test"],
                "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x",
            })),
            ["certificate_arn", "hosts"]
        );
        assert_eq!(
            paths(serde_json::json!({
                "subnet_ids": ["subnet-a", "subnet-b"], "listener_port": 81, "vpc_id": "net-1"
            })),
            ["listener_port", "vpc_id"]
        );
        assert!(
            paths(serde_json::json!({
                "type": "network", "subnet_ids": "subnet-a",
                "certificate_arn": "${cert.arn}", "vpc_id": "${network.vpc_id}",
            }))
            .is_empty()
        );
    }

    #[test]
    fn elb_names_follow_the_create_load_balancer_rules() {
        for ok in ["envctl-acme-alb", "a", &"a".repeat(32)] {
            assert!(valid_elb_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "internal-lb", "a_b", "a.b", &"a".repeat(33)] {
            assert!(!valid_elb_name(bad), "{bad}");
        }
        let t = crate::tenant::TenantName::parse(&"t".repeat(40)).unwrap();
        let long = crate::tenant::physical_name(&t, "a-very-long-resource-id", MAX_NAME);
        assert!(valid_elb_name(&long), "{long}");
    }
}
