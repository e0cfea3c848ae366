//! The contract every kind keeps (see `src/kinds/mod.rs`), checked the same
//! way for each kind of the registry: apply (every output declared, secret
//! as declared); apply again (same outputs, still one resource, counted with
//! a raw client); the tenant's tags; a sweep that finds exactly this resource
//! and not the resource of a tenant whose name starts with ours (`ct-x`
//! against `ct-x2` and `ct-x-b`); delete; delete again; an empty sweep. Each
//! kind's [`Case`] (in `contract/`) gives a minimal valid set of properties,
//! makes what the kind needs first, and reads what exists with a raw client,
//! never with the kind.

mod aws_data;
mod aws_dns;
mod aws_net;
mod k8s;
mod local;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use envctl::kinds::{Cx, Found, Kind, KindError, Outputs, Props, Readiness, kind_by_name};

use super::kinds::KindWorld;

/// The stack every contract tenant belongs to (its `envctl:stack` tag).
pub const STACK: &str = "contract";
/// The logical id of the resource under test, in every case.
pub const RESOURCE: &str = "main";

/// What a resource carries to say whose it is, read with a raw client.
pub enum Marks {
    /// Cloud tags: all of `envctl:tenant`, `envctl:stack`,
    /// `envctl:resource` and `envctl:managed`.
    Tags(HashMap<String, String>),
    /// Fields of an ownership record where the resource itself cannot be
    /// tagged (a Route 53 record set's marker): `envctl:tenant`,
    /// `envctl:resource`, `envctl:managed`.
    Marker(HashMap<String, String>),
    /// Kubernetes labels: `envctl/tenant` and `envctl/managed`.
    Labels(BTreeMap<String, String>),
}

/// What a kind leaves behind, for the raw checks.
pub enum Footprint {
    /// A resource a raw client can count and read the marks of.
    Resource,
    /// Nothing anywhere (the reason is the kind's documented behaviour).
    Nothing(&'static str),
}

/// What a sweep of the tenant finds of this kind.
pub enum Sweep {
    /// Exactly the resource, by tag or label.
    Finds,
    /// Never anything (the reason: what removes it instead).
    Never(&'static str),
}

/// One kind's part in the contract.
#[async_trait]
pub trait Case: Send + Sync {
    /// The kind's name in the registry, e.g. `aws.s3.bucket`.
    fn kind_name(&self) -> &'static str;
    /// The short element of the tenants' names: `ct-<code>`, `ct-<code>2`,
    /// `ct-<code>-b`.
    fn code(&self) -> &'static str;
    /// The output that names the resource (compared with the sweep's).
    fn identity(&self) -> &'static str;
    fn footprint(&self) -> Footprint {
        Footprint::Resource
    }
    fn sweep(&self) -> Sweep {
        Sweep::Finds
    }
    /// Removes what an earlier, interrupted run of this case left where a
    /// test's world outlives it (the Kubernetes cluster); moto is new per run.
    async fn reset(&self, _w: &KindWorld) {}
    /// Makes what the kind needs for tenant `w` (a VPC, a zone, values) with
    /// raw calls, adjusts `cx` if the kind needs more (where it publishes),
    /// and returns a minimal valid set of properties.
    async fn prepare(&self, w: &KindWorld, cx: &mut Cx) -> Props;
    /// What the engine does after a successful apply that the next apply
    /// relies on (publishing a generated password).
    async fn after_apply(&self, _w: &KindWorld, _cx: &Cx, _out: &Outputs) {}
    /// How many resources like this one of tenant `w` exist, counted with a
    /// raw client by deterministic name or the tenant's tag.
    async fn count(&self, _w: &KindWorld, _out: &Outputs) -> usize {
        0
    }
    /// The resource's marks, read with a raw client.
    async fn marks(&self, _w: &KindWorld, _out: &Outputs) -> Option<Marks> {
        None
    }
    /// Removes what [`Case::prepare`] made, where it would outlive the test.
    async fn cleanup(&self, _w: &KindWorld, _props: &Props) {}
}

/// Every case, one per kind of the registry.
pub fn cases() -> Vec<&'static dyn Case> {
    let mut all: Vec<&'static dyn Case> = Vec::new();
    all.extend(local::CASES);
    all.extend(aws_net::CASES);
    all.extend(aws_dns::CASES);
    all.extend(aws_data::CASES);
    all.extend(k8s::CASES);
    all
}

/// The case of kind `name`.
pub fn case(name: &str) -> Option<&'static dyn Case> {
    cases().into_iter().find(|c| c.kind_name() == name)
}

/// A tenant of the contract stack with its value bucket made.
pub async fn world(tenant: &str) -> KindWorld {
    let w = KindWorld::new(STACK, tenant, "ct-values");
    w.backends
        .values
        .ensure_bucket()
        .await
        .expect("the tenant's value bucket");
    w
}

/// A properties object from a JSON literal.
pub fn props(v: serde_json::Value) -> Props {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("props must be an object, got {other}"),
    }
}

/// Output `name` of `o`, which must be there.
pub fn out(o: &Outputs, name: &str) -> String {
    o.require(name)
        .unwrap_or_else(|e| panic!("{e} in {o:?}"))
        .to_string()
}

/// How long an apply or delete may keep failing with a transient error
/// (the engine retries those) before the test fails.
const RETRY_FOR: Duration = Duration::from_secs(120);

/// Runs `op` until it succeeds, retrying transient errors as the engine
/// does; panics on a permanent error or after [`RETRY_FOR`].
async fn until_ok<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, KindError>>,
{
    let started = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) if e.is_transient() && started.elapsed() < RETRY_FOR => {
                seen.push(e.to_string());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("{what}: {e} (after {} retries: {seen:?})", seen.len()),
        }
    }
}

/// Polls the kind's `ready` until Ready, as the engine does.
async fn wait_ready(kind: &dyn Kind, cx: &Cx, o: &Outputs) {
    let limit = Duration::from_secs(120);
    let started = Instant::now();
    loop {
        let why = match kind.ready(cx, o).await {
            Ok(Readiness::Ready) => return,
            Ok(Readiness::Pending(why)) => why,
            Err(e) if e.is_transient() => e.to_string(),
            Err(e) => panic!("{}: ready: {e}", kind.name()),
        };
        assert!(
            started.elapsed() < limit,
            "{} not ready after {limit:?}: {why}",
            kind.name()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn apply(kind: &dyn Kind, cx: &Cx, p: &Props) -> Outputs {
    let what = format!("{} apply for {}", kind.name(), cx.tenant);
    let o = until_ok(&what, || kind.apply(cx, p)).await;
    assert_declared(kind, &o);
    wait_ready(kind, cx, &o).await;
    o
}

/// Every output apply gives is one the kind declares (`Kind::outputs`: what
/// `envctl explain` shows and `publish` may name), secret exactly when the
/// declaration says so — a secret output given as plain would be journaled
/// and printed.
fn assert_declared(kind: &dyn Kind, o: &Outputs) {
    for (name, value) in o.iter() {
        let spec = kind.outputs().iter().find(|s| s.name == name);
        let spec = spec.unwrap_or_else(|| {
            panic!(
                "{}: apply gave output '{name}', which the kind does not declare",
                kind.name()
            )
        });
        assert_eq!(
            value.is_secret(),
            spec.secret,
            "{}: output '{name}' is declared {} but was given {}",
            kind.name(),
            if spec.secret { "secret" } else { "plain" },
            if value.is_secret() { "secret" } else { "plain" },
        );
    }
}

/// Deletes, then polls the kind's `gone` until it is, as the engine does.
async fn delete(kind: &dyn Kind, cx: &Cx, o: &Outputs) {
    let what = format!("{} delete for {}", kind.name(), cx.tenant);
    until_ok(&what, || kind.delete(cx, o)).await;
    let limit = Duration::from_secs(120);
    let started = Instant::now();
    loop {
        let why = match kind.gone(cx, o).await {
            Ok(Readiness::Ready) => return,
            Ok(Readiness::Pending(why)) => why,
            Err(e) if e.is_transient() => e.to_string(),
            Err(e) => panic!("{}: gone: {e}", kind.name()),
        };
        assert!(
            started.elapsed() < limit,
            "{} not gone after {limit:?}: {why}",
            kind.name()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sweep(kind: &dyn Kind, w: &KindWorld) -> Vec<Found> {
    let what = format!("{} sweep for {}", kind.name(), w.tenant);
    let scx = w.sweep_cx();
    until_ok(&what, || kind.sweep(&scx)).await
}

/// Checks the marks of tenant `w`'s resource.
fn assert_marked(kind: &str, w: &KindWorld, marks: Marks) {
    let tenant = w.tenant.as_str();
    match marks {
        Marks::Tags(tags) => w.assert_tagged(kind, &tags, RESOURCE),
        Marks::Marker(fields) => {
            for (k, v) in [
                ("envctl:tenant", tenant),
                ("envctl:resource", RESOURCE),
                ("envctl:managed", "true"),
            ] {
                assert_eq!(
                    fields.get(k).map(String::as_str),
                    Some(v),
                    "{kind}: marker field {k} (all: {fields:?})"
                );
            }
        }
        Marks::Labels(labels) => {
            for (k, v) in [("envctl/tenant", tenant), ("envctl/managed", "true")] {
                assert_eq!(
                    labels.get(k).map(String::as_str),
                    Some(v),
                    "{kind}: label {k} (all: {labels:?})"
                );
            }
        }
    }
}

/// One tenant's resource made for the contract.
struct Made<'w> {
    w: &'w KindWorld,
    cx: Cx,
    props: Props,
    out: Outputs,
}

async fn make<'w>(case: &dyn Case, kind: &dyn Kind, w: &'w KindWorld) -> Made<'w> {
    let mut cx = w.cx(RESOURCE);
    let props = case.prepare(w, &mut cx).await;
    let out = apply(kind, &cx, &props).await;
    case.after_apply(w, &cx, &out).await;
    Made { w, cx, props, out }
}

/// The whole contract for one kind.
pub async fn run(case: &dyn Case) {
    let name = case.kind_name();
    let kind = kind_by_name(name).unwrap_or_else(|| panic!("{name} is not in the registry"));
    let code = case.code();
    let ours = world(&format!("ct-{code}")).await;
    // Tenants whose names start with ours: a sweep by name prefix would
    // take their resources for ours.
    let sharers = [
        world(&format!("ct-{code}2")).await,
        world(&format!("ct-{code}-b")).await,
    ];
    let counted = matches!(case.footprint(), Footprint::Resource);
    for w in std::iter::once(&ours).chain(&sharers) {
        case.reset(w).await;
    }

    // Apply, and again: the same outputs, still one resource.
    let a = make(case, kind, &ours).await;
    if counted {
        assert_eq!(
            case.count(&ours, &a.out).await,
            1,
            "{name}: one resource after the first apply"
        );
    }
    let again = apply(kind, &a.cx, &a.props).await;
    assert_eq!(again, a.out, "{name}: a second apply changed the outputs");
    if counted {
        assert_eq!(
            case.count(&ours, &a.out).await,
            1,
            "{name}: a second apply made another resource"
        );
        let marks = case
            .marks(&ours, &a.out)
            .await
            .unwrap_or_else(|| panic!("{name}: its resource carries no marks"));
        assert_marked(name, &ours, marks);
    }

    let mut others = Vec::new();
    for w in &sharers {
        others.push(make(case, kind, w).await);
    }

    // The sweep finds ours, and only ours.
    let found = sweep(kind, &ours).await;
    let gone_with = match case.sweep() {
        Sweep::Finds => {
            assert_eq!(
                found.len(),
                1,
                "{name}: the sweep of {} found {found:?}",
                ours.tenant
            );
            assert_eq!(found[0].resource_id, RESOURCE, "{name}: {found:?}");
            let id = case.identity();
            assert_eq!(
                out(&found[0].outputs, id),
                out(&a.out, id),
                "{name}: the sweep found another resource"
            );
            for o in &others {
                let theirs = sweep(kind, o.w).await;
                assert_eq!(
                    theirs.len(),
                    1,
                    "{name}: sweep of {}: {theirs:?}",
                    o.w.tenant
                );
                assert_eq!(out(&theirs[0].outputs, id), out(&o.out, id), "{name}");
            }
            // Delete what the sweep found, as destroy after state loss does.
            found[0].outputs.clone()
        }
        Sweep::Never(why) => {
            assert!(found.is_empty(), "{name} ({why}): sweep found {found:?}");
            a.out.clone()
        }
    };

    // Delete, and again: both succeed, and nothing is left.
    delete(kind, &a.cx, &gone_with).await;
    if counted {
        assert_eq!(case.count(&ours, &a.out).await, 0, "{name}: still there");
    }
    delete(kind, &a.cx, &a.out).await;
    assert!(
        sweep(kind, &ours).await.is_empty(),
        "{name}: the sweep after delete is not empty"
    );

    // The prefix-sharing tenants' resources were left alone.
    for o in &others {
        if counted {
            assert_eq!(
                case.count(o.w, &o.out).await,
                1,
                "{name}: deleting {}'s resource removed {}'s",
                ours.tenant,
                o.w.tenant
            );
        }
        delete(kind, &o.cx, &o.out).await;
        if counted {
            assert_eq!(case.count(o.w, &o.out).await, 0, "{name}: {}", o.w.tenant);
        }
    }
    for m in std::iter::once(&a).chain(&others) {
        case.cleanup(m.w, &m.props).await;
    }
}
