//! Set-up shared by the per-kind suites (`kinds_*`): one moto per test
//! binary, and a test's tenant with its backends, the `Cx`/`SweepCx` the
//! kinds take, and the check of the tags every resource must carry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use envctl::envapi::ValueStore;
use envctl::kinds::aws::AwsClients;
use envctl::kinds::{Backends, Cx, SweepCx};
use envctl::tenant::TenantName;

use super::Moto;

/// The value-store environment of every kind test.
pub const ENVIRONMENT: &str = "test";

/// One moto for all tests of this binary that run at the same time; the last
/// test to finish stops it (a `static` is never dropped, so it holds only a
/// weak reference).
static MOTO: Mutex<Weak<Moto>> = Mutex::new(Weak::new());

pub fn shared_moto() -> Arc<Moto> {
    let mut slot = MOTO.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = slot.upgrade() {
        return m;
    }
    let m = Arc::new(Moto::start());
    *slot = Arc::downgrade(&m);
    m
}

/// Everything one test needs: its tenant, the backends the kinds get, and
/// raw clients for checks (never the kind under test).
pub struct KindWorld {
    _moto: Arc<Moto>,
    pub stack: &'static str,
    pub tenant: TenantName,
    pub backends: Arc<Backends>,
    pub aws: AwsClients,
}

impl KindWorld {
    /// A tenant of `stack`, with its own value bucket `<values_prefix>-<tenant>`.
    pub fn new(stack: &'static str, tenant: &str, values_prefix: &str) -> KindWorld {
        Self::with_kind_clients(stack, tenant, values_prefix, |aws, _| aws.clone())
    }

    /// As [`KindWorld::new`], with the kinds' clients made from the raw ones
    /// and the SDK configuration (e.g. to record the calls they make).
    pub fn with_kind_clients(
        stack: &'static str,
        tenant: &str,
        values_prefix: &str,
        kind_clients: impl FnOnce(&AwsClients, &aws_config::SdkConfig) -> AwsClients,
    ) -> KindWorld {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let moto = shared_moto();
        let config = moto.sdk_config();
        let aws = AwsClients::from_config(&config);
        let values = ValueStore::new(aws.s3.clone(), format!("{values_prefix}-{tenant}"));
        KindWorld {
            _moto: moto,
            stack,
            tenant: TenantName::parse(tenant).unwrap(),
            backends: Arc::new(Backends {
                aws: kind_clients(&aws, &config),
                values,
                kube: envctl::kinds::k8s::KubeClient::from_env(),
            }),
            aws,
        }
    }

    pub fn cx(&self, resource_id: &str) -> Cx {
        Cx {
            tenant: self.tenant.clone(),
            stack: self.stack.into(),
            environment: ENVIRONMENT.into(),
            resource_id: resource_id.into(),
            expires_at: None,
            publish: Vec::new(),
            interrupted: false,
            pool: None,
            backends: self.backends.clone(),
        }
    }

    pub fn sweep_cx(&self) -> SweepCx {
        SweepCx {
            tenant: self.tenant.clone(),
            backends: self.backends.clone(),
        }
    }

    /// The four tags every resource must carry, for `resource_id`.
    pub fn assert_tagged(&self, what: &str, tags: &HashMap<String, String>, resource_id: &str) {
        let want = [
            ("envctl:tenant", self.tenant.as_str()),
            ("envctl:stack", self.stack),
            ("envctl:resource", resource_id),
            ("envctl:managed", "true"),
        ];
        for (k, v) in want {
            assert_eq!(
                tags.get(k).map(String::as_str),
                Some(v),
                "{what}: tag {k} (all tags: {tags:?})"
            );
        }
    }
}
