use super::*;
use serde_json::json;

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

#[test]
fn the_data_set_loads() {
    warm();
    assert!(UAP_CORE.contains("\"source\": \"uap-core "));
}

#[test]
fn a_desktop_browser_has_every_part_logto_shows() {
    let v = parse(CHROME_WINDOWS).logto_json(CHROME_WINDOWS);
    assert_eq!(
        v,
        json!({
            "browser": {"name": "Chrome", "version": "131.0.0.0", "major": "131"},
            "engine": {"name": "Blink", "version": "131.0.0"},
            "os": {"name": "Windows", "version": "10"},
            "device": {},
            "cpu": {"architecture": "amd64"},
            "ua": CHROME_WINDOWS,
        })
    );
}

#[test]
fn a_phone_names_its_vendor_and_model() {
    let p = parse(SAFARI_IPHONE);
    assert_eq!(p.browser.name.as_deref(), Some("Mobile Safari"));
    assert_eq!(p.browser.major.as_deref(), Some("17"));
    assert_eq!(p.os.name.as_deref(), Some("iOS"));
    assert_eq!(p.os.version.as_deref(), Some("17.5"));
    assert_eq!(p.device.vendor.as_deref(), Some("Apple"));
    assert_eq!(p.device.model.as_deref(), Some("iPhone"));
    assert_eq!(p.engine.name.as_deref(), Some("WebKit"));
    assert_eq!(p.cpu.architecture, None);
}

#[test]
fn what_is_not_recognised_is_left_out_not_called_other() {
    let p = parse("curl/8.5.0");
    assert_eq!(p.os, Os::default());
    assert_eq!(p.device, Device::default());
    assert_eq!(p.engine, Engine::default());
    let nothing = parse("made up");
    assert!(nothing.is_empty(), "{nothing:?}");
    assert_eq!(
        nothing.logto_json("made up"),
        json!({"browser": {}, "engine": {}, "os": {}, "device": {}, "cpu": {}, "ua": "made up"})
    );
}

#[test]
fn long_strings_are_parsed_by_their_start_and_cached_whole() {
    let long = format!("{CHROME_WINDOWS} {}", "x".repeat(10_000));
    let p = parse(&long);
    assert_eq!(p.browser.name.as_deref(), Some("Chrome"));
    // A multi-byte character across the cut does not panic.
    let cut = format!("{}é{}", "a".repeat(MAX_PARSED - 1), "b".repeat(10));
    assert!(parse(&cut).is_empty());
    // The same string again is the same parse.
    assert!(Arc::ptr_eq(&parse(&long), &parse(&long)));
}

#[test]
fn one_line_for_people_names_what_is_known() {
    assert_eq!(
        parse(SAFARI_IPHONE).to_string(),
        "Mobile Safari 17.5 · iOS 17.5 · Apple iPhone · WebKit 605.1.15"
    );
    assert_eq!(parse("made up").to_string(), "");
}
