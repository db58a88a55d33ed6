//! The property that matters: whatever Okta changes, and however its hooks arrive (duplicated,
//! reordered, late, with 429s and 5xx on the way), the stored users end equal to Okta's truth.
use harness::okta_sim::{DeliverOptions, Fault, Rng};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::world::{profile, World};

/// Trials per run: `PROPERTY_TRIALS` (default 10); each trial is ~25 random Okta changes.
fn trials() -> u64 {
    std::env::var("PROPERTY_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

const SLOTS: usize = 4;
const TEAMS: [&str; 3] = ["Platform", "Sales", "Support"];
const TITLES: [&str; 3] = ["Engineer", "Manager", "Analyst"];

async fn random_changes(
    w: &World,
    rng: &mut Rng,
    ids: &mut Vec<String>,
    slots: &mut [Option<String>],
    generation: &mut u64,
) {
    for _ in 0..25 {
        let slot = rng.below(SLOTS);
        match &slots[slot] {
            None => {
                *generation += 1;
                let p = profile(
                    &format!("First{slot}"),
                    &format!("Last{generation}"),
                    &format!("user{slot}-{generation}@prop.example"),
                    json!({"department": TEAMS[rng.below(3)], "title": TITLES[rng.below(3)]}),
                );
                let id = w.sim.create_user(p, rng.chance(70));
                ids.push(id.clone());
                slots[slot] = Some(id);
            }
            Some(id) => {
                let id = id.clone();
                match rng.below(9) {
                    0 | 1 => {
                        let change = match rng.below(3) {
                            0 => json!({"title": TITLES[rng.below(3)]}),
                            1 => json!({"department": TEAMS[rng.below(3)]}),
                            _ => json!({"firstName": format!("Renamed{}", rng.below(100))}),
                        };
                        w.sim.update_profile(&id, change.as_object().unwrap().clone());
                    }
                    2 => {
                        w.sim.assign(&id);
                    }
                    3 => {
                        w.sim.unassign(&id);
                    }
                    4 => {
                        w.sim.deactivate(&id);
                    }
                    5 | 6 => {
                        w.sim.reactivate(&id);
                    }
                    7 => {
                        w.sim.suspend(&id);
                    }
                    _ => {
                        w.sim.delete(&id);
                        slots[slot] = None;
                    }
                }
            }
        }
        // Some deliveries happen now, others later (delays); some with faults on the way.
        if rng.chance(30) {
            if rng.chance(25) {
                w.sim.inject(if rng.chance(50) { Fault::RateLimited } else { Fault::ServerError }, 1 + rng.below(3));
            }
            deliver(w, rng).await;
            if rng.chance(50) {
                w.app.drain(true).await;
            }
        }
    }
}

async fn deliver(w: &World, rng: &mut Rng) {
    let opts = DeliverOptions {
        batch: 1 + rng.below(6),
        duplicate_percent: 30,
        repeat_event_percent: 30,
        shuffle: true,
        seed: rng.next_u64(),
    };
    let statuses = w.sim.deliver(opts).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

/// Compares one Okta user with what is stored.
fn check(okta_id: &str, okta: Option<&Value>, assigned: bool, stored: Option<&Value>) -> Result<(), String> {
    let expected_reason = match okta {
        None => Some("deleted_in_okta"),
        Some(u) => match u["status"].as_str() {
            Some("DEPROVISIONED") => Some("deactivated_in_okta"),
            Some("SUSPENDED") => Some("suspended_in_okta"),
            _ if !assigned => Some("unassigned"),
            _ => None,
        },
    };
    match (expected_reason, stored) {
        // Never provisioned while it mattered: nothing stored is right too.
        (Some(_), None) => Ok(()),
        (Some(reason), Some(s)) => {
            if s["status"] == "deactivated" && s["status_reason"] == reason {
                Ok(())
            } else {
                Err(format!("{okta_id}: expected deactivated/{reason}, stored {}/{}", s["status"], s["status_reason"]))
            }
        }
        (None, None) => Err(format!("{okta_id}: active and assigned in Okta, missing here")),
        (None, Some(s)) => {
            let p = &okta.unwrap()["profile"];
            let pairs = [
                ("status", json!("active")),
                ("email", p["email"].clone()),
                ("first_name", p["firstName"].clone()),
                ("last_name", p["lastName"].clone()),
                ("job_title", p["title"].clone()),
                ("primary_team", p["department"].clone()),
            ];
            for (field, want) in pairs {
                if s[field] != want {
                    return Err(format!("{okta_id}: {field} is {} but Okta says {want}", s[field]));
                }
            }
            Ok(())
        }
    }
}

#[tokio::test]
async fn stored_users_equal_okta_truth_whatever_the_delivery() {
    let mut app = Some(TestApp::spawn().await);
    let n = trials();
    for trial in 0..n {
        let seed = 0x5eed_0000 + trial;
        let w = World::in_app(app.take().unwrap(), &format!("prop{trial}"), "individual", false).await;
        let mut rng = Rng::new(seed);
        let mut ids = Vec::new();
        let mut slots = vec![None; SLOTS];
        let mut generation = 0;
        random_changes(&w, &mut rng, &mut ids, &mut slots, &mut generation).await;
        deliver(&w, &mut rng).await;
        w.app.drain(true).await;

        let stored = w.all_users().await;
        let by_okta = |id: &str| stored.iter().find(|u| u["okta_id"] == id);
        let mut failures = Vec::new();
        for id in &ids {
            if let Err(e) = check(id, w.sim.user(id).as_ref(), w.sim.is_assigned(id), by_okta(id)) {
                failures.push(e);
            }
        }
        assert!(
            stored.iter().all(|u| ids.iter().any(|id| u["okta_id"] == id.as_str())),
            "nothing stored that Okta never had"
        );
        assert!(failures.is_empty(), "trial {trial} (seed {seed:#x}) diverged from Okta:\n{}", failures.join("\n"));
        assert_eq!(w.tenant_id().as_str(), format!("prop{trial}"));
        app = Some(w.app);
    }
    println!("property: {n} trials of 25 random Okta changes each, delivered with duplicates, reordering, delays and injected 429/5xx: stored == Okta every time");
}
