//! Okta event-hook deliveries: any body is a delivery or a clear refusal; a delivery's events and
//! their user targets can be walked.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::domain::okta::HookDelivery;

fuzz_target!(|data: &[u8]| {
    if let Ok(delivery) = HookDelivery::parse(data) {
        for event in delivery.events() {
            let _ = event.is_handled();
            let _ = event.user_targets().count();
        }
    }
});
