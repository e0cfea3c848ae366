//! What a tenant's cost looks like to people and programs: the rate it
//! costs now (by its status), the month at that rate, what it has accrued
//! since creation, the running and hibernated rates, and totals per owner.
//! Pure: rows, estimates and periods in, views out.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::accrual::{self, Span};
use super::estimate::Estimate;
use super::prices::PriceTable;
use crate::lifecycle::TenantStatus;
use crate::state::TenantRow;

/// Statuses in which a tenant bills its hibernated rate (while it goes to
/// sleep or wakes, its hibernated periods say which rate applied).
pub const HIBERNATED: &[TenantStatus] = &[crate::hibernate::HIBERNATED];

/// A tenant's estimated cost.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct CostView {
    /// ISO 4217 code of every amount, e.g. `USD`.
    pub currency: String,
    /// Per hour in the tenant's current status (0 once destroyed).
    pub hourly: f64,
    /// A month (`hours_per_month` of the price table, 730) at `hourly`.
    pub monthly: f64,
    /// Since creation until now (or destruction): the running rate while it
    /// ran, the hibernated rate over its hibernated periods.
    pub accrued: f64,
    /// A month running.
    pub running_monthly: f64,
    /// A month hibernated (Deployments at 0, RDS stopped, the ASG at 0).
    pub hibernated_monthly: f64,
    /// The date of the price table.
    pub prices_as_of: String,
    /// Resources that could not be priced (counted as 0), with the fix.
    pub unpriced: Vec<String>,
}

/// The cost view of one tenant at `now`.
pub fn cost_view(
    table: &PriceTable,
    row: &TenantRow,
    estimate: &Estimate,
    spans: &[Span],
    now: jiff::Timestamp,
) -> CostView {
    let running = estimate.running_hourly();
    let hibernated = estimate.hibernated_hourly();
    let destroyed = row.status.is_destroyed();
    let hourly = if destroyed {
        0.0
    } else if HIBERNATED.contains(&row.status) {
        hibernated
    } else {
        running
    };
    let until = if destroyed {
        row.updated_at.parse().unwrap_or(now)
    } else {
        now
    };
    let accrued = match row.created_at.parse() {
        Ok(created) => accrual::accrued(created, until, spans, running, hibernated),
        Err(_) => 0.0,
    };
    let hpm = table.hours_per_month;
    CostView {
        currency: table.currency.clone(),
        hourly: cents(hourly, 6),
        monthly: cents(hourly * hpm, 2),
        accrued: cents(accrued, 2),
        running_monthly: cents(running * hpm, 2),
        hibernated_monthly: cents(hibernated * hpm, 2),
        prices_as_of: table.as_of.to_string(),
        unpriced: estimate.unpriced(),
    }
}

/// An amount for people: `$12.34` in USD, `12.34 EUR` otherwise.
pub fn money(amount: f64, currency: &str) -> String {
    if currency == "USD" {
        format!("${amount:.2}")
    } else {
        format!("{amount:.2} {currency}")
    }
}

/// Rounds to `places` decimals (amounts are shown, not summed further).
fn cents(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// What one owner's tenants cost together.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct OwnerCost {
    /// The owner (`-` for tenants without one).
    pub owner: String,
    /// Tenants not destroyed.
    pub tenants: usize,
    pub currency: String,
    /// Per hour now, and a month at that rate, over tenants not destroyed.
    pub hourly: f64,
    pub monthly: f64,
    /// Accrued by every tenant of the owner, destroyed ones included.
    pub accrued: f64,
}

/// Totals per owner, by owner name.
pub fn per_owner<'a>(
    table: &PriceTable,
    tenants: impl IntoIterator<Item = (&'a TenantRow, &'a CostView)>,
) -> Vec<OwnerCost> {
    let mut by: BTreeMap<String, OwnerCost> = BTreeMap::new();
    for (row, cost) in tenants {
        let owner = row.owner.clone().unwrap_or_else(|| "-".into());
        let o = by.entry(owner.clone()).or_insert_with(|| OwnerCost {
            owner,
            tenants: 0,
            currency: table.currency.clone(),
            hourly: 0.0,
            monthly: 0.0,
            accrued: 0.0,
        });
        if row.status != TenantStatus::Destroyed {
            o.tenants += 1;
            o.hourly += cost.hourly;
            o.monthly += cost.monthly;
        }
        o.accrued += cost.accrued;
    }
    by.into_values()
        .map(|mut o| {
            // Sums of amounts already rounded: the monthly total is the sum
            // of the monthly amounts shown, not a rounded hourly × 730.
            o.monthly = cents(o.monthly, 2);
            o.hourly = cents(o.hourly, 6);
            o.accrued = cents(o.accrued, 2);
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::estimate::Line;

    fn row(status: &str, owner: Option<&str>) -> TenantRow {
        TenantRow {
            name: "t".into(),
            environment: "dev".into(),
            stack_name: "s".into(),
            stack_path: "s.yaml".into(),
            status: status.parse().expect("a tenant status"),
            created_at: "2026-12-01T00:00:00Z".into(),
            updated_at: "2026-12-01T10:00:00Z".into(),
            expires_at: None,
            protected: false,
            owner: owner.map(Into::into),
            note: None,
            graph_json: String::new(),
        }
    }

    fn est() -> Estimate {
        Estimate {
            lines: vec![Line {
                id: "db".into(),
                kind: "aws.rds.instance".into(),
                basis: String::new(),
                running_hourly: 1.0,
                hibernated_hourly: 0.25,
                unpriced: None,
            }],
        }
    }

    fn now() -> jiff::Timestamp {
        "2026-12-02T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_rate_follows_the_status() {
        let t = PriceTable::shipped();
        let v = cost_view(&t, &row("ready", None), &est(), &[], now());
        assert_eq!((v.hourly, v.monthly, v.accrued), (1.0, 730.0, 24.0));
        assert_eq!((v.running_monthly, v.hibernated_monthly), (730.0, 182.5));
        assert_eq!(v.prices_as_of, "2026-12-01");
        assert_eq!(v.currency, "USD");
        let spans = [Span {
            start: "2026-12-01T12:00:00Z".parse().unwrap(),
            end: None,
        }];
        let v = cost_view(&t, &row("hibernated", None), &est(), &spans, now());
        assert_eq!((v.hourly, v.accrued), (0.25, 12.0 + 12.0 * 0.25));
    }

    #[test]
    fn a_destroyed_tenant_costs_nothing_more_and_keeps_what_it_accrued() {
        let t = PriceTable::shipped();
        let v = cost_view(&t, &row("destroyed", None), &est(), &[], now());
        assert_eq!((v.hourly, v.accrued), (0.0, 10.0));
    }

    #[test]
    fn owners_add_up_their_tenants() {
        let t = PriceTable::shipped();
        let rows = [
            row("ready", Some("sam")),
            row("hibernated", Some("sam")),
            row("destroyed", Some("sam")),
            row("ready", None),
        ];
        let views: Vec<CostView> = rows
            .iter()
            .map(|r| cost_view(&t, r, &est(), &[], now()))
            .collect();
        let o = per_owner(&t, rows.iter().zip(views.iter()));
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].owner, "-");
        let sam = &o[1];
        assert_eq!((sam.owner.as_str(), sam.tenants), ("sam", 2));
        assert_eq!(sam.hourly, 1.25);
        assert_eq!(sam.monthly, 912.5);
        assert_eq!(sam.accrued, 24.0 + 24.0 + 10.0);
    }

    #[test]
    fn an_owner_total_is_the_sum_of_the_monthly_amounts_shown() {
        // A $0.50/month zone: 0.000685/h; rounding the hour first and
        // multiplying by 730 would show $0.51.
        let t = PriceTable::shipped();
        let mut e = est();
        e.lines[0].running_hourly = 0.5 / 730.0;
        let r = row("ready", Some("cora"));
        let v = cost_view(&t, &r, &e, &[], now());
        assert_eq!(v.monthly, 0.5);
        let o = per_owner(&t, [(&r, &v)]);
        assert_eq!(o[0].monthly, 0.5);
    }
}
