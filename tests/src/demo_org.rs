//! Tenant `demo`'s Okta org for `make dev`: a few dozen people in six departments, each department
//! head reporting to the CEO and each member to their head.
use serde_json::{json, Map, Value};

use crate::okta_sim::OktaSim;

const DEPARTMENTS: [(&str, &[&str]); 6] = [
    (
        "Engineering",
        &["Ada Lovelace", "Alan Turing", "Grace Hopper", "Linus Torvalds", "Margaret Hamilton", "Ken Thompson"],
    ),
    ("Sales", &["Mary Barra", "Ray Kroc", "Estée Lauder", "Zig Ziglar", "Dale Carnegie"]),
    ("Marketing", &["David Ogilvy", "Mary Wells", "Leo Burnett", "Seth Godin", "Ann Handley"]),
    ("Support", &["Florence Nightingale", "Fred Rogers", "Clara Barton", "Jane Addams", "Tony Hsieh"]),
    ("People", &["Lillian Gilbreth", "Frances Perkins", "Dave Ulrich", "Mary Parker"]),
    ("Finance", &["Luca Pacioli", "Abigail Adams", "Warren Buffett", "Hetty Green", "Benjamin Graham"]),
];

fn person(name: &str, department: Option<&str>, title: &str, city: &str) -> Map<String, Value> {
    let (first, last) = name.split_once(' ').unwrap_or((name, "Demo"));
    let email = format!(
        "{}.{}@demo.example",
        first.to_lowercase(),
        last.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let mut p = json!({"firstName": first, "lastName": last, "email": email, "title": title, "city": city,
        "preferredLanguage": "en_GB", "costCenter": format!("CC-{}", 100 + name.len())});
    if let Some(d) = department {
        p["department"] = json!(d);
    }
    p.as_object().cloned().unwrap_or_default()
}

/// Creates the demo org in the simulator; returns how many users it has.
pub fn seed(sim: &OktaSim) -> usize {
    let cities = ["London", "Leeds", "Manchester", "Bristol", "Edinburgh"];
    let ceo = sim.create_user(person("Katharine Graham", Some("Leadership"), "Chief Executive", "London"), true);
    let mut count = 1;
    for (i, (department, people)) in DEPARTMENTS.iter().enumerate() {
        let mut head = person(people[0], Some(department), &format!("Head of {department}"), cities[i % cities.len()]);
        head.insert("managerId".into(), json!(ceo));
        let head_id = sim.create_user(head, true);
        count += 1;
        for (j, name) in people.iter().enumerate().skip(1) {
            let mut p =
                person(name, Some(department), &format!("{department} Specialist"), cities[(i + j) % cities.len()]);
            p.insert("managerId".into(), json!(head_id));
            sim.create_user(p, true);
            count += 1;
        }
    }
    // Someone in Okta but not assigned to the app: not provisioned until assigned.
    sim.create_user(person("Nora Notassigned", Some("Engineering"), "Contractor", "Leeds"), false);
    count + 1
}

/// `extra` more assigned people (`DEMO_EXTRA_USERS` in `make dev`): an org of a few thousand, to
/// watch "Sync users" take a while and to change Okta while it runs.
pub fn seed_extra(sim: &OktaSim, extra: usize) -> usize {
    let cities = ["London", "Leeds", "Manchester", "Bristol", "Edinburgh"];
    for i in 0..extra {
        let (department, _) = DEPARTMENTS[i % DEPARTMENTS.len()];
        let name = format!("Extra Person{i:05}");
        sim.create_user(person(&name, Some(department), "Associate", cities[i % cities.len()]), true);
    }
    extra
}
