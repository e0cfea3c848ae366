//! One dependency-driven walk over a graph, forward (create: a node starts
//! when every dependency is done, or only created where the edge says
//! `until: created`) or reverse (destroy, rollback: a node starts when
//! everything that depends on it is gone, whatever its edges say), node by
//! node rather than level by level, bounded by the per-API limits and
//! stopped by the run's cancellation. What a node *does* is the caller's
//! ([`Visit`]).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::limits::Limits;
use crate::graph::{Graph, Until};

/// Which way the walk goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Dependencies first (create).
    Forward,
    /// Dependents first (destroy, rollback).
    Reverse,
}

/// What [`Visit::begin`] does with a node whose turn has come.
pub enum Begin<'a, T> {
    /// Nothing to do (done by an earlier run): its successors may start.
    Skip,
    /// Run `work` once a slot of `api` (and of the run) is free. When
    /// `created` is given, the work sends on it once the node is created
    /// (its outputs known): going forward, the dependents on `created`
    /// edges may start then ([`Visit::created`]).
    Run {
        api: &'static str,
        work: BoxFuture<'a, T>,
        created: Option<oneshot::Receiver<()>>,
    },
    /// Start nothing more (the visitor recorded why); running nodes finish.
    Stop,
}

/// What becomes of a finished node's successors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// They may start (once their other predecessors are done too).
    Release,
    /// They never start; the rest of the walk goes on.
    Hold,
    /// Nothing new starts at all; running nodes finish.
    Stop,
}

/// The caller's side of a walk: what to do when a node's turn comes and
/// when it finishes. Called from the walk's own task, one call at a time.
pub trait Visit<'a> {
    type Out: Send + 'a;
    fn begin(&mut self, id: &str) -> Begin<'a, Self::Out>;
    /// `out` is `None` when the run was cancelled while the node waited for
    /// a slot (it never started).
    fn finished(&mut self, id: &str, out: Option<Self::Out>) -> After;
    /// A running node sent on its `created` channel: its dependents on
    /// `created` edges are about to be released. Not called when the node
    /// finished first (then [`Visit::finished`] has said it all).
    fn created(&mut self, _id: &str) {}
    /// After every event of the walk, and at least every [`WalkOptions::tick`].
    fn tick(&mut self) {}
    /// Once, when the run's cancellation is seen.
    fn cancelled(&mut self) {}
}

/// How a walk runs.
pub struct WalkOptions<'a> {
    pub direction: Direction,
    /// The nodes to visit; the others are passed through at once (their
    /// order still counts: in `a → b → c` with only `a` and `c` visited,
    /// `c` still waits for `a`).
    pub members: &'a BTreeSet<String>,
    pub limits: &'a Limits,
    pub cancel: &'a CancellationToken,
    pub tick: Duration,
}

/// Which nodes may start: each waits on a count of predecessors (its
/// dependencies going forward, its dependents in reverse).
pub struct Frontier<'g> {
    graph: &'g Graph,
    direction: Direction,
    members: &'g BTreeSet<String>,
    waiting_on: HashMap<String, usize>,
    ready: VecDeque<String>,
    /// Nodes whose `created` edges were released (forward only).
    created: HashSet<String>,
}

impl<'g> Frontier<'g> {
    pub fn new(graph: &'g Graph, direction: Direction, members: &'g BTreeSet<String>) -> Self {
        let mut waiting_on = HashMap::new();
        let mut ready = VecDeque::new();
        for id in graph.ids() {
            let n = match direction {
                Direction::Forward => graph.dependencies(id).len(),
                Direction::Reverse => graph.dependents(id).len(),
            };
            waiting_on.insert(id.to_string(), n);
            if n == 0 {
                ready.push_back(id.to_string());
            }
        }
        Self {
            graph,
            direction,
            members,
            waiting_on,
            ready,
            created: HashSet::new(),
        }
    }

    /// The next member whose predecessors are all done; non-members on the
    /// way are passed through.
    pub fn pop(&mut self) -> Option<String> {
        loop {
            let id = self.ready.pop_front()?;
            if self.members.contains(&id) {
                return Some(id);
            }
            self.release(&id);
        }
    }

    /// `id` is done: its successors wait on one node less.
    pub fn release(&mut self, id: &str) {
        let next = match self.direction {
            Direction::Forward => {
                self.created(id);
                let graph = self.graph;
                graph
                    .dependents(id)
                    .into_iter()
                    .filter(|n| graph.until(id, n) == Until::Ready)
                    .collect()
            }
            Direction::Reverse => self.graph.dependencies(id),
        };
        for n in next {
            self.one_less(n);
        }
    }

    /// `id` is created (its outputs are known), going forward: its
    /// dependents on `created` edges wait on one node less. False when that
    /// was done already (or the walk goes in reverse, where every edge waits
    /// until done).
    pub fn created(&mut self, id: &str) -> bool {
        if self.direction == Direction::Reverse || !self.created.insert(id.to_string()) {
            return false;
        }
        let graph = self.graph;
        for n in graph.dependents(id) {
            if graph.until(id, n) == Until::Created {
                self.one_less(n);
            }
        }
        true
    }

    fn one_less(&mut self, n: &str) {
        let left = self.waiting_on.get_mut(n).expect("a node of the graph");
        *left -= 1;
        if *left == 0 {
            self.ready.push_back(n.to_string());
        }
    }
}

/// Walks `graph`: starts every member as soon as its predecessors are done
/// (and a slot of its API is free), until nothing is left to start and
/// nothing runs. After cancellation or [`After::Stop`] nothing new starts and
/// the walk waits for the running nodes (which see the same cancellation).
///
/// The walk is a boxed `Send` future: its type then says `Send` itself, and
/// callers that spawn a run need not have rustc prove it through the
/// visitor's borrowed futures for every lifetime (rust-lang/rust#102211).
pub fn walk<'w, 'a: 'w, V: Visit<'a> + Send>(
    graph: &'w Graph,
    opts: WalkOptions<'a>,
    visitor: &'w mut V,
) -> BoxFuture<'w, ()> {
    Box::pin(async move {
        let mut frontier = Frontier::new(graph, opts.direction, opts.members);
        let mut running: FuturesUnordered<BoxFuture<'a, (String, Option<V::Out>)>> =
            FuturesUnordered::new();
        // Created signals of running nodes; `None` when the node finished
        // (or failed) without sending one.
        let mut applied: FuturesUnordered<BoxFuture<'static, Option<String>>> =
            FuturesUnordered::new();
        let mut ticker = tokio::time::interval(opts.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopped = false;
        let mut cancelled = false;
        loop {
            if !cancelled && opts.cancel.is_cancelled() {
                cancelled = true;
                visitor.cancelled();
            }
            while !stopped && !cancelled {
                let Some(id) = frontier.pop() else { break };
                match visitor.begin(&id) {
                    Begin::Skip => frontier.release(&id),
                    Begin::Stop => stopped = true,
                    Begin::Run { api, work, created } => {
                        if let Some(rx) = created {
                            let id = id.clone();
                            applied.push(Box::pin(async move { rx.await.ok().map(|()| id) }));
                        }
                        let limits = opts.limits;
                        let cancel = opts.cancel.clone();
                        running.push(Box::pin(async move {
                            let permit = tokio::select! {
                                p = limits.acquire(api) => Some(p),
                                _ = cancel.cancelled() => None,
                            };
                            match permit {
                                None => (id, None),
                                Some(_permit) => {
                                    let out = work.await;
                                    (id, Some(out))
                                }
                            }
                        }));
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                Some((id, out)) = running.next() => match visitor.finished(&id, out) {
                    After::Release => frontier.release(&id),
                    After::Hold => {}
                    After::Stop => stopped = true,
                },
                Some(Some(id)) = applied.next(), if !applied.is_empty() => {
                    if frontier.created(&id) {
                        visitor.created(&id);
                    }
                }
                _ = opts.cancel.cancelled(), if !cancelled => {
                    cancelled = true;
                    visitor.cancelled();
                }
                _ = ticker.tick() => {}
            }
            visitor.tick();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::Mutex;
    use tokio::time::Instant;

    fn graph(nodes: &[&str], edges: &[(&str, &str)]) -> Graph {
        Graph::from_edges(
            nodes
                .iter()
                .map(|n| (n.to_string(), "sim.delay".to_string()))
                .collect(),
            edges
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
        .unwrap()
    }

    fn all(g: &Graph) -> BTreeSet<String> {
        g.ids().map(String::from).collect()
    }

    /// Runs each node for its time in `took` (virtual time), recording
    /// when each started and ended.
    struct Timed {
        took: BTreeMap<&'static str, u64>,
        origin: Instant,
        log: Arc<Mutex<Vec<(String, u64, u64)>>>,
        fail: Option<&'static str>,
    }

    impl<'a> Visit<'a> for Timed {
        type Out = bool;
        fn begin(&mut self, id: &str) -> Begin<'a, bool> {
            let ms = self.took.get(id).copied().unwrap_or(0);
            let (origin, log, id, ok) = (
                self.origin,
                self.log.clone(),
                id.to_string(),
                self.fail != Some(id),
            );
            Begin::Run {
                api: "sim",
                work: Box::pin(async move {
                    let start = origin.elapsed().as_millis() as u64;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let end = origin.elapsed().as_millis() as u64;
                    log.lock().unwrap().push((id, start, end));
                    ok
                }),
                created: None,
            }
        }
        fn finished(&mut self, _id: &str, out: Option<bool>) -> After {
            match out {
                Some(true) => After::Release,
                _ => After::Stop,
            }
        }
    }

    async fn run(
        g: &Graph,
        direction: Direction,
        members: &BTreeSet<String>,
        took: &[(&'static str, u64)],
        cancel: &CancellationToken,
        fail: Option<&'static str>,
    ) -> BTreeMap<String, (u64, u64)> {
        let limits = Limits::new(&BTreeMap::new(), 64);
        let mut v = Timed {
            took: took.iter().copied().collect(),
            origin: Instant::now(),
            log: Default::default(),
            fail,
        };
        walk(
            g,
            WalkOptions {
                direction,
                members,
                limits: &limits,
                cancel,
                tick: Duration::from_secs(1),
            },
            &mut v,
        )
        .await;
        let log = v.log.lock().unwrap().clone();
        log.into_iter().map(|(id, s, e)| (id, (s, e))).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn forward_starts_a_node_once_its_dependencies_are_done() {
        // a → b, a → c, b → d, c → d
        let g = graph(
            &["a", "b", "c", "d"],
            &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
        );
        let t = run(
            &g,
            Direction::Forward,
            &all(&g),
            &[("a", 10), ("b", 100), ("c", 20), ("d", 5)],
            &CancellationToken::new(),
            None,
        )
        .await;
        assert_eq!(t["a"], (0, 10));
        assert_eq!(t["b"].0, 10);
        assert_eq!(t["c"].0, 10);
        assert_eq!(t["d"].0, 110, "d waits for its slowest dependency");
    }

    #[tokio::test(start_paused = true)]
    async fn reverse_starts_a_node_when_its_own_dependents_are_gone_not_the_slowest_of_a_level() {
        // Two branches off one network: net → slow-db, net → sg → svc.
        // Levels would delete {slow-db, svc} then {sg} then {net}: sg would
        // wait for slow-db. Here sg goes as soon as svc is gone.
        let g = graph(
            &["net", "slow-db", "sg", "svc"],
            &[("net", "slow-db"), ("net", "sg"), ("sg", "svc")],
        );
        let t = run(
            &g,
            Direction::Reverse,
            &all(&g),
            &[("slow-db", 1000), ("svc", 10), ("sg", 10), ("net", 10)],
            &CancellationToken::new(),
            None,
        )
        .await;
        assert_eq!(t["svc"].0, 0);
        assert_eq!(t["slow-db"].0, 0);
        assert_eq!(t["sg"], (10, 20), "sg starts when svc is gone");
        assert_eq!(t["net"].0, 1000, "net waits for both of its dependents");
    }

    #[tokio::test(start_paused = true)]
    async fn non_members_pass_through_but_keep_the_order() {
        let g = graph(&["a", "b", "c"], &[("a", "b"), ("b", "c")]);
        let members: BTreeSet<String> = ["a", "c"].iter().map(|s| s.to_string()).collect();
        let t = run(
            &g,
            Direction::Reverse,
            &members,
            &[("a", 10), ("c", 10)],
            &CancellationToken::new(),
            None,
        )
        .await;
        assert_eq!(t.len(), 2);
        assert_eq!(t["c"], (0, 10));
        assert_eq!(t["a"].0, 10, "a waits for c through b");
    }

    #[tokio::test(start_paused = true)]
    async fn after_stop_nothing_new_starts_and_running_nodes_finish() {
        let g = graph(&["a", "b", "c"], &[("a", "c")]);
        let t = run(
            &g,
            Direction::Forward,
            &all(&g),
            &[("a", 10), ("b", 50)],
            &CancellationToken::new(),
            Some("a"),
        )
        .await;
        assert!(t.contains_key("b"), "b was running and finished");
        assert!(!t.contains_key("c"), "c never started after a failed");
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_starts_nothing_new_and_unblocks_nodes_waiting_for_a_slot() {
        let g = graph(&["a", "b", "c"], &[("a", "b")]);
        let members = all(&g);
        let cancel = CancellationToken::new();
        // One slot: c waits for it while a runs.
        let limits = Limits::new(&[("sim".to_string(), 1)].into(), 64);
        let mut v = Timed {
            took: [("a", 100), ("c", 10)].into_iter().collect(),
            origin: Instant::now(),
            log: Default::default(),
            fail: None,
        };
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c2.cancel();
        });
        let mut not_started = Vec::new();
        struct Rec<'v>(&'v mut Timed, &'v mut Vec<String>);
        impl<'a> Visit<'a> for Rec<'_> {
            type Out = bool;
            fn begin(&mut self, id: &str) -> Begin<'a, bool> {
                self.0.begin(id)
            }
            fn finished(&mut self, id: &str, out: Option<bool>) -> After {
                if out.is_none() {
                    self.1.push(id.to_string());
                }
                After::Release
            }
        }
        let t0 = Instant::now();
        walk(
            &g,
            WalkOptions {
                direction: Direction::Forward,
                members: &members,
                limits: &limits,
                cancel: &cancel,
                tick: Duration::from_secs(1),
            },
            &mut Rec(&mut v, &mut not_started),
        )
        .await;
        let log = v.log.lock().unwrap().clone();
        let ran: Vec<&str> = log.iter().map(|(id, ..)| id.as_str()).collect();
        assert_eq!(ran, vec!["a"], "b never starts after the cancel");
        assert_eq!(not_started, vec!["c".to_string()]);
        assert_eq!(t0.elapsed(), Duration::from_millis(100));
    }

    /// `a` is created at once and then waits until ready on a gate the
    /// test opens (`true`: ready, `false`: readiness fails); every other
    /// node runs at once and succeeds. Everything is logged in order.
    struct Gated {
        gate: Option<oneshot::Receiver<bool>>,
        /// Told when `b` starts.
        b_started: Option<oneshot::Sender<()>>,
        log: Arc<Mutex<Vec<String>>>,
        created_seen: Vec<String>,
    }

    impl<'a> Visit<'a> for Gated {
        type Out = bool;
        fn begin(&mut self, id: &str) -> Begin<'a, bool> {
            let log = self.log.clone();
            if id == "a" {
                let gate = self.gate.take().expect("a starts once");
                let (tx, rx) = oneshot::channel();
                return Begin::Run {
                    api: "sim",
                    work: Box::pin(async move {
                        log.lock().unwrap().push("a created".into());
                        tx.send(()).unwrap();
                        let ready = gate.await.unwrap_or(false);
                        log.lock()
                            .unwrap()
                            .push(if ready { "a ready" } else { "a failed" }.into());
                        ready
                    }),
                    created: Some(rx),
                };
            }
            let id = id.to_string();
            let told = if id == "b" {
                self.b_started.take()
            } else {
                None
            };
            Begin::Run {
                api: "sim",
                work: Box::pin(async move {
                    log.lock().unwrap().push(format!("{id} started"));
                    if let Some(t) = told {
                        t.send(()).unwrap();
                    }
                    true
                }),
                created: None,
            }
        }
        fn finished(&mut self, _id: &str, out: Option<bool>) -> After {
            match out {
                Some(true) => After::Release,
                _ => After::Stop,
            }
        }
        fn created(&mut self, id: &str) {
            self.created_seen.push(id.to_string());
        }
    }

    /// a → b (created), a → c (ready), b → d (ready): runs the walk while
    /// the test opens a's gate with `outcome` only once b has started. A
    /// walk that made b wait until a is ready would never finish: the
    /// (virtual-time) timeout says so.
    async fn gated(outcome: bool) -> (Vec<String>, Vec<String>) {
        let g = graph(&["a", "b", "c", "d"], &[("a", "b"), ("a", "c"), ("b", "d")])
            .with_created(&[("a".into(), "b".into())]);
        let members = all(&g);
        let limits = Limits::new(&BTreeMap::new(), 64);
        let cancel = CancellationToken::new();
        let (gate_tx, gate_rx) = oneshot::channel();
        let (b_tx, b_rx) = oneshot::channel();
        let mut v = Gated {
            gate: Some(gate_rx),
            b_started: Some(b_tx),
            log: Default::default(),
            created_seen: Vec::new(),
        };
        let run = walk(
            &g,
            WalkOptions {
                direction: Direction::Forward,
                members: &members,
                limits: &limits,
                cancel: &cancel,
                tick: Duration::from_secs(1),
            },
            &mut v,
        );
        let test = async move {
            b_rx.await.expect("b started");
            gate_tx.send(outcome).unwrap();
        };
        tokio::time::timeout(Duration::from_secs(3600), async { tokio::join!(run, test) })
            .await
            .expect("b never started while a was not ready");
        let log = v.log.lock().unwrap().clone();
        (log, v.created_seen)
    }

    fn pos(log: &[String], what: &str) -> usize {
        log.iter()
            .position(|l| l == what)
            .unwrap_or_else(|| panic!("no {what:?} in {log:?}"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_created_dependent_starts_before_its_dependency_is_ready_a_ready_one_waits() {
        let (log, created) = gated(true).await;
        assert!(pos(&log, "b started") < pos(&log, "a ready"), "{log:?}");
        assert!(pos(&log, "c started") > pos(&log, "a ready"), "{log:?}");
        assert!(pos(&log, "d started") > pos(&log, "b started"), "{log:?}");
        assert_eq!(created, vec!["a"]);
        assert_eq!(log.len(), 5, "{log:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_readiness_after_a_created_dependent_started_stops_the_walk() {
        let (log, _) = gated(false).await;
        assert!(pos(&log, "b started") < pos(&log, "a failed"), "{log:?}");
        assert!(
            !log.iter().any(|l| l == "c started"),
            "c waits until a is ready, which it never is: {log:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reverse_ignores_created_edges_a_dependent_still_goes_first() {
        let g = graph(&["a", "b"], &[("a", "b")]).with_created(&[("a".into(), "b".into())]);
        let t = run(
            &g,
            Direction::Reverse,
            &all(&g),
            &[("a", 10), ("b", 30)],
            &CancellationToken::new(),
            None,
        )
        .await;
        assert_eq!(t["b"], (0, 30));
        assert_eq!(t["a"].0, 30, "a is deleted only once b is gone");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_created_signal_the_dependent_waits_until_done() {
        // The edge says created but the node never tells: it is released
        // when it finishes, once.
        let g = graph(&["a", "b"], &[("a", "b")]).with_created(&[("a".into(), "b".into())]);
        let t = run(
            &g,
            Direction::Forward,
            &all(&g),
            &[("a", 10), ("b", 5)],
            &CancellationToken::new(),
            None,
        )
        .await;
        assert_eq!(t["b"], (10, 15));
    }
}
