//! Which tenants a rollout takes and in which waves: the selector (names
//! and globs), the batch size (`N` or `P%`), and the waves themselves
//! (canary tenants first, then batches). Pure: the caller hands over the
//! tenants the state store knows.

use serde::{Deserialize, Serialize};

use crate::state::PlannedTenant;

/// How many tenants a wave after the canaries holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Batch {
    /// This many tenants per wave.
    Count(usize),
    /// This percentage of the rollout's tenants per wave (at least one).
    Percent(u8),
}

impl Batch {
    /// Reads `N` (a positive count) or `P%` (1 to 100).
    pub fn parse(raw: &str) -> Result<Batch, String> {
        let bad = || {
            format!(
                "--batch '{raw}': write a number of tenants per wave (e.g. 3) or a percentage of the rollout's tenants (e.g. 25%)"
            )
        };
        let raw_t = raw.trim();
        if let Some(p) = raw_t.strip_suffix('%') {
            let p: u8 = p.trim().parse().map_err(|_| bad())?;
            if p == 0 || p > 100 {
                return Err(format!(
                    "--batch '{raw}': a percentage must be between 1% and 100%"
                ));
            }
            return Ok(Batch::Percent(p));
        }
        match raw_t.parse::<usize>() {
            Ok(0) => Err(format!("--batch '{raw}': a wave needs at least one tenant")),
            Ok(n) => Ok(Batch::Count(n)),
            Err(_) => Err(bad()),
        }
    }

    /// Tenants per wave for a rollout of `total` tenants (at least one).
    pub fn size(self, total: usize) -> usize {
        match self {
            Batch::Count(n) => n.max(1),
            Batch::Percent(p) => (total * p as usize).div_ceil(100).max(1),
        }
    }
}

impl std::fmt::Display for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Batch::Count(n) => write!(f, "{n}"),
            Batch::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Does `name` match `pattern`, where `*` is any run of characters and `?`
/// any one character (tenant names hold neither)?
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last '*'.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// The tenants `selector` names, in its order: comma-separated items, each
/// a tenant name or a glob (`acme-*`, `shop-?`) whose matches come in name
/// order; a tenant named twice counts once. `known` are the tenants that
/// can be rolled out (those with a recorded revision). A name that is not
/// known, a glob that matches nothing, or an empty selection is an error
/// naming the item.
pub fn select(selector: &str, known: &[String]) -> Result<Vec<String>, String> {
    let mut sorted: Vec<&String> = known.iter().collect();
    sorted.sort();
    let mut out: Vec<String> = Vec::new();
    let items: Vec<&str> = selector
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(format!(
            "--tenants '{selector}': name the tenants, comma-separated (e.g. acme,globex or acme-*), or use --all"
        ));
    }
    for item in items {
        let matched: Vec<&String> = if item.contains(['*', '?']) {
            sorted
                .iter()
                .copied()
                .filter(|t| glob_matches(item, t))
                .collect()
        } else {
            sorted
                .iter()
                .copied()
                .filter(|t| t.as_str() == item)
                .collect()
        };
        if matched.is_empty() {
            let what = if item.contains(['*', '?']) {
                format!("--tenants: '{item}' matches no tenant with a recorded revision")
            } else {
                format!(
                    "--tenants: tenant '{item}' has no recorded revision (is it created? see `envctl get tenants`)"
                )
            };
            return Err(what);
        }
        for t in matched {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
    }
    Ok(out)
}

/// The waves of a rollout of `tenants` (in order): the first `canary` of
/// them alone in wave 0 when `canary` > 0, then the rest in waves of
/// `batch` (numbered from 1). Positions follow the order.
pub fn waves(tenants: &[String], canary: usize, batch: Batch) -> Vec<PlannedTenant> {
    let canary = canary.min(tenants.len());
    let size = batch.size(tenants.len());
    tenants
        .iter()
        .enumerate()
        .map(|(i, t)| PlannedTenant {
            tenant: t.clone(),
            wave: if i < canary {
                0
            } else {
                1 + ((i - canary) / size) as i64
            },
            position: i as i64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn shape(p: &[PlannedTenant]) -> Vec<(String, i64)> {
        p.iter().map(|t| (t.tenant.clone(), t.wave)).collect()
    }

    #[test]
    fn canary_tenants_come_alone_first_then_batches_of_n() {
        let t = names(&["a", "b", "c", "d", "e", "f"]);
        let p = waves(&t, 1, Batch::Count(2));
        assert_eq!(
            shape(&p),
            [("a", 0), ("b", 1), ("c", 1), ("d", 2), ("e", 2), ("f", 3)]
                .map(|(t, w)| (t.to_string(), w))
        );
        assert_eq!(
            p.iter().map(|t| t.position).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn without_canaries_the_first_batch_is_wave_one() {
        let p = waves(&names(&["a", "b", "c"]), 0, Batch::Count(2));
        assert_eq!(
            shape(&p),
            [("a", 1), ("b", 1), ("c", 2)].map(|(t, w)| (t.to_string(), w))
        );
    }

    #[test]
    fn more_canaries_than_tenants_puts_them_all_in_the_canary_wave() {
        let p = waves(&names(&["a", "b"]), 5, Batch::Count(1));
        assert!(p.iter().all(|t| t.wave == 0));
    }

    #[test]
    fn a_percentage_batch_rounds_up_and_is_never_empty() {
        assert_eq!(Batch::Percent(25).size(10), 3);
        assert_eq!(Batch::Percent(1).size(10), 1);
        assert_eq!(Batch::Percent(100).size(10), 10);
        assert_eq!(Batch::Percent(50).size(0), 1);
        let p = waves(&names(&["a", "b", "c", "d", "e"]), 1, Batch::Percent(50));
        // 50% of 5 is 3 per wave: b c d, then e.
        assert_eq!(
            shape(&p),
            [("a", 0), ("b", 1), ("c", 1), ("d", 1), ("e", 2)].map(|(t, w)| (t.to_string(), w))
        );
    }

    #[test]
    fn batch_reads_counts_and_percentages_and_refuses_the_rest() {
        assert_eq!(Batch::parse("3"), Ok(Batch::Count(3)));
        assert_eq!(Batch::parse("25%"), Ok(Batch::Percent(25)));
        assert_eq!(Batch::parse("100%"), Ok(Batch::Percent(100)));
        for bad in ["0", "0%", "101%", "-1", "x", "", "2.5", "%"] {
            let e = Batch::parse(bad).unwrap_err();
            assert!(e.starts_with(&format!("--batch '{bad}'")), "{bad}: {e}");
        }
    }

    #[test]
    fn globs_match_runs_and_single_characters() {
        assert!(glob_matches("acme-*", "acme-eu"));
        assert!(glob_matches("acme-*", "acme-"));
        assert!(!glob_matches("acme-*", "acme"));
        assert!(glob_matches("*-eu", "acme-eu"));
        assert!(glob_matches("shop-?", "shop-1"));
        assert!(!glob_matches("shop-?", "shop-12"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(!glob_matches("a*b*c", "axxbyy"));
        assert!(glob_matches("*", "anything"));
    }

    #[test]
    fn the_selector_keeps_its_order_and_counts_a_tenant_once() {
        let known = names(&["acme-us", "acme-eu", "globex", "initech"]);
        assert_eq!(
            select("globex, acme-*", &known).unwrap(),
            names(&["globex", "acme-eu", "acme-us"])
        );
        assert_eq!(
            select("acme-eu,acme-*", &known).unwrap(),
            names(&["acme-eu", "acme-us"])
        );
    }

    #[test]
    fn an_unknown_name_or_a_glob_matching_nothing_is_named() {
        let known = names(&["acme", "globex"]);
        let e = select("acme,nosuch", &known).unwrap_err();
        assert!(
            e.contains("tenant 'nosuch' has no recorded revision"),
            "{e}"
        );
        let e = select("zz-*", &known).unwrap_err();
        assert!(e.contains("'zz-*' matches no tenant"), "{e}");
        let e = select(" , ", &known).unwrap_err();
        assert!(e.contains("--all"), "{e}");
    }
}
