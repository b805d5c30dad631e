//! A demand price rule on every show, for the booking bench (`--demand-rule`): the demo
//! partner (owner of every demo theatre) adds one for the run and removes it afterwards.
//! Every quote and hold then reads the show's occupancy (`pricing::book::OccupancyBook`),
//! so a run with it and one without, side by side, show what demand pricing costs.

use anyhow::{anyhow, bail};
use serde_json::{Value, json};

use super::{Connection, Target, slow_endpoint::demo_partner_token};

const RULES: &str = "/api/v1/partner/price-rules";

pub(super) struct DemandRule {
    id: String,
    token: String,
}

/// Creates the rule: 10% off below 30% occupancy, 10% on from 50%, 25% on from 80%.
pub(super) async fn attach(target: &Target, run_id: &str) -> anyhow::Result<DemandRule> {
    let mut connection = Connection::open(target).await?;
    let token = demo_partner_token(&mut connection, target).await?;
    let rule = json!({
        "name": format!("bench demand {run_id}"),
        "rule": {"kind": "demand", "tiers": [
            {"from_occupancy_bp": 0, "percent_bp": -1000},
            {"from_occupancy_bp": 3000, "percent_bp": 0},
            {"from_occupancy_bp": 5000, "percent_bp": 1000},
            {"from_occupancy_bp": 8000, "percent_bp": 2500}
        ]},
    });
    let (status, body) = connection
        .call(target, RULES, &token, None, Some(&rule))
        .await?;
    if !status.is_success() {
        bail!(
            "creating the demand rule answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let created: Value = serde_json::from_slice(&body)?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| anyhow!("the created rule has no id"))?
        .to_owned();
    println!("demand price rule {id} active on every demo show for this run");
    Ok(DemandRule { id, token })
}

impl DemandRule {
    /// Deletes the rule, so later runs start without it.
    pub(super) async fn remove(self, target: &Target) -> anyhow::Result<()> {
        let mut connection = Connection::open(target).await?;
        let status = connection
            .delete(target, &format!("{RULES}/{}", self.id), &self.token)
            .await?;
        if !status.is_success() {
            bail!("deleting the demand rule {} answered {status}", self.id);
        }
        Ok(())
    }
}
