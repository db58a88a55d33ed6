//! The admin API's tenant config: any JSON is a valid config or a list of problems.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::domain::tenant::{ConfigRules, TenantConfigInput};
use shared::domain::TenantId;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<TenantConfigInput>(data) else { return };
    let tenant = TenantId::parse("fuzz").expect("valid");
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("valid");
    for allow_insecure_okta in [false, true] {
        let _ = input.clone().into_config(tenant.clone(), None, now, ConfigRules { allow_insecure_okta });
    }
});
