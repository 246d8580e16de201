//! Delivery-report and click-tracking webhook payloads.

use twofactor_core::twofactor_in::{ClickEvent, DeliveryReport, DeliveryStatus, WebhookError};

const DOCUMENTED_JSON: &[u8] = br#"{
  "SessionId": "30b3c545-5e1a-482e-9fac-1a76e805020d-1",
  "SmsFrom": "TFACTR",
  "SmsTo": "9876543210",
  "SmsStatus": "DELIVERED",
  "SentAt": "2025-11-24 19:43:06",
  "StatusAt": "2025-11-24 19:43:08",
  "callback_value1": "order_98765",
  "callback_value2": "cust_1122"
}"#;

fn assert_documented(report: &DeliveryReport) {
    assert_eq!(report.session_id, "30b3c545-5e1a-482e-9fac-1a76e805020d-1");
    assert_eq!(report.from.as_deref(), Some("TFACTR"));
    assert_eq!(report.to.as_deref(), Some("9876543210"));
    assert_eq!(report.status, DeliveryStatus::Delivered);
    assert!(report.status.is_delivered());
    assert_eq!(report.sent_at.as_deref(), Some("2025-11-24 19:43:06"));
    assert_eq!(report.status_at.as_deref(), Some("2025-11-24 19:43:08"));
    assert_eq!(report.callback_value1.as_deref(), Some("order_98765"));
    assert_eq!(report.callback_value2.as_deref(), Some("cust_1122"));
    // 19:43:06 in India is 14:13:06 UTC.
    assert_eq!(
        report.sent_at_time().unwrap().unix_timestamp(),
        1_763_993_586
    );
    assert_eq!(
        report.status_at_time().unwrap().unix_timestamp(),
        1_763_993_588
    );
}

#[test]
fn the_documented_json_report_parses() {
    let report = DeliveryReport::from_json(DOCUMENTED_JSON).unwrap();
    assert_documented(&report);
    assert!(report.extra.is_empty());
}

#[test]
fn the_same_report_url_encoded_parses() {
    let body = b"SessionId=30b3c545-5e1a-482e-9fac-1a76e805020d-1&SmsFrom=TFACTR&SmsTo=9876543210\
&SmsStatus=DELIVERED&SentAt=2025-11-24+19%3A43%3A06&StatusAt=2025-11-24%2019:43:08\
&callback_value1=order_98765&callback_value2=cust_1122";
    let report = DeliveryReport::from_form(body).unwrap();
    assert_documented(&report);
}

#[test]
fn reports_tolerate_numbers_case_and_unknown_fields() {
    let report = DeliveryReport::from_json(
        br#"{"sessionid":"s-1","smsto":9876543210,"SMSSTATUS":"undelivered","Operator":"Jio","Extra":null}"#,
    )
    .unwrap();
    assert_eq!(report.to.as_deref(), Some("9876543210"));
    assert_eq!(report.status, DeliveryStatus::Undelivered);
    assert_eq!(
        report.extra.get("Operator").map(String::as_str),
        Some("Jio")
    );
    let other = DeliveryReport::from_form(b"SessionId=s&SmsStatus=DND+BLOCKED").unwrap();
    assert_eq!(other.status, DeliveryStatus::Other("DND BLOCKED".into()));
}

#[test]
fn broken_reports_are_clear_errors() {
    assert_eq!(
        DeliveryReport::from_json(b"<html>"),
        Err(WebhookError::Malformed { format: "JSON" })
    );
    assert_eq!(
        DeliveryReport::from_json(b"[1,2]"),
        Err(WebhookError::Malformed { format: "JSON" })
    );
    assert_eq!(
        DeliveryReport::from_json(br#"{"SmsStatus":"DELIVERED"}"#),
        Err(WebhookError::MissingField("SessionId"))
    );
    assert_eq!(
        DeliveryReport::from_form(b"SessionId=s"),
        Err(WebhookError::MissingField("SmsStatus"))
    );
}

#[test]
fn the_documented_click_event_parses() {
    // The documentation shows it unencoded; a real form body encodes the space and colons.
    for body in [
        &b"accessed=2024-11-29 14:30:00&phoneNo=9876543210&campaignName=PromoCampaign&ip=192.168.1.1"[..],
        &b"accessed=2024-11-29+14%3A30%3A00&phoneNo=9876543210&campaignName=PromoCampaign&ip=192.168.1.1&cb=order-7"[..],
    ] {
        let click = ClickEvent::from_form(body).unwrap();
        assert_eq!(click.accessed.as_deref(), Some("2024-11-29 14:30:00"));
        assert_eq!(click.phone, "9876543210");
        assert_eq!(click.campaign_name.as_deref(), Some("PromoCampaign"));
        assert_eq!(click.ip_addr(), Some("192.168.1.1".parse().unwrap()));
        assert_eq!(
            click.accessed_time().unwrap().unix_timestamp(),
            1_732_870_800
        );
    }
    let with_callback = ClickEvent::from_form(b"phoneNo=1&cb=order-7").unwrap();
    assert_eq!(
        with_callback.extra.get("cb").map(String::as_str),
        Some("order-7")
    );
}

#[test]
fn click_events_parse_from_json_and_need_a_phone() {
    let click =
        ClickEvent::from_json(br#"{"phoneNo":9876543210,"campaignName":"X","ip":"::1"}"#).unwrap();
    assert_eq!(click.phone, "9876543210");
    assert_eq!(click.ip_addr(), Some("::1".parse().unwrap()));
    assert_eq!(
        ClickEvent::from_form(b"campaignName=X"),
        Err(WebhookError::MissingField("phoneNo"))
    );
}

#[test]
fn debug_masks_phones() {
    let report = DeliveryReport::from_json(DOCUMENTED_JSON).unwrap();
    assert!(!format!("{report:?}").contains("9876543210"));
    let click = ClickEvent::from_form(b"phoneNo=9876543210&ip=192.168.1.1").unwrap();
    let debug = format!("{click:?}");
    assert!(
        !debug.contains("9876543210") && !debug.contains("192.168"),
        "{debug}"
    );
}
