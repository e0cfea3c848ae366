//! Lifecycles as types: a tenant's status, a run's status and a run's
//! operation, stored as the same text as ever, and the decisions they carry:
//! may `create tenant` run now, and may an interrupted run resume (and as
//! what).
//!
//! Each enum is written to the state (and the API's JSON) as the word it
//! always was (`ready`, `rolled_back`, `create`, ...), so rows written before
//! these types existed read back unchanged. A word no variant knows is an
//! error naming the words that are known ([`UnknownWord`]).

use std::fmt;

/// A lifecycle word that is none of its type's variants.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{word}' is not a {what}; the known ones are {}", known.join(", "))]
pub struct UnknownWord {
    pub what: &'static str,
    pub word: String,
    pub known: Vec<&'static str>,
}

/// A value the state store takes as a `T`: the enum itself, or its word (the
/// engine still hands over words; a word no variant knows is refused).
pub trait Word<T> {
    fn word(self) -> Result<T, UnknownWord>;
}

/// Declares an enum stored as text: its variants with their words, `as_str`,
/// `Display`, `FromStr`, serde and the OpenAPI schema (an enum of strings),
/// all from the one list.
macro_rules! stored_words {
    ($(#[$meta:meta])* pub enum $name:ident ($what:literal) {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The word stored for it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        // By hand: the derive does not see a macro's `serde(rename)` and
        // would document the variant names instead of the stored words.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($what))
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownWord {
                        what: $what,
                        word: s.into(),
                        known: Self::ALL.iter().map(|v| v.as_str()).collect(),
                    }),
                }
            }
        }

        /// For a word written in code (the engine's `"creating".into()`); a
        /// word that is no variant is a programming error and panics at its
        /// first run. Text from outside goes through `FromStr`.
        impl From<&'static str> for $name {
            fn from(s: &'static str) -> Self {
                s.parse().unwrap_or_else(|e| panic!("{e}"))
            }
        }

        /// Compares with a word (the engine's `status != "ready"`); code that
        /// can should match on the variants.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl Word<$name> for $name {
            fn word(self) -> Result<$name, UnknownWord> {
                Ok(self)
            }
        }

        impl Word<$name> for &str {
            fn word(self) -> Result<$name, UnknownWord> {
                self.parse()
            }
        }
    };
}

stored_words! {
    /// Where a tenant is in its life (`tenants.status`).
    pub enum TenantStatus ("tenant status") {
        /// A create is running, or its process stopped half-way.
        Creating = "creating",
        Ready = "ready",
        /// The last create failed; what it made is kept.
        Failed = "failed",
        /// The last create failed and deleted what it had made.
        RolledBack = "rolled_back",
        /// The last create or destroy was cancelled.
        Interrupted = "interrupted",
        /// A destroy is running, or its process stopped half-way.
        Destroying = "destroying",
        Destroyed = "destroyed",
        /// The last destroy failed; some resources may be left.
        DestroyFailed = "destroy_failed",
        /// A hibernation is running, or it left something up.
        Hibernating = "hibernating",
        Hibernated = "hibernated",
        /// A wake is running, or it left something down.
        Waking = "waking",
    }
}

stored_words! {
    /// Where a run is (`runs.status`, and the API's run views). A create or
    /// destroy finished by the engine records the tenant status it left
    /// (`ready`, `rolled_back`, `failed`, `interrupted`, `destroyed`,
    /// `destroy_failed`); a hibernate or wake records `succeeded` or
    /// `failed`; the API reports a finished run by its verdict.
    pub enum RunStatus ("run status") {
        /// Accepted by the server, waiting for a slot (never stored).
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
        /// Its process stopped before it finished.
        Interrupted = "interrupted",
        Ready = "ready",
        RolledBack = "rolled_back",
        Destroyed = "destroyed",
        DestroyFailed = "destroy_failed",
    }
}

stored_words! {
    /// What a run does (`runs.operation`).
    pub enum Operation ("run operation") {
        Create = "create",
        Destroy = "destroy",
        Hibernate = "hibernate",
        Wake = "wake",
    }
}

/// What `create tenant` does with a tenant, when it may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateMode {
    /// No tenant by that name, or a destroyed one: create it anew.
    Fresh,
    /// A create that failed, was rolled back or cancelled, or whose process
    /// stopped: create again, skipping the nodes that finished.
    Resume,
    /// A ready tenant: apply every node again, adopting what exists and
    /// converging on the stack (like `terraform apply`).
    Reapply,
}

/// Why `create tenant` may not run now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateRefusal {
    /// Hibernating, hibernated or waking: a create would give its
    /// Deployments their replicas back behind hibernation's back.
    Hibernation(TenantStatus),
    /// Being destroyed, or its destroy failed: half of it may be gone.
    Destroying(TenantStatus),
    /// Another run holds the tenant.
    Busy(Operation),
}

/// How each surface (CLI, API) says to do what a refusal asks for.
pub struct HowTo<'a> {
    /// E.g. "`envctl wake tenant acme`" or "POST /api/tenants/acme/wake".
    pub wake: &'a str,
    /// E.g. "`envctl destroy tenant acme`" or "DELETE /api/tenants/acme".
    pub destroy: &'a str,
}

impl CreateRefusal {
    /// The refusal as a sentence: what is in the way and what to do.
    pub fn sentence(self, tenant: &str, how: &HowTo<'_>) -> String {
        match self {
            CreateRefusal::Hibernation(s) => format!(
                "tenant '{tenant}' is {s}; wake it first ({}), then create it again",
                how.wake
            ),
            CreateRefusal::Destroying(s) => format!(
                "tenant '{tenant}' is {s}: its destroy has not finished; destroy it again first ({})",
                how.destroy
            ),
            CreateRefusal::Busy(op) => {
                format!("tenant '{tenant}' has a {op} run going; wait for it to finish")
            }
        }
    }
}

/// May `create tenant` run for a tenant in `status` (`None`: there is no
/// such tenant) while a run of `running` holds it (`None`: none does)?
pub fn may_create(
    status: Option<TenantStatus>,
    running: Option<Operation>,
) -> Result<CreateMode, CreateRefusal> {
    if let Some(op) = running {
        return Err(CreateRefusal::Busy(op));
    }
    status.map_or(Ok(CreateMode::Fresh), TenantStatus::may_create)
}

impl TenantStatus {
    /// May `create tenant` run for a tenant in this status (whether another
    /// run holds it is the lock's, or [`may_create`]'s, to say)?
    pub fn may_create(self) -> Result<CreateMode, CreateRefusal> {
        use TenantStatus::*;
        match self {
            Destroyed => Ok(CreateMode::Fresh),
            Ready => Ok(CreateMode::Reapply),
            Creating | Failed | RolledBack | Interrupted => Ok(CreateMode::Resume),
            Destroying | DestroyFailed => Err(CreateRefusal::Destroying(self)),
            Hibernating | Hibernated | Waking => Err(CreateRefusal::Hibernation(self)),
        }
    }

    /// Destroyed: nothing of it is left to own, reap or bill.
    pub fn is_destroyed(self) -> bool {
        self == TenantStatus::Destroyed
    }

    /// Destroyed or being destroyed: nothing to extend or warn about.
    pub fn is_going_or_gone(self) -> bool {
        matches!(self, TenantStatus::Destroying | TenantStatus::Destroyed)
    }

    /// One of hibernation's statuses (hibernating, hibernated, waking).
    pub fn is_hibernation(self) -> bool {
        matches!(
            self,
            TenantStatus::Hibernating | TenantStatus::Hibernated | TenantStatus::Waking
        )
    }
}

impl RunStatus {
    /// Neither queued nor running.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    /// A finished run's status as the API reports it, by its verdict.
    pub fn of_verdict(v: crate::budget::Verdict) -> Self {
        use crate::budget::Verdict;
        match v {
            Verdict::WithinBudget | Verdict::OverBudget => RunStatus::Succeeded,
            Verdict::Failed => RunStatus::Failed,
            Verdict::Cancelled => RunStatus::Cancelled,
        }
    }
}

/// What to do with a run found unfinished (its process stopped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resume {
    /// Run it again as this operation: a create from the tenant's row (the
    /// finished nodes are skipped), a destroy, a hibernate or a wake (each
    /// safe to repeat).
    Again(Operation),
    /// Close it without running anything; the sentence says why.
    Close(String),
}

impl Operation {
    /// A hibernate or a wake (run by `hibernate`, not by the engine).
    pub fn is_hibernation(self) -> bool {
        matches!(self, Operation::Hibernate | Operation::Wake)
    }

    /// May an interrupted run of this operation be resumed, the tenant being
    /// in `tenant` now (`None`: it is no longer in the state), and as what?
    /// A create resumes only while the tenant is still mid-create (not
    /// finished, destroyed or hibernated since); a destroy unless the tenant
    /// is destroyed since; a hibernate or wake always (the run itself checks
    /// the status under the tenant's lock).
    pub fn may_resume(self, tenant: Option<TenantStatus>) -> Resume {
        match (self, tenant) {
            (Operation::Create, None) => {
                Resume::Close("the tenant is no longer in the state".into())
            }
            (Operation::Create, Some(s)) => match s.may_create() {
                Ok(CreateMode::Resume) => Resume::Again(Operation::Create),
                Ok(_) | Err(_) => Resume::Close(format!(
                    "the tenant is {s} since; nothing of this create is left to finish"
                )),
            },
            (Operation::Destroy, Some(TenantStatus::Destroyed)) => {
                Resume::Close("the tenant is destroyed since".into())
            }
            (op, _) => Resume::Again(op),
        }
    }
}

stored_words! {
    /// Where a rollout is (`rollouts.status`).
    pub enum RolloutStatus ("rollout status") {
        /// Its driver is (or was, before a crash: resume it) starting tenants.
        Running = "running",
        /// Paused by `envctl rollout pause`: the driver starts no tenant
        /// until it is resumed (tenants already started finish).
        Paused = "paused",
        /// Aborted by `envctl rollout abort`: no further tenant starts.
        Aborted = "aborted",
        /// Every tenant upgraded, unchanged or skipped; none failed.
        Succeeded = "succeeded",
        /// Every tenant was tried; some failed, within `--max-failures`.
        Failed = "failed",
        /// Failures passed `--max-failures`: the rest were not started.
        Stopped = "stopped",
    }
}

impl RolloutStatus {
    /// Is the rollout over (nothing will start again)?
    pub fn is_final(self) -> bool {
        !matches!(self, RolloutStatus::Running | RolloutStatus::Paused)
    }
}

stored_words! {
    /// Where one tenant of a rollout is (`rollout_tenants.status`): the
    /// rollout's intent log. See [`RolloutTenantStatus::may_become`].
    pub enum RolloutTenantStatus ("rollout tenant status") {
        /// Not started yet.
        Pending = "pending",
        /// Its new revision is being applied (written before the apply).
        Applying = "applying",
        /// Applied; its health gate (rollout, soak) is running.
        Gating = "gating",
        /// Its apply or gate failed; the previous revision is being
        /// re-applied (written before the rollback).
        RollingBack = "rolling_back",
        /// Upgraded and healthy.
        Succeeded = "succeeded",
        /// Its latest revision already holds the new content: nothing ran.
        Unchanged = "unchanged",
        /// Pinned (or otherwise excluded): nothing ran; the message says why.
        Skipped = "skipped",
        /// Refused (e.g. a data-bearing resource would be replaced) or
        /// failed with nothing to roll back to; the message says why.
        Failed = "failed",
        /// Failed its apply or gate and runs its previous revision again.
        RolledBack = "rolled_back",
        /// Failed, and the rollback failed too: look at it by hand.
        RollbackFailed = "rollback_failed",
    }
}

impl RolloutTenantStatus {
    /// Is the tenant done with (a resume never touches it again)?
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            RolloutTenantStatus::Pending
                | RolloutTenantStatus::Applying
                | RolloutTenantStatus::Gating
                | RolloutTenantStatus::RollingBack
        )
    }

    /// Did the tenant count as a failure of its rollout?
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            RolloutTenantStatus::Failed
                | RolloutTenantStatus::RolledBack
                | RolloutTenantStatus::RollbackFailed
        )
    }

    /// The one legal-transition rule of the intent log:
    /// - `pending` → `applying` (started), or straight to `unchanged`,
    ///   `skipped` or `failed` (decided without touching the tenant);
    /// - `applying` → `gating` (applied), `rolling_back` (the apply failed)
    ///   or `failed` (nothing to roll back to);
    /// - `gating` → `succeeded`, or `rolling_back` (the gate failed);
    /// - `rolling_back` → `rolled_back` or `rollback_failed`;
    /// - a state in progress may be re-entered by a resume (`applying` →
    ///   `applying`, ...); a final state never changes.
    pub fn may_become(self, next: RolloutTenantStatus) -> bool {
        use RolloutTenantStatus::*;
        matches!(
            (self, next),
            (Pending, Applying | Unchanged | Skipped | Failed)
                | (Applying, Applying | Gating | RollingBack | Failed)
                | (Gating, Gating | Succeeded | RollingBack)
                | (RollingBack, RollingBack | RolledBack | RollbackFailed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_its_variant_and_is_the_serde_word() {
        for s in TenantStatus::ALL {
            assert_eq!(s.as_str().parse::<TenantStatus>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for o in Operation::ALL {
            assert_eq!(o.as_str().parse::<Operation>(), Ok(*o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }

    #[test]
    fn the_words_are_the_ones_the_state_has_always_stored() {
        let words: Vec<_> = TenantStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            words,
            [
                "creating",
                "ready",
                "failed",
                "rolled_back",
                "interrupted",
                "destroying",
                "destroyed",
                "destroy_failed",
                "hibernating",
                "hibernated",
                "waking"
            ]
        );
        assert_eq!(Operation::Create.to_string(), "create");
        assert_eq!(RunStatus::Running.to_string(), "running");
    }

    #[test]
    fn an_unknown_word_is_refused_naming_the_known_ones() {
        let e = "sleeping".parse::<TenantStatus>().unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("'sleeping' is not a tenant status"),
            "{text}"
        );
        assert!(text.contains("hibernated"), "{text}");
        assert!("Create".parse::<Operation>().is_err());
        assert!(serde_json::from_str::<RunStatus>("\"done\"").is_err());
    }

    #[test]
    fn create_starts_fresh_on_nothing_or_a_destroyed_tenant() {
        assert_eq!(may_create(None, None), Ok(CreateMode::Fresh));
        assert_eq!(TenantStatus::Destroyed.may_create(), Ok(CreateMode::Fresh));
    }

    #[test]
    fn create_resumes_a_create_that_did_not_finish() {
        for s in [
            TenantStatus::Creating,
            TenantStatus::Failed,
            TenantStatus::RolledBack,
            TenantStatus::Interrupted,
        ] {
            assert_eq!(s.may_create(), Ok(CreateMode::Resume), "{s}");
        }
    }

    #[test]
    fn create_applies_a_ready_tenant_again() {
        assert_eq!(TenantStatus::Ready.may_create(), Ok(CreateMode::Reapply));
    }

    #[test]
    fn create_waits_for_a_wake_while_hibernation_holds_the_tenant() {
        for s in [
            TenantStatus::Hibernating,
            TenantStatus::Hibernated,
            TenantStatus::Waking,
        ] {
            assert_eq!(s.may_create(), Err(CreateRefusal::Hibernation(s)), "{s}");
        }
        let how = HowTo {
            wake: "`envctl wake tenant acme`",
            destroy: "`envctl destroy tenant acme`",
        };
        let why = CreateRefusal::Hibernation(TenantStatus::Hibernated).sentence("acme", &how);
        assert_eq!(
            why,
            "tenant 'acme' is hibernated; wake it first (`envctl wake tenant acme`), then create it again"
        );
    }

    #[test]
    fn create_waits_for_a_destroy_to_finish() {
        for s in [TenantStatus::Destroying, TenantStatus::DestroyFailed] {
            assert_eq!(s.may_create(), Err(CreateRefusal::Destroying(s)), "{s}");
        }
    }

    #[test]
    fn create_refuses_while_another_run_holds_the_tenant_whatever_its_status() {
        assert_eq!(
            may_create(Some(TenantStatus::Ready), Some(Operation::Destroy)),
            Err(CreateRefusal::Busy(Operation::Destroy))
        );
        assert_eq!(
            may_create(None, Some(Operation::Create)),
            Err(CreateRefusal::Busy(Operation::Create))
        );
        assert_eq!(
            may_create(Some(TenantStatus::Failed), None),
            Ok(CreateMode::Resume)
        );
    }

    #[test]
    fn every_status_has_a_create_decision_and_only_destroyed_is_destroyed() {
        for s in TenantStatus::ALL {
            let _ = s.may_create();
            assert_eq!(s.is_destroyed(), *s == TenantStatus::Destroyed);
        }
    }

    #[test]
    fn an_interrupted_create_resumes_only_while_the_tenant_is_mid_create() {
        use TenantStatus::*;
        for s in [Creating, Failed, RolledBack, Interrupted] {
            assert_eq!(
                Operation::Create.may_resume(Some(s)),
                Resume::Again(Operation::Create),
                "{s}"
            );
        }
        for s in [
            Ready,
            Destroying,
            Destroyed,
            DestroyFailed,
            Hibernating,
            Hibernated,
            Waking,
        ] {
            assert!(
                matches!(Operation::Create.may_resume(Some(s)), Resume::Close(_)),
                "{s}"
            );
        }
        assert!(matches!(
            Operation::Create.may_resume(None),
            Resume::Close(m) if m.contains("no longer in the state")
        ));
    }

    #[test]
    fn an_interrupted_destroy_resumes_unless_the_tenant_is_destroyed_since() {
        for s in TenantStatus::ALL {
            let r = Operation::Destroy.may_resume(Some(*s));
            if *s == TenantStatus::Destroyed {
                assert!(matches!(r, Resume::Close(_)));
            } else {
                assert_eq!(r, Resume::Again(Operation::Destroy), "{s}");
            }
        }
        assert_eq!(
            Operation::Destroy.may_resume(None),
            Resume::Again(Operation::Destroy)
        );
    }

    #[test]
    fn an_interrupted_hibernate_or_wake_runs_again_as_itself_never_as_a_destroy() {
        for op in [Operation::Hibernate, Operation::Wake] {
            for s in TenantStatus::ALL {
                assert_eq!(op.may_resume(Some(*s)), Resume::Again(op), "{op} {s}");
            }
        }
    }

    #[test]
    fn a_run_is_finished_unless_queued_or_running() {
        for s in RunStatus::ALL {
            assert_eq!(
                s.is_finished(),
                !matches!(s, RunStatus::Queued | RunStatus::Running),
                "{s}"
            );
        }
    }

    #[test]
    fn the_engine_may_keep_handing_over_words() {
        let s: TenantStatus = "creating".into();
        assert_eq!(s, TenantStatus::Creating);
        assert!(s == "creating" && s != "ready");
        assert_eq!(Word::<Operation>::word("wake"), Ok(Operation::Wake));
        assert!(Word::<RunStatus>::word("nope").is_err());
    }

    #[test]
    fn a_rollout_tenant_moves_forward_only_and_a_final_state_never_changes() {
        use RolloutTenantStatus::*;
        for s in RolloutTenantStatus::ALL {
            assert_eq!(s.as_str().parse::<RolloutTenantStatus>(), Ok(*s));
            if s.is_final() {
                assert!(
                    RolloutTenantStatus::ALL.iter().all(|n| !s.may_become(*n)),
                    "{s} is final"
                );
            }
        }
        assert!(Pending.may_become(Applying) && Pending.may_become(Unchanged));
        assert!(Applying.may_become(Applying), "a resume re-enters a step");
        assert!(Applying.may_become(Gating) && Gating.may_become(RollingBack));
        assert!(RollingBack.may_become(RolledBack));
        assert!(
            !Pending.may_become(Succeeded),
            "success only through the gate"
        );
        assert!(!Gating.may_become(Applying), "never applied twice");
        assert!(!Applying.may_become(Pending));
        assert!(RolledBack.is_failure() && !Unchanged.is_failure());
        for s in RolloutStatus::ALL {
            assert_eq!(s.as_str().parse::<RolloutStatus>(), Ok(*s));
        }
        assert!(!RolloutStatus::Paused.is_final() && RolloutStatus::Stopped.is_final());
    }
}
