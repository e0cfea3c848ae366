//! The price table: a dated YAML file of list prices (shipped:
//! `prices/aws-us-east-1.yaml`), loaded and checked as a whole — every
//! number finite and non-negative, every kind envctl knows priced — so that
//! a bad table stops the command that loads it, naming the entry and the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The table shipped with envctl, used when no other is configured.
pub const SHIPPED: &str = include_str!("../../prices/aws-us-east-1.yaml");
/// Where the shipped table lives in the repository (for messages).
pub const SHIPPED_PATH: &str = "prices/aws-us-east-1.yaml";
/// The environment variable naming another table for the CLI.
pub const PRICES_ENV: &str = "ENVCTL_PRICES";

/// Kinds the table prices by their properties, not by `idle_month`.
pub const PRICED_KINDS: &[&str] = &[
    "aws.rds.instance",
    "aws.autoscaling.group",
    "aws.elbv2.load_balancer",
    "aws.elb.classic",
    "aws.route53.zone",
    "k8s.service",
];

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// When the prices were read from their pages.
    pub as_of: jiff::civil::Date,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    pub region: String,
    pub hours_per_month: f64,
    pub rds: RdsPrices,
    pub ec2: Ec2Prices,
    pub elb: ElbPrices,
    pub route53: Route53Prices,
    pub kubernetes: KubernetesPrices,
    /// Kind -> monthly fee at idle, for kinds without an hourly price.
    pub idle_month: BTreeMap<String, f64>,
    /// Where the table came from (a path, or the shipped one).
    #[serde(skip)]
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsPrices {
    /// Engine -> instance class -> hourly price.
    pub instance_hour: BTreeMap<String, BTreeMap<String, f64>>,
    pub storage_gb_month: f64,
    pub multi_az_factor: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2Prices {
    pub instance_hour: BTreeMap<String, f64>,
    pub ebs_gb_month: f64,
    pub root_volume_gb: f64,
    pub public_ipv4_hour: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElbPrices {
    pub application_hour: f64,
    pub network_hour: f64,
    pub lcu_hour: f64,
    pub nlcu_hour: f64,
    pub classic_hour: f64,
    pub assumed_lcu: f64,
    pub assumed_zones: f64,
    pub public_ipv4_hour: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Prices {
    pub hosted_zone_month: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesPrices {
    /// The node type the two prices below derive from (documentation).
    pub node: String,
    pub vcpu_hour: f64,
    pub gib_hour: f64,
}

/// A price table that cannot be used: where, what, and the fix.
#[derive(Debug, thiserror::Error)]
#[error("price table {source_name}: {problem}")]
pub struct PriceError {
    pub source_name: String,
    pub problem: String,
}

impl PriceTable {
    /// The shipped table.
    pub fn shipped() -> Self {
        Self::parse(SHIPPED_PATH, SHIPPED).expect("the shipped price table is valid")
    }

    /// The table at `path`, or the shipped one when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, PriceError> {
        let Some(path) = path else {
            return Ok(Self::shipped());
        };
        let text = std::fs::read_to_string(path).map_err(|e| PriceError {
            source_name: path.display().to_string(),
            problem: format!(
                "cannot read it: {e}; name an existing file (a copy of {SHIPPED_PATH} to edit)"
            ),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses and checks a table; `source_name` is for messages.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, PriceError> {
        let bad = |problem: String| PriceError {
            source_name: source_name.to_string(),
            problem,
        };
        let mut table: PriceTable = serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("line {}: ", l.line()))
                .unwrap_or_default();
            bad(format!(
                "{at}{e}; compare it with the shipped table {SHIPPED_PATH}"
            ))
        })?;
        table.source = source_name.to_string();
        let problems = table.problems();
        if let Some(first) = problems.into_iter().next() {
            return Err(bad(first));
        }
        Ok(table)
    }

    /// Everything wrong with the table, each naming its entry and the fix.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let code = &self.currency;
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            out.push(format!(
                "currency '{code}' is not an ISO 4217 code; write three capital letters such as USD"
            ));
        }
        if self.hours_per_month <= 0.0 || !self.hours_per_month.is_finite() {
            out.push(format!(
                "hours_per_month {} must be a positive number of hours (AWS counts 730)",
                self.hours_per_month
            ));
        }
        for (entry, v) in self.amounts() {
            if !v.is_finite() || v < 0.0 {
                out.push(format!(
                    "{entry}: {v} is not a price; write a non-negative amount in {code} (0 for free)"
                ));
            }
        }
        if self.rds.multi_az_factor < 1.0 {
            out.push(format!(
                "rds.multi_az_factor {} must be at least 1 (a standby costs at least nothing more)",
                self.rds.multi_az_factor
            ));
        }
        for engine in self.rds.instance_hour.keys() {
            for class in self.rds.instance_hour[engine].keys() {
                if !class.starts_with("db.") {
                    out.push(format!(
                        "rds.instance_hour.{engine}.{class}: not a DB instance class; write it as RDS names it, e.g. db.t3.micro"
                    ));
                }
            }
        }
        let known: Vec<&str> = crate::kinds::all_kinds().iter().map(|k| k.name()).collect();
        for kind in &known {
            let priced = PRICED_KINDS.contains(kind) || self.idle_month.contains_key(*kind);
            if !priced {
                out.push(format!(
                    "idle_month: kind {kind} has no price; add `{kind}: 0` (its monthly fee while idle) under idle_month"
                ));
            }
        }
        for kind in self.idle_month.keys() {
            if PRICED_KINDS.contains(&kind.as_str()) {
                out.push(format!(
                    "idle_month.{kind}: this kind is priced by its properties; remove it from idle_month"
                ));
            } else if !known.contains(&kind.as_str()) {
                out.push(format!(
                    "idle_month.{kind}: no such kind; known kinds: {}",
                    known.join(", ")
                ));
            }
        }
        out
    }

    /// Every amount of the table with its dotted entry name.
    fn amounts(&self) -> Vec<(String, f64)> {
        let mut out = vec![
            (
                "rds.storage_gb_month".to_string(),
                self.rds.storage_gb_month,
            ),
            ("ec2.ebs_gb_month".into(), self.ec2.ebs_gb_month),
            ("ec2.root_volume_gb".into(), self.ec2.root_volume_gb),
            ("ec2.public_ipv4_hour".into(), self.ec2.public_ipv4_hour),
            ("elb.application_hour".into(), self.elb.application_hour),
            ("elb.network_hour".into(), self.elb.network_hour),
            ("elb.lcu_hour".into(), self.elb.lcu_hour),
            ("elb.nlcu_hour".into(), self.elb.nlcu_hour),
            ("elb.classic_hour".into(), self.elb.classic_hour),
            ("elb.assumed_lcu".into(), self.elb.assumed_lcu),
            ("elb.assumed_zones".into(), self.elb.assumed_zones),
            ("elb.public_ipv4_hour".into(), self.elb.public_ipv4_hour),
            (
                "route53.hosted_zone_month".into(),
                self.route53.hosted_zone_month,
            ),
            ("kubernetes.vcpu_hour".into(), self.kubernetes.vcpu_hour),
            ("kubernetes.gib_hour".into(), self.kubernetes.gib_hour),
        ];
        for (engine, classes) in &self.rds.instance_hour {
            for (class, v) in classes {
                out.push((format!("rds.instance_hour.{engine}.{class}"), *v));
            }
        }
        for (t, v) in &self.ec2.instance_hour {
            out.push((format!("ec2.instance_hour.{t}"), *v));
        }
        for (k, v) in &self.idle_month {
            out.push((format!("idle_month.{k}"), *v));
        }
        out
    }
}

/// The table a CLI command uses: `--prices`/ENVCTL_PRICES, else the shipped.
pub fn for_cli(path: Option<&PathBuf>) -> Result<PriceTable, PriceError> {
    PriceTable::load(path.map(PathBuf::as_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(from: &str, to: &str) -> Result<PriceTable, PriceError> {
        assert!(SHIPPED.contains(from), "{from}");
        PriceTable::parse("t.yaml", &SHIPPED.replacen(from, to, 1))
    }

    #[test]
    fn the_shipped_table_is_valid_and_dated() {
        let t = PriceTable::shipped();
        assert_eq!(t.currency, "USD");
        assert_eq!(t.as_of.to_string(), "2026-12-01");
        assert_eq!(t.hours_per_month, 730.0);
        assert_eq!(t.rds.instance_hour["postgres"]["db.t3.micro"], 0.018);
        assert_eq!(t.route53.hosted_zone_month, 0.5);
    }

    #[test]
    fn every_shipped_stack_kind_is_priced() {
        let t = PriceTable::shipped();
        for k in crate::kinds::all_kinds() {
            assert!(
                PRICED_KINDS.contains(&k.name()) || t.idle_month.contains_key(k.name()),
                "{}",
                k.name()
            );
        }
    }

    #[test]
    fn a_negative_price_names_its_entry_and_the_fix() {
        let e = with("db.t3.small: 0.036", "db.t3.small: -0.036")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rds.instance_hour.postgres.db.t3.small: -0.036 is not a price"),
            "{e}"
        );
        assert!(e.contains("non-negative amount in USD"), "{e}");
        assert!(e.starts_with("price table t.yaml:"), "{e}");
    }

    #[test]
    fn a_kind_left_out_of_idle_month_is_refused() {
        let e = with("  aws.sqs.queue: 0\n", "").unwrap_err().to_string();
        assert!(
            e.contains("kind aws.sqs.queue has no price; add `aws.sqs.queue: 0`"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_kind_or_field_is_refused_with_its_line() {
        let e = with("  sim.delay: 0", "  sim.delay: 0\n  aws.nope: 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("idle_month.aws.nope: no such kind"), "{e}");
        let e = with("  storage_gb_month: 0.115", "  storage_gb_monthly: 0.115")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line "), "{e}");
        assert!(e.contains("unknown field `storage_gb_monthly`"), "{e}");
    }

    #[test]
    fn a_bad_date_or_currency_is_refused() {
        let e = with("as_of: 2026-12-01", "as_of: 2026-13-01")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 13"), "{e}");
        let e = with("currency: USD", "currency: dollars")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("currency 'dollars' is not an ISO 4217 code"),
            "{e}"
        );
    }

    #[test]
    fn a_class_that_is_not_an_rds_class_is_refused() {
        let e = with("      db.t3.large: 0.145", "      t3.large: 0.145")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rds.instance_hour.postgres.t3.large"), "{e}");
    }

    #[test]
    fn a_missing_file_says_what_to_name() {
        let e = PriceTable::load(Some(Path::new("/nonexistent/p.yaml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/p.yaml: cannot read it"), "{e}");
        assert!(e.contains(SHIPPED_PATH), "{e}");
    }
}
