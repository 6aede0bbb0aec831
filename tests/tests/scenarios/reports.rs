//! Reports for regulators (DESIGN.md §6), on both databases, against a
//! fixture whose every figure is worked out by hand below: use by
//! instrument, institution and category, finance between units, and the
//! national-platform export.

use crate::bookings::{bookable_instrument, id_of, local, set_clock};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use labshare_tests::{both_backends, Resp, TestApp};
use serde_json::{json, Value};

fn fen(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("not an amount: {v}"));
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let (yuan, cents) = digits.split_once('.').unwrap_or_else(|| panic!("no decimals: {text}"));
    assert_eq!(cents.len(), 2, "two decimals: {text}");
    sign * (yuan.parse::<i64>().unwrap_or_default() * 100 + cents.parse::<i64>().unwrap_or_default())
}

fn today(app: &TestApp) -> NaiveDate {
    local(app, 0, 0, 0).date_naive()
}

fn user_id(app: &TestApp, username: &str) -> i64 {
    app.get("/api/v1/me", &app.login(username)).body["user"]["id"]
        .as_i64()
        .unwrap_or_default()
}

/// A demo instrument by its English name.
fn demo_instrument(app: &TestApp, name_en: &str) -> i64 {
    let r = app
        .get("/api/v1/instruments?limit=200", &app.login("admin"))
        .expect(200);
    let found: Vec<i64> = r.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["name_en"] == name_en)
        .filter_map(|i| i["id"].as_i64())
        .collect();
    assert_eq!(found.len(), 1, "{name_en}");
    found[0]
}

/// Proposes an hourly assisted fee standard as `unit1` and approves it.
fn hourly_standard(app: &TestApp, instrument: i64, prices: [&str; 3], startup: &str) {
    let body = json!({
        "instrument_id": instrument, "mode": "assisted", "unit": "hour",
        "prices": {"internal": prices[0], "member": prices[1], "external": prices[2]},
        "startup_fee": startup, "assisted_surcharge": "0.00", "minimum_charge": "0.00",
        "effective_from": today(app).to_string(), "note": "机时收费标准"
    });
    let id = id_of(
        &app.post("/api/v1/fee-standards", &app.login("unit1"), &body)
            .expect(201),
    );
    app.post(
        &format!("/api/v1/fee-standards/{id}/approve"),
        &app.login("admin"),
        &json!({}),
    )
    .expect(200);
}

/// An active programme paying `ratio` % of member units' cross-unit use of
/// instruments in `category`, and the researcher's grant under it.
fn subsidised(app: &TestApp, ratio: &str, category: &str) {
    let admin = app.login("admin");
    let body = json!({
        "name": "大型仪器共享使用补贴", "funder": "南宁市卫生健康委员会", "budget": "100000.00",
        "valid_from": today(app).to_string(), "valid_until": (today(app) + Duration::days(300)).to_string(),
        "ratio_percent": ratio, "cap_per_beneficiary": null, "cap_per_charge": null,
        "eligibility": {"memberships": ["member"], "user_tags": [], "without_mature_lab_only": false,
                        "cross_unit_only": true, "category_prefixes": [category]}
    });
    let programme = id_of(&app.post("/api/v1/subsidy-programmes", &admin, &body).expect(201));
    app.post(
        &format!("/api/v1/subsidy-programmes/{programme}/approve"),
        &app.login("leader"),
        &json!({}),
    )
    .expect(200);
    app.post(
        &format!("/api/v1/subsidy-programmes/{programme}/activate"),
        &admin,
        &json!({}),
    )
    .expect(200);
    let body = json!({"programme_id": programme, "requested_amount": "5000.00", "purpose": "流式细胞检测课题"});
    let grant = id_of(
        &app.post("/api/v1/subsidy-grants", &app.login("researcher"), &body)
            .expect(201),
    );
    app.post(
        &format!("/api/v1/subsidy-grants/{grant}/approve"),
        &admin,
        &json!({"amount": "5000.00"}),
    )
    .expect(200);
}

/// Records a walk-in of `user` as `manager1`, `minutes` long, ending `ago` minutes before now.
fn walk_in(app: &TestApp, instrument: i64, user: i64, ago: i64, minutes: i64) -> i64 {
    let end = app.now() - Duration::minutes(ago);
    let start = end - Duration::minutes(minutes);
    let body = json!({"instrument_id": instrument, "user_id": user, "mode": "assisted",
                      "started_at": start.to_rfc3339(), "ended_at": end.to_rfc3339(), "note": "临时加测"});
    id_of(
        &app.post("/api/v1/usage-records", &app.login("manager1"), &body)
            .expect(201),
    )
}

fn sql_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A use recorded long ago, written straight into the database (the API
/// records use of the last day only).
fn past_use(app: &TestApp, instrument: i64, user: (i64, i64), operator: i64, start: NaiveDateTime, minutes: i64) {
    let end = start + Duration::minutes(minutes);
    app.execute(&format!(
        "INSERT INTO usage_records (instrument_id, booking_id, user_id, institution_id, operator_id, mode,
             started_at, ended_at, effective_minutes, billed_minutes, walk_in, note, recorded_by, recorded_at)
         VALUES ({instrument}, NULL, {}, {}, {operator}, 'assisted', '{}', '{}', {minutes}, {minutes}, TRUE, '补录', {operator}, '{}')",
        user.0,
        user.1,
        sql_time(start),
        sql_time(end),
        sql_time(end)
    ));
}

/// `days` before now at the same time of day, as stored (UTC).
fn days_ago(app: &TestApp, days: i64) -> NaiveDateTime {
    (app.now() - Duration::days(days)).naive_utc()
}

fn rows(r: &Resp) -> Vec<Value> {
    r.body["rows"].as_array().cloned().unwrap_or_default()
}

fn row<'a>(rows: &'a [Value], key: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no line {key} in {rows:?}"))
}

/// The figures of a usage line that the fixture fixes, as text.
fn figures(r: &Value) -> Vec<String> {
    [
        "instruments",
        "rated_hours",
        "effective_minutes",
        "effective_hours",
        "external_minutes",
        "external_hours",
        "utilisation",
        "share_rate",
        "samples",
        "users",
        "institutions_served",
        "revenue_internal",
        "revenue_external",
        "subsidy",
    ]
    .iter()
    .map(|k| match &r[*k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
    .collect()
}

fn expect_figures(r: &Value, want: &[&str]) {
    assert_eq!(
        figures(r),
        want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "{r}"
    );
}

/// The sum of a numeric or money column over lines, in hundredths.
fn column_sum(lines: &[Value], key: &str) -> i64 {
    lines
        .iter()
        .map(|l| match &l[key] {
            Value::String(_) => fen(&l[key]),
            other => other.as_i64().unwrap_or_default() * 100,
        })
        .sum()
}

/// Everything the reports are checked against.
struct Fixture {
    from: NaiveDate,
    to: NaiveDate,
    first: i64,
    second: i64,
    external: i64,
    cdc: i64,
    blood: i64,
    lcms: i64,
    flow: i64,
    qpcr: i64,
    icp: i64,
    nat: i64,
    new: i64,
    year: i32,
}

/// The fixture, worked out by hand (period: the 365 local days up to today):
///
/// | instrument | R | H min | E min | samples | users | inst. | internal | external | subsidy |
/// |---|---|---|---|---|---|---|---|---|---|
/// | LC-MS/MS (一院, 030201) | 1600 × (1 − 100 h blacked out of 8760) = 1581.74 | 600 + 300 + 60 | 600 + 60 | 3 | 2 | 1 | 0 | 240.00 | 0 |
/// | flow cytometer (一院, 031005) | 1600 | 0 | 0 | | | | | | |
/// | qPCR (一院) | retired and idle: not counted | | | | | | | | |
/// | new flow cytometer (一院, 031005), commissioned 73 days ago | 1600 × 73 ÷ 365 = 320 | 50 + 30 + 40 | 50 + 30 | 0 | 3 | 2 | 220.00 | 260 + 170 − 20 = 410.00 | 130.00 |
/// | ICP-MS (CDC, 030202) | 1600 | 120 | 120 | 0 | 1 | 1 | | | |
/// | blood NAT (血站, 031002), retired but used | 1600 | 90 | 90 | 0 | 1 | 1 | | | |
/// | five more demo instruments, idle | 1600 each | | | | | | | | |
fn fixture(app: &TestApp) -> Fixture {
    app.seed_demo();
    // Noon of a fixed day, local: every use of the day falls on one local
    // date, and the 365 days up to it hold no 29 February, so that a whole
    // window is exactly one year of rated hours whenever the suite runs.
    let noon = chrono::FixedOffset::east_opt(8 * 3600)
        .and_then(|cst| {
            NaiveDate::from_ymd_opt(2026, 11, 27)?
                .and_hms_opt(12, 0, 0)?
                .and_local_timezone(cst)
                .single()
        })
        .unwrap_or_else(|| panic!("a valid instant"));
    set_clock(app, noon);
    let admin = app.login("admin");
    let first = app.institution_id(&admin, "南宁市第一人民医院");
    let second = app.institution_id(&admin, "南宁市第二人民医院");
    let external = app.institution_id(&admin, "广西邕检生物科技有限公司");
    let cdc = app.institution_id(&admin, "南宁市疾病预防控制中心");
    let blood = app.institution_id(&admin, "南宁中心血站");
    let lcms = demo_instrument(app, "LC-MS/MS system");
    let flow = demo_instrument(app, "Flow cytometer");
    let qpcr = demo_instrument(app, "Real-time PCR system");
    let icp = demo_instrument(app, "ICP-MS");
    let nat = demo_instrument(app, "Blood screening NAT system");
    let (researcher, guest, manager) = (
        user_id(app, "researcher"),
        user_id(app, "guest"),
        user_id(app, "manager1"),
    );

    // A new flow cytometer of 一院, commissioned 73 days before the period's end.
    let new = bookable_instrument(app, json!(["assisted"]));
    let commissioned = today(app) - Duration::days(72);
    app.execute(&format!(
        "UPDATE instruments SET commissioning_date = '{commissioned}', purchase_date = '{}' WHERE id = {new}",
        commissioned - Duration::days(30)
    ));
    hourly_standard(app, new, ["100.00", "120.00", "150.00"], "10.00");
    subsidised(app, "50", "0310");
    // 50 min bill 60 at 200 %: (120 + 10) × 2 = 260.00, half subsidised.
    walk_in(app, new, researcher, 10, 50);
    // 30 min: (150 × 0.5 + 10) × 2 = 170.00, external: no subsidy.
    walk_in(app, new, guest, 70, 30);
    // 40 min bill 60: (100 + 10) × 2 = 220.00, internal.
    walk_in(app, new, manager, 110, 40);
    let charges = app.get("/api/v1/charges?kind=walk_in&limit=200", &admin).expect(200);
    let guest_charge = charges.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["user_id"] == guest)
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("no charge of the guest: {}", charges.text));
    app.post(
        &format!("/api/v1/charges/{guest_charge}/adjust"),
        &app.login("unit1"),
        &json!({"amount": "-20.00", "reason": "仪器预热延误，减免部分费用"}),
    )
    .expect(201);

    // A sample service on the LC-MS/MS: 3 samples at the member price 80.00, 60 instrument minutes.
    let unit = app.login("unit1");
    let item = id_of(
        &app.post(
            "/api/v1/service-items",
            &unit,
            &json!({
        "name": "血清25-羟基维生素D检测", "instrument_ids": [lcms], "unit": "sample", "turnaround_days": 3,
        "sample_requirements": "血清 ≥ 0.5 mL", "required_biosafety": "BSL2"}),
        )
        .expect(201),
    );
    let body = json!({"service_item_id": item, "unit": "sample",
        "prices": {"internal": "70.00", "member": "80.00", "external": "120.00"},
        "minimum_charge": "0.00", "effective_from": today(app).to_string(), "note": "按样本收费"});
    let standard = id_of(&app.post("/api/v1/fee-standards", &unit, &body).expect(201));
    app.post(&format!("/api/v1/fee-standards/{standard}/approve"), &admin, &json!({}))
        .expect(200);
    let sample = |code: &str| json!({"code": code, "sample_type": "serum", "risk_level": "BSL2", "human": true, "ethics_approval": "NNYY-IRB-2026-031"});
    let order = id_of(
        &app.post(
            "/api/v1/service-orders",
            &app.login("researcher"),
            &json!({"service_item_id": item, "samples": [sample("S-1"), sample("S-2"), sample("S-3")], "notes": ""}),
        )
        .expect(201),
    );
    let path = format!("/api/v1/service-orders/{order}");
    let manager_token = app.login("manager1");
    app.post(&format!("{path}/accept"), &manager_token, &json!({}))
        .expect(200);
    app.post(&format!("{path}/receive-samples"), &manager_token, &json!({}))
        .expect(200);
    app.post(
        &format!("{path}/complete"),
        &manager_token,
        &json!({"report_reference": "R-2026-88", "sample_count": 3, "instrument_minutes": 60}),
    )
    .expect(200);

    // Earlier use, recorded at the time.
    past_use(app, lcms, (researcher, second), manager, days_ago(app, 30), 600);
    past_use(app, lcms, (manager, first), manager, days_ago(app, 40), 300);
    past_use(app, icp, (guest, external), manager, days_ago(app, 10), 120);
    past_use(app, nat, (researcher, second), manager, days_ago(app, 5), 90);
    // 100 hours of maintenance on the LC-MS/MS.
    let outage = days_ago(app, 50);
    app.execute(&format!(
        "INSERT INTO blackouts (instrument_id, kind, reason, starts_at, ends_at, created_by, created_at)
         VALUES ({lcms}, 'maintenance', '年度保养', '{}', '{}', {manager}, '{}')",
        sql_time(outage),
        sql_time(outage + Duration::hours(100)),
        sql_time(outage)
    ));
    app.execute(&format!(
        "UPDATE instruments SET status = 'retired' WHERE id IN ({qpcr}, {nat})"
    ));

    // Two years back: the LC-MS/MS served 二院 for 120 minutes and 邕检 for 60.
    let year = today(app).year() - 2;
    let at = |m: u32, d: u32| {
        NaiveDate::from_ymd_opt(year, m, d)
            .and_then(|d| d.and_hms_opt(2, 0, 0))
            .unwrap_or_default()
    };
    past_use(app, lcms, (researcher, second), manager, at(3, 10), 120);
    past_use(app, lcms, (guest, external), manager, at(6, 1), 60);

    Fixture {
        from: today(app) - Duration::days(364),
        to: today(app),
        first,
        second,
        external,
        cdc,
        blood,
        lcms,
        flow,
        qpcr,
        icp,
        nat,
        new,
        year,
    }
}

fn usage(app: &TestApp, who: &str, f: &Fixture, extra: &str) -> Resp {
    usage_with(app, &app.login(who), f, extra)
}

fn usage_with(app: &TestApp, token: &str, f: &Fixture, extra: &str) -> Resp {
    app.get(
        &format!("/api/v1/reports/usage?from={}&to={}{extra}", f.from, f.to),
        token,
    )
}

both_backends! {
    fn the_usage_report_gives_hand_computed_hours_ratios_and_money_per_instrument_institution_and_category(app) {
        let f = fixture(&app);
        let r = usage(&app, "regulator", &f, "").expect(200);
        assert_eq!((r.body["period_days"].as_i64(), r.body["group_by"].as_str()), (Some(365), Some("instrument")));
        let lines = rows(&r);
        // Ten of the eleven instruments: the idle retired qPCR is not counted.
        assert_eq!(lines.len(), 10, "{}", r.text);
        assert!(lines.iter().all(|l| l["instrument_id"].as_i64() != Some(f.qpcr)));
        let ids: Vec<i64> = lines.iter().filter_map(|l| l["instrument_id"].as_i64()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "by instrument id");

        let lcms = row(&lines, &f.lcms.to_string());
        expect_figures(lcms, &["1", "1581.74", "960", "16.00", "660", "11.00", "0.0101", "0.6875", "3", "2", "1", "0.00", "240.00", "0.00"]);
        assert_eq!((lcms["name"].as_str(), lcms["institution_id"].as_i64()), (Some("液相色谱-串联质谱仪"), Some(f.first)));
        assert_eq!((lcms["category_code"].as_str(), lcms["institution_name"].as_str()), (Some("030201"), Some("南宁市第一人民医院")));
        assert_eq!(lcms["instrument_ids"], json!([f.lcms]));
        assert_eq!(lcms["drill_down"], Value::Null);
        // 2 h of 320 h = 0.00625, half-up to 0.0063; 80 of 120 minutes for others.
        expect_figures(row(&lines, &f.new.to_string()), &["1", "320.00", "120", "2.00", "80", "1.33", "0.0063", "0.6667", "0", "3", "2", "220.00", "410.00", "130.00"]);
        expect_figures(row(&lines, &f.flow.to_string()), &["1", "1600.00", "0", "0.00", "0", "0.00", "0.0000", "0.0000", "0", "0", "0", "0.00", "0.00", "0.00"]);
        // 2 h of 1600 h = 0.00125 → 0.0013.
        expect_figures(row(&lines, &f.icp.to_string()), &["1", "1600.00", "120", "2.00", "120", "2.00", "0.0013", "1.0000", "0", "1", "1", "0.00", "0.00", "0.00"]);
        // Retired, but used in the period: counted.
        expect_figures(row(&lines, &f.nat.to_string()), &["1", "1600.00", "90", "1.50", "90", "1.50", "0.0009", "1.0000", "0", "1", "1", "0.00", "0.00", "0.00"]);

        // Totals: 320 + 1581.74 + 8 × 1600 = 14701.74 h; 1290 min = 21.5 h, of it 950 min external.
        let totals = &r.body["totals"];
        assert_eq!(totals["key"], "total");
        expect_figures(totals, &["10", "14701.74", "1290", "21.50", "950", "15.83", "0.0015", "0.7364", "3", "3", "2", "220.00", "650.00", "130.00"]);
        for key in ["rated_hours", "effective_minutes", "external_minutes", "samples", "revenue_internal", "revenue_external", "subsidy", "instruments"] {
            let total = match &totals[key] { Value::String(_) => fen(&totals[key]), other => other.as_i64().unwrap_or_default() * 100 };
            assert_eq!(column_sum(&lines, key), total, "{key}: the totals are the sum of the lines");
        }

        // By institution: each line is the sum of its instruments; ratios from the summed hours.
        let r = usage(&app, "leader", &f, "&group_by=institution").expect(200);
        let by_unit = rows(&r);
        assert_eq!(by_unit.len(), 5, "{}", r.text);
        let first = row(&by_unit, &f.first.to_string());
        // 320 + 1581.74 + 1600 = 3501.74 h; 1080 min = 18 h → 18 ÷ 3501.74 = 0.0051; 740 ÷ 1080 = 0.6852.
        expect_figures(first, &["3", "3501.74", "1080", "18.00", "740", "12.33", "0.0051", "0.6852", "3", "3", "2", "220.00", "650.00", "130.00"]);
        assert_eq!(first["name"], "南宁市第一人民医院");
        let mut members: Vec<i64> = first["instrument_ids"].as_array().into_iter().flatten().filter_map(Value::as_i64).collect();
        members.sort_unstable();
        assert_eq!(members, vec![f.lcms, f.flow, f.new]);
        let drill = first["drill_down"].as_str().unwrap_or_default().to_owned();
        assert_eq!(drill, format!("/api/v1/reports/usage?from={}&to={}&group_by=instrument&institution_id={}", f.from, f.to, f.first));
        let drilled = app.get(&drill, &app.login("leader")).expect(200);
        assert_eq!(figures(&drilled.body["totals"]), figures(first), "the drill-down adds up to the line");
        expect_figures(row(&by_unit, &f.cdc.to_string()), &["2", "3200.00", "120", "2.00", "120", "2.00", "0.0006", "1.0000", "0", "1", "1", "0.00", "0.00", "0.00"]);
        expect_figures(row(&by_unit, &f.blood.to_string()), &["1", "1600.00", "90", "1.50", "90", "1.50", "0.0009", "1.0000", "0", "1", "1", "0.00", "0.00", "0.00"]);
        expect_figures(row(&by_unit, &f.second.to_string()), &["2", "3200.00", "0", "0.00", "0", "0.00", "0.0000", "0.0000", "0", "0", "0", "0.00", "0.00", "0.00"]);
        assert_eq!(figures(&r.body["totals"]), figures(totals), "the same totals whatever the grouping");

        // By category (the first four digits of GB/T 32847): 0302 and 0310.
        let r = usage(&app, "admin", &f, "&group_by=category").expect(200);
        let by_class = rows(&r);
        assert_eq!(by_class.iter().map(|l| l["key"].as_str().unwrap_or_default()).collect::<Vec<_>>(), vec!["0302", "0310"]);
        // LC-MS/MS, MALDI-TOF, ICP-MS, GC-MS: 1581.74 + 3 × 1600 = 6381.74 h; 18 h → 0.0028; 780 ÷ 1080 = 0.7222.
        expect_figures(row(&by_class, "0302"), &["4", "6381.74", "1080", "18.00", "780", "13.00", "0.0028", "0.7222", "3", "3", "2", "0.00", "240.00", "0.00"]);
        // Five demo instruments and the new one: 5 × 1600 + 320 = 8320 h; 3.5 h → 0.0004; 170 ÷ 210 = 0.8095.
        expect_figures(row(&by_class, "0310"), &["6", "8320.00", "210", "3.50", "170", "2.83", "0.0004", "0.8095", "0", "3", "2", "220.00", "410.00", "130.00"]);
        assert_eq!(row(&by_class, "0302")["category_code"], "0302");
        let drill = row(&by_class, "0310")["drill_down"].as_str().unwrap_or_default().to_owned();
        assert!(drill.ends_with("&group_by=instrument&category_code=0310"), "{drill}");
        assert_eq!(rows(&app.get(&drill, &app.login("admin")).expect(200)).len(), 6);
        assert_eq!(figures(&r.body["totals"]), figures(totals));

        // Filters narrow the lines and their totals.
        let r = usage(&app, "regulator", &f, &format!("&institution_id={}&category_code=0302", f.first)).expect(200);
        assert_eq!(rows(&r).iter().filter_map(|l| l["instrument_id"].as_i64()).collect::<Vec<_>>(), vec![f.lcms]);
        // Users and institutions of the totals are those of the instruments the filters keep.
        let r = usage(&app, "regulator", &f, &format!("&institution_id={}&group_by=institution", f.cdc)).expect(200);
        assert_eq!(figures(&r.body["totals"]), figures(row(&rows(&r), &f.cdc.to_string())), "one line: the totals are the line");

        // CSV: UTF-8 with BOM, Chinese headers, one line per group and the totals last.
        let csv = usage(&app, "regulator", &f, "&group_by=institution&format=csv").expect(200);
        assert!(csv.header("content-type").unwrap_or_default().starts_with("text/csv"));
        assert!(csv.text.starts_with("\u{feff}分组,名称,仪器编号,单位编号,单位名称,分类代码,仪器台数,所含仪器编号,额定机时(小时)"), "{}", csv.text);
        let lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1 + 5 + 1);
        assert!(lines[6].starts_with("合计,"), "{}", lines[6]);
        assert!(lines[6].contains(",14701.74,1290,21.50,950,15.83,0.0015,0.7364,3,3,2,220.00,650.00,130.00,"), "{}", lines[6]);
    }

    fn a_unit_admin_reports_on_its_own_unit_and_researchers_and_managers_on_nothing(app) {
        let f = fixture(&app);
        let r = usage(&app, "unit1", &f, "").expect(200);
        let lines = rows(&r);
        assert_eq!(lines.iter().filter_map(|l| l["instrument_id"].as_i64()).collect::<Vec<_>>(), vec![f.lcms, f.flow, f.new]);
        assert!(lines.iter().all(|l| l["institution_id"].as_i64() == Some(f.first)));
        expect_figures(&r.body["totals"], &["3", "3501.74", "1080", "18.00", "740", "12.33", "0.0051", "0.6852", "3", "3", "2", "220.00", "650.00", "130.00"]);
        let r = usage(&app, "unit1", &f, "&group_by=institution").expect(200);
        assert_eq!(rows(&r).iter().map(|l| l["institution_id"].as_i64()).collect::<Vec<_>>(), vec![Some(f.first)]);
        usage(&app, "unit1", &f, &format!("&institution_id={}", f.cdc)).expect(403);
        usage(&app, "unit1", &f, &format!("&institution_id={}", f.first)).expect(200);
        for who in ["researcher", "manager1", "guest"] {
            let r = usage(&app, who, &f, "").expect(403);
            assert_eq!(r.problem_type(), "/problems/forbidden");
            app.get(&format!("/api/v1/reports/finance?from={}&to={}", f.from, f.to), &app.login(who)).expect(403);
            app.get(&format!("/api/v1/reports/national-export?year={}", f.year), &app.login(who)).expect(403);
        }
        for who in ["leader", "admin", "regulator"] {
            assert_eq!(rows(&usage(&app, who, &f, "").expect(200)).len(), 10, "{who}");
        }
        app.request(reqwest::Method::GET, &format!("/api/v1/reports/usage?from={}&to={}", f.from, f.to), None, None).expect(401);
    }

    fn the_finance_report_sums_charges_per_pair_and_kind_to_the_fen(app) {
        let f = fixture(&app);
        let path = format!("/api/v1/reports/finance?from={}&to={}", f.from, f.to);
        let r = app.get(&path, &app.login("regulator")).expect(200);
        let pairs = r.body["pairs"].as_array().cloned().unwrap_or_default();
        let pair = |payer: i64| {
            pairs.iter().find(|p| p["payer_institution_id"].as_i64() == Some(payer)).cloned()
                .unwrap_or_else(|| panic!("no pair with {payer}: {}", r.text))
        };
        let money = |v: &Value| (v["count"].as_i64().unwrap_or(-1), fen(&v["gross"]), fen(&v["subsidy"]), fen(&v["payable"]));
        assert_eq!(pairs.len(), 3, "{}", r.text);
        assert!(pairs.iter().all(|p| p["provider_institution_id"].as_i64() == Some(f.first)));
        // 二院: the walk-in 260.00 (130.00 subsidised) and the service order 240.00.
        assert_eq!(money(&pair(f.second)), (2, 50_000, 13_000, 37_000));
        assert_eq!((pair(f.second)["provider_name"].as_str(), pair(f.second)["payer_name"].as_str()), (Some("南宁市第一人民医院"), Some("南宁市第二人民医院")));
        // 一院's own manager: 220.00; 邕检: 170.00 less the 20.00 adjustment.
        assert_eq!(money(&pair(f.first)), (1, 22_000, 0, 22_000));
        assert_eq!(money(&pair(f.external)), (2, 15_000, 0, 15_000));
        let kinds = r.body["kinds"].as_array().cloned().unwrap_or_default();
        let order: Vec<&str> = kinds.iter().filter_map(|k| k["kind"].as_str()).collect();
        assert_eq!(order, vec!["usage", "late_cancellation", "no_show", "walk_in", "service_order", "adjustment"]);
        let by_kind: Vec<(i64, i64, i64, i64)> = kinds.iter().map(money).collect();
        assert_eq!(by_kind, vec![(0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0), (3, 65_000, 13_000, 52_000), (1, 24_000, 0, 24_000), (1, -2_000, 0, -2_000)]);
        assert_eq!(money(&r.body["totals"]), (5, 87_000, 13_000, 74_000));
        for key in ["gross", "subsidy", "payable"] {
            assert_eq!(column_sum(&pairs, key), fen(&r.body["totals"][key]), "pairs add up: {key}");
            assert_eq!(column_sum(&kinds, key), fen(&r.body["totals"][key]), "kinds add up: {key}");
        }
        // The drill-down lists exactly the pair's charges.
        let drill = pair(f.external)["drill_down"].as_str().unwrap_or_default().to_owned();
        let listed = app.get(&drill, &app.login("regulator")).expect(200);
        let listed = listed.body["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed.iter().map(|c| fen(&c["lines"]["gross"])).sum::<i64>(), 15_000);

        // Charges are counted by the day they were made: none yesterday.
        let yesterday = f.to - Duration::days(1);
        let r = app.get(&format!("/api/v1/reports/finance?from={}&to={yesterday}", f.from), &app.login("admin")).expect(200);
        assert_eq!(money(&r.body["totals"]), (0, 0, 0, 0));
        assert_eq!(r.body["pairs"], json!([]));
        let r = app.get(&format!("/api/v1/reports/finance?from={}&to={}", f.to, f.to), &app.login("admin")).expect(200);
        assert_eq!(money(&r.body["totals"]), (5, 87_000, 13_000, 74_000));

        // The payer's unit admin sees the lines its unit pays.
        let admin = app.login("admin");
        let body = json!({"institution_id": f.second, "username": "unit2", "password": "another long passphrase",
                          "display_name": "二院 设备科", "roles": ["unit_admin"]});
        app.post("/api/v1/users", &admin, &body).expect(201);
        let payer = app.login_with("unit2", "another long passphrase");
        let r = app.get(&path, &payer).expect(200);
        let theirs = r.body["pairs"].as_array().cloned().unwrap_or_default();
        assert_eq!(theirs.iter().map(|p| p["payer_institution_id"].as_i64()).collect::<Vec<_>>(), vec![Some(f.second)]);
        assert_eq!(money(&r.body["totals"]), (2, 50_000, 13_000, 37_000));
        let walk_ins = r.body["kinds"].as_array().into_iter().flatten().find(|k| k["kind"] == "walk_in").cloned().unwrap_or_default();
        assert_eq!(money(&walk_ins), (1, 26_000, 13_000, 13_000));
        let r = usage_with(&app, &payer, &f, "&group_by=institution").expect(200);
        let lines = rows(&r);
        assert_eq!(lines.len(), 1);
        expect_figures(&lines[0], &["2", "3200.00", "0", "0.00", "0", "0.00", "0.0000", "0.0000", "0", "0", "0", "0.00", "0.00", "0.00"]);
        // The provider's admin sees all three of its pairs.
        let r = app.get(&path, &app.login("unit1")).expect(200);
        assert_eq!(money(&r.body["totals"]), (5, 87_000, 13_000, 74_000));

        let csv = app.get(&format!("{path}&format=csv"), &app.login("regulator")).expect(200);
        assert!(csv.text.starts_with("\u{feff}分组,服务单位编号,服务单位名称,付费单位编号,付费单位名称,费用类型,笔数,应收金额(元),补贴金额(元),应付金额(元)"), "{}", csv.text);
        let lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1 + 3 + 6 + 1);
        assert!(lines[10].starts_with("total,,,,,,5,870.00,130.00,740.00,"), "{}", lines[10]);
        assert!(lines.iter().any(|l| l.starts_with("kind,,,,,adjustment,1,-20.00,0.00,-20.00,")), "{}", csv.text);
    }

    fn the_national_export_lists_listed_instruments_with_their_record_and_the_years_run_data(app) {
        let f = fixture(&app);
        let leap = NaiveDate::from_ymd_opt(f.year, 2, 29).is_some();
        let r = app.get(&format!("/api/v1/reports/national-export?year={}", f.year), &app.login("regulator")).expect(200);
        assert_eq!(r.body["year"].as_i64(), Some(i64::from(f.year)));
        assert_eq!(r.body["period_days"].as_i64(), Some(if leap { 366 } else { 365 }));
        let lines = rows(&r);
        // Listed: LC-MS/MS, flow cytometer, MALDI-TOF, ICP-MS; not the retired idle qPCR and NAT, nor the
        // new flow cytometer (not yet in service), nor the unlisted, submitted or rejected ones.
        let ids: Vec<i64> = lines.iter().filter_map(|l| l["instrument_id"].as_i64()).collect();
        assert_eq!(ids.len(), 4, "{}", r.text);
        for id in [f.lcms, f.flow, f.icp] {
            assert!(ids.contains(&id));
        }
        for id in [f.qpcr, f.nat, f.new] {
            assert!(!ids.contains(&id));
        }
        let lcms = lines.iter().find(|l| l["instrument_id"].as_i64() == Some(f.lcms)).cloned().unwrap_or_default();
        // A whole year is one year of rated hours, leap or not.
        let rated = "1600.00";
        let text = |k: &str| lcms[k].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            ["name_zh", "name_en", "category_code", "model", "manufacturer", "country_of_origin", "original_value_10k_cny", "purchase_date", "commissioning_date", "institution_name", "lab_name", "contact_name", "status", "sharing_scope"].map(text),
            ["液相色谱-串联质谱仪", "LC-MS/MS system", "030201", "Triple Quad 4500MD", "SCIEX", "新加坡", "386.00", "2019-06-18", "2019-08-17", "南宁市第一人民医院", "中心实验室", "黄志强", "normal", "public"].map(str::to_owned)
        );
        assert_eq!(lcms["disciplines"], json!(["临床医学", "基础医学"]));
        // 3 h of use, all by other institutions' users: 3 ÷ 1600 = 0.0019.
        assert_eq!(
            ["rated_hours", "effective_hours", "external_hours", "utilisation", "share_rate", "revenue", "revenue_external"].map(text),
            [rated, "3.00", "3.00", "0.0019", "1.0000", "0.00", "0.00"].map(str::to_owned)
        );
        assert_eq!((lcms["users"].as_i64(), lcms["institutions_served"].as_i64(), lcms["samples"].as_i64()), (Some(2), Some(2), Some(0)));

        let mine = app.get(&format!("/api/v1/reports/national-export?year={}", f.year), &app.login("unit1")).expect(200);
        let mut own: Vec<i64> = rows(&mine).iter().filter_map(|l| l["instrument_id"].as_i64()).collect();
        own.sort_unstable();
        assert_eq!(own, vec![f.lcms, f.flow]);

        let csv = app.get(&format!("/api/v1/reports/national-export?year={}&format=csv", f.year), &app.login("leader")).expect(200);
        assert!(csv.header("content-disposition").unwrap_or_default().contains(&format!("national-export-{}.csv", f.year)));
        assert!(csv.text.starts_with("\u{feff}仪器编号,仪器名称,英文名称,分类编码,规格型号,生产制造商,产地国别,资产编号,原值(万元),购置日期,启用日期"), "{}", csv.text);
        let line = csv.text.split("\r\n").find(|l| l.starts_with(&format!("{},", f.lcms))).unwrap_or_default().to_owned();
        assert!(line.contains(",386.00,2019-06-18,2019-08-17,"), "{line}");
        assert!(line.contains("临床医学、基础医学"), "{line}");
        assert!(line.contains(&format!(",正常,对社会开放共享,{rated},3.00,3.00,0.0019,1.0000,0,2,2,0.00,0.00")), "{line}");
        assert_eq!(csv.text.split("\r\n").filter(|l| !l.is_empty()).count(), 1 + 4);
    }

    fn bad_periods_are_refused_naming_the_parameter_and_the_rule(app) {
        app.seed_demo();
        let token = app.login("regulator");
        let cases = [
            ("/api/v1/reports/usage?from=2026-13-01&to=2026-12-31", "from", "date"),
            ("/api/v1/reports/usage?from=2026-01-01&to=2026-1-31", "to", "date"),
            ("/api/v1/reports/usage?from=2026-03-01&to=2026-02-28", "to", "not_before_from"),
            ("/api/v1/reports/usage?from=2024-01-01&to=2027-01-01", "to", "max_period"),
            ("/api/v1/reports/usage?from=1999-12-31&to=2000-01-31", "from", "range"),
            ("/api/v1/reports/usage?from=2026-01-01", "to", "required"),
            ("/api/v1/reports/usage?from=2026-01-01&to=2026-12-31&group_by=lab", "group_by", "enum"),
            ("/api/v1/reports/usage?from=2026-01-01&to=2026-12-31&category_code=03x", "category_code", "category_prefix"),
            ("/api/v1/reports/usage?from=2026-01-01&to=2026-12-31&format=xlsx", "format", "enum"),
            ("/api/v1/reports/usage?from=2026-01-01&to=2026-12-31&unit=1", "unit", "unknown_parameter"),
            ("/api/v1/reports/finance?from=2026-01-01&to=2025-12-31", "to", "not_before_from"),
            ("/api/v1/reports/finance?from=yesterday&to=2025-12-31", "from", "date"),
            ("/api/v1/reports/national-export?year=1999", "year", "range"),
            ("/api/v1/reports/national-export?year=MMXXV", "year", "type"),
            ("/api/v1/reports/national-export", "year", "required"),
        ];
        for (path, parameter, rule) in cases {
            let r = app.get(path, &token).expect(400);
            assert_eq!(r.problem_type(), "/problems/invalid-parameter", "{path}");
            assert_eq!((r.body["errors"][0]["parameter"].as_str(), r.body["errors"][0]["rule"].as_str()), (Some(parameter), Some(rule)), "{path}: {}", r.text);
        }
        let r = app.get("/api/v1/reports/usage?from=2026-02-30&to=2026-00-01", &token).expect(400);
        assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(2), "both dates named: {}", r.text);
        // Exactly three years is allowed, and an empty period answers zeros, not an error.
        let r = app.get("/api/v1/reports/usage?from=2024-01-01&to=2026-12-31&group_by=category", &token).expect(200);
        assert_eq!(r.body["period_days"].as_i64(), Some(1096));
        let r = app.get("/api/v1/reports/finance?from=2001-01-01&to=2001-01-01&format=json", &token).expect(200);
        assert_eq!(r.body["totals"]["gross"], "0.00");
    }
}

/// On SQLite, the yearly sums behind the assessment and the usage report
/// go from each instrument through an index that holds every column they
/// need to the period's entries: the groups stream out in instrument order
/// with no sort of the year's rows and no row fetched from the table, so
/// their time grows with the data.
/// The served counts of a report take the uses from the usage index and
/// never store the year's uses in an index built for the query. SQLite
/// plans without statistics, so the plan is the same at any size.
#[test]
fn the_yearly_sums_read_indexes_in_instrument_order_on_sqlite() {
    let app = TestApp::sqlite();
    let conn = app.pool.get().unwrap_or_else(|e| panic!("connection: {e}"));
    let statements = labshare_persistence::metrics::planned_statements(&conn);
    drop(conn);
    assert_eq!(statements.len(), 8);
    for (name, sql) in statements {
        let plan = app.sqlite_plan(&sql);
        let index = match name {
            "money" => "charges_instrument",
            "ratings" => "ratings_instrument",
            "bookings" => "bookings_instrument_time",
            _ => "usage_records_instrument_time",
        };
        assert!(
            plan.contains(&format!("USING COVERING INDEX {index}")),
            "{name}: {plan}"
        );
        assert!(!plan.contains("AUTOMATIC"), "{name}: {plan}");
        assert!(!plan.contains("MATERIALIZE"), "{name}: {plan}");
        if !name.starts_with("served ") {
            // Per instrument; a report by unit or category groups the
            // uses by another key, and sorts them.
            assert!(!plan.contains("FOR GROUP BY"), "{name}: {plan}");
        }
    }
}
