//! Charges, subsidies and statements (DESIGN.md §4), on both databases:
//! every use priced by the standard in force and the payer's tier,
//! subsidised within every limit, settled monthly to the fen.

use crate::bookings::{at, book, bookable_instrument, id_of, local, set_clock};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
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

fn items(r: &Resp) -> Vec<Value> {
    r.body["items"].as_array().cloned().unwrap_or_default()
}

fn today(app: &TestApp) -> String {
    local(app, 0, 0, 0).date_naive().to_string()
}

/// Proposes an hourly fee standard as `unit1` and approves it as the platform office.
fn hourly_standard(
    app: &TestApp,
    instrument: i64,
    mode: &str,
    prices: [&str; 3],
    startup: &str,
    surcharge: &str,
    minimum: &str,
) -> i64 {
    let body = json!({
        "instrument_id": instrument, "mode": mode, "unit": "hour",
        "prices": {"internal": prices[0], "member": prices[1], "external": prices[2]},
        "startup_fee": startup, "assisted_surcharge": surcharge, "minimum_charge": minimum,
        "effective_from": today(app), "note": "2026年收费标准"
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
    id
}

/// An active programme for member units' cross-unit use; returns its id.
fn programme(app: &TestApp, budget: &str, ratio: &str, cap_per_charge: Option<&str>, category: &str) -> i64 {
    let admin = app.login("admin");
    let body = json!({
        "name": "2026年度大型仪器共享使用补贴", "funder": "南宁市卫生健康委员会", "budget": budget,
        "valid_from": today(app), "valid_until": local(app, 300, 0, 0).date_naive().to_string(),
        "ratio_percent": ratio, "cap_per_beneficiary": null, "cap_per_charge": cap_per_charge,
        "eligibility": {"memberships": ["member"], "user_tags": [], "without_mature_lab_only": false,
                        "cross_unit_only": true, "category_prefixes": [category]}
    });
    let id = id_of(&app.post("/api/v1/subsidy-programmes", &admin, &body).expect(201));
    app.post(
        &format!("/api/v1/subsidy-programmes/{id}/approve"),
        &app.login("leader"),
        &json!({}),
    )
    .expect(200);
    app.post(&format!("/api/v1/subsidy-programmes/{id}/activate"), &admin, &json!({}))
        .expect(200);
    id
}

/// The researcher's grant under a programme, approved for `amount`.
fn grant(app: &TestApp, programme: i64, amount: &str) -> i64 {
    let body = json!({"programme_id": programme, "requested_amount": amount, "purpose": "流式细胞检测课题"});
    let id = id_of(
        &app.post("/api/v1/subsidy-grants", &app.login("researcher"), &body)
            .expect(201),
    );
    app.post(
        &format!("/api/v1/subsidy-grants/{id}/approve"),
        &app.login("admin"),
        &json!({"amount": amount}),
    )
    .expect(200);
    id
}

fn user_id(app: &TestApp, username: &str) -> i64 {
    app.get("/api/v1/me", &app.login(username)).body["user"]["id"]
        .as_i64()
        .unwrap_or_default()
}

/// Records a walk-in of `user` as `manager1`, `minutes` long, ending `ago` minutes before now.
fn walk_in(app: &TestApp, instrument: i64, user: i64, ago: i64, minutes: i64) -> Resp {
    let end = app.now() - Duration::minutes(ago);
    let start = end - Duration::minutes(minutes);
    app.post(
        "/api/v1/usage-records",
        &app.login("manager1"),
        &json!({"instrument_id": instrument, "user_id": user, "mode": "assisted",
                "started_at": start.to_rfc3339(), "ended_at": end.to_rfc3339(), "note": "临时加测"}),
    )
}

fn charges_where(app: &TestApp, query: &str) -> Vec<Value> {
    items(
        &app.get(&format!("/api/v1/charges?limit=200&{query}"), &app.login("regulator"))
            .expect(200),
    )
}

fn category_prefix(app: &TestApp, instrument: i64) -> String {
    let r = app
        .get(&format!("/api/v1/instruments/{instrument}"), &app.login("admin"))
        .expect(200);
    r.body["category_code"].as_str().unwrap_or_default()[..4].to_owned()
}

both_backends! {
    fn a_completed_booking_is_charged_at_the_member_price_subsidised_and_adjusted(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let standard = hourly_standard(&app, instrument, "assisted", ["200.00", "240.00", "360.00"], "50.00", "80.00", "100.00");
        let prefix = category_prefix(&app, instrument);
        let programme = programme(&app, "100000.00", "50", Some("300.00"), &prefix);
        let grant = grant(&app, programme, "5000.00");

        let researcher = app.login("researcher");
        let id = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 9, 0), &at(&app, 3, 11, 0), "assisted").expect(201));
        app.post(&format!("/api/v1/bookings/{id}/approve"), &app.login("manager1"), &json!({})).expect(200);
        let (check_in, check_out) = (local(&app, 3, 8, 55), local(&app, 3, 11, 0));
        set_clock(&app, check_in);
        app.post(&format!("/api/v1/bookings/{id}/check-in"), &app.login("manager1"), &json!({})).expect(200);
        set_clock(&app, check_out);
        app.post(&format!("/api/v1/bookings/{id}/check-out"), &app.login("manager1"), &json!({})).expect(200);

        let charges = charges_where(&app, &format!("booking_id={id}"));
        assert_eq!(charges.len(), 1, "one charge per completed booking");
        let c = &charges[0];
        assert_eq!((c["kind"].as_str(), c["tier"].as_str()), (Some("usage"), Some("member")));
        assert_eq!(c["fee_standard_id"].as_i64(), Some(standard));
        assert_eq!(c["fee_standard_version"].as_i64(), Some(1));
        let l = &c["lines"];
        assert_eq!((l["quantity"].as_i64(), l["quantity_unit"].as_str()), (Some(120), Some("minute")));
        assert_eq!(fen(&l["unit_price"]), 24_000);
        assert_eq!(fen(&l["usage_amount"]), 48_000);
        assert_eq!(fen(&l["startup_fee"]), 5_000);
        assert_eq!(fen(&l["assisted_surcharge"]), 16_000);
        assert_eq!((fen(&l["minimum_top_up"]), l["minimum_applied"].as_bool()), (0, Some(false)));
        assert_eq!(fen(&l["gross"]), 69_000);
        // 50 % of 690.00 is 345.00, capped at 300.00 per charge.
        assert_eq!(fen(&l["subsidy"]), 30_000);
        assert_eq!(fen(&l["payable"]), 39_000);
        assert_eq!((c["programme_id"].as_i64(), c["grant_id"].as_i64()), (Some(programme), Some(grant)));
        let charge = c["id"].as_i64().unwrap_or_default();

        // Who sees it: the user, both units' admins, the commission's side; not another unit's researcher.
        for (user, status) in [("researcher", 200), ("unit1", 200), ("leader", 200), ("regulator", 200), ("guest", 404), ("manager1", 404)] {
            app.get(&format!("/api/v1/charges/{charge}"), &app.login(user)).expect(status);
        }
        assert_eq!(items(&app.get("/api/v1/charges", &app.login("guest")).expect(200)).len(), 0);
        assert_eq!(items(&app.get("/api/v1/charges", &app.login("researcher")).expect(200)).len(), 1);

        // Charges never change in the database, whatever the path.
        assert!(app.try_execute(&format!("UPDATE charges SET gross_fen = 1 WHERE id = {charge}")).is_err());
        assert!(app.try_execute(&format!("DELETE FROM charges WHERE id = {charge}")).is_err());

        // A correction: only the provider's admin or the platform office, with a reason.
        let path = format!("/api/v1/charges/{charge}/adjust");
        app.post(&path, &app.login("researcher"), &json!({"amount": "-200.00", "reason": "设备故障"})).expect(403);
        let r = app.post(&path, &app.login("unit1"), &json!({"amount": "-200.00", "reason": " "})).expect(422);
        assert_eq!(r.body["errors"][0]["pointer"], "/reason");
        let r = app.post(&path, &app.login("unit1"), &json!({"amount": "-700.00", "reason": "全额冲销"})).expect(422);
        assert_eq!(r.problem_type(), "/problems/charge-adjustment");
        app.post(&path, &app.login("unit1"), &json!({"amount": "-1.005", "reason": "x"})).expect(422);
        let r = app.post(&path, &app.login("unit1"), &json!({"amount": "-200.00", "reason": "仪器故障中断，减免部分机时费"})).expect(201);
        assert_eq!(r.body["kind"], "adjustment");
        assert_eq!(r.body["adjusts_charge_id"].as_i64(), Some(charge));
        // 490.00 × 50 % = 245.00 is now due: 55.00 goes back to the grant and the programme.
        assert_eq!((fen(&r.body["lines"]["gross"]), fen(&r.body["lines"]["subsidy"]), fen(&r.body["lines"]["payable"])), (-20_000, -5_500, -14_500));
        let r = app.get(&format!("/api/v1/charges/{charge}"), &app.login("researcher")).expect(200);
        assert_eq!((fen(&r.body["corrected_gross"]), fen(&r.body["corrected_subsidy"]), fen(&r.body["corrected_payable"])), (49_000, 24_500, 24_500));
        assert_eq!(fen(&r.body["lines"]["gross"]), 69_000, "the original stays as it was");
        let p = app.get(&format!("/api/v1/subsidy-programmes/{programme}"), &app.login("admin")).expect(200);
        assert_eq!(fen(&p.body["spent"]), 24_500);
        let g = app.get(&format!("/api/v1/subsidy-grants/{grant}"), &app.login("researcher")).expect(200);
        assert_eq!(fen(&g.body["used"]), 24_500);
        // A correction upwards is owed by the payer alone: it draws no more subsidy.
        let up = app.post(&path, &app.login("admin"), &json!({"amount": "100.00", "reason": "补记协助操作30分钟"})).expect(201);
        assert_eq!((fen(&up.body["lines"]["gross"]), fen(&up.body["lines"]["subsidy"]), fen(&up.body["lines"]["payable"])), (10_000, 0, 10_000));
        let p = app.get(&format!("/api/v1/subsidy-programmes/{programme}"), &app.login("admin")).expect(200);
        assert_eq!(fen(&p.body["spent"]), 24_500);
        // An adjustment itself is not adjusted.
        let adjustment = r.body["adjustment_ids"][0].as_i64().unwrap_or_default();
        app.post(&format!("/api/v1/charges/{adjustment}/adjust"), &app.login("admin"), &json!({"amount": "1.00", "reason": "x"})).expect(422);
    }

    fn sweeps_of_several_servers_at_once_mark_and_charge_each_no_show_once(app) {
        // Every server behind a load balancer runs the sweep every minute.
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        hourly_standard(&app, instrument, "assisted", ["100.00", "120.00", "150.00"], "10.00", "20.00", "0.00");
        let researcher = app.login("researcher");
        let mut missed = Vec::new();
        for hour in [8, 10, 12, 14] {
            let id = id_of(&book(&app, &researcher, instrument, &at(&app, 3, hour, 0), &at(&app, 3, hour + 1, 0), "assisted").expect(201));
            app.post(&format!("/api/v1/bookings/{id}/approve"), &app.login("manager1"), &json!({})).expect(200);
            missed.push(id);
        }
        set_clock(&app, local(&app, 3, 18, 0));
        let reports: Vec<_> = std::thread::scope(|s| {
            let sweeps: Vec<_> = (0..4).map(|_| s.spawn(|| app.sweep())).collect();
            sweeps.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("sweep panicked"))).collect()
        });
        let mut marked: Vec<i64> = reports.iter().flat_map(|r| r.no_shows.clone()).collect();
        marked.sort_unstable();
        assert_eq!(marked, missed, "each booking marked by exactly one sweep: {reports:?}");
        assert!(reports.iter().all(|r| r.failed.is_empty()), "{reports:?}");
        let charged: Vec<i64> = charges_where(&app, "kind=no_show").iter().filter_map(|c| c["booking_id"].as_i64()).collect();
        assert_eq!(charged.len(), missed.len(), "one charge per no-show: {charged:?}");
        assert!(app.sweep().no_shows.is_empty());
    }

    fn late_cancellations_no_shows_and_walk_ins_cost_the_policy_share(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        let free = bookable_instrument(&app, json!(["assisted"]));
        hourly_standard(&app, instrument, "assisted", ["100.00", "120.00", "150.00"], "10.00", "20.00", "0.00");
        let researcher = app.login("researcher");
        let late = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 10, 0), &at(&app, 3, 11, 0), "assisted").expect(201));
        let missed = id_of(&book(&app, &researcher, instrument, &at(&app, 3, 14, 0), &at(&app, 3, 15, 0), "assisted").expect(201));
        let early = id_of(&book(&app, &researcher, instrument, &at(&app, 5, 14, 0), &at(&app, 5, 15, 0), "assisted").expect(201));
        for id in [late, missed, early] {
            app.post(&format!("/api/v1/bookings/{id}/approve"), &app.login("manager1"), &json!({})).expect(200);
        }
        let (morning, after_cut_off, evening) = (local(&app, 3, 0, 0), local(&app, 3, 15, 31), local(&app, 3, 17, 0));
        set_clock(&app, morning);
        // Cancelled 10 h before the start: 100 % of the booked fee, 120 + 10 + 20 = 150.00.
        app.post(&format!("/api/v1/bookings/{late}/cancel"), &app.login("researcher"), &json!({})).expect(200);
        // Cancelled days ahead: free.
        app.post(&format!("/api/v1/bookings/{early}/cancel"), &app.login("researcher"), &json!({})).expect(200);
        set_clock(&app, after_cut_off);
        assert_eq!(app.sweep().no_shows, vec![missed]);
        set_clock(&app, evening);
        let researcher_id = user_id(&app, "researcher");
        // 50 minutes without a booking bill 60 at 200 %.
        let w = id_of(&walk_in(&app, instrument, researcher_id, 10, 50).expect(201));
        // No approved standard on this instrument: the use is recorded and free.
        let unpriced = id_of(&walk_in(&app, free, researcher_id, 10, 50).expect(201));

        let by_kind = |kind: &str| charges_where(&app, &format!("kind={kind}"));
        let c = by_kind("late_cancellation");
        assert_eq!(c.len(), 1);
        assert_eq!((c[0]["booking_id"].as_i64(), fen(&c[0]["lines"]["gross"]), c[0]["lines"]["fee_percent"].as_i64()), (Some(late), 15_000, Some(100)));
        let c = by_kind("no_show");
        assert_eq!(c.len(), 1);
        assert_eq!((c[0]["booking_id"].as_i64(), fen(&c[0]["lines"]["gross"]), c[0]["lines"]["fee_percent"].as_i64()), (Some(missed), 22_500, Some(150)));
        assert_eq!(c[0]["created_by"], Value::Null, "the platform marked the no-show");
        let c = by_kind("walk_in");
        assert_eq!(c.len(), 1);
        assert_eq!((c[0]["usage_record_id"].as_i64(), c[0]["lines"]["quantity"].as_i64(), fen(&c[0]["lines"]["gross"])), (Some(w), Some(60), 30_000));
        assert_eq!(charges_where(&app, &format!("booking_id={early}")).len(), 0);
        assert!(charges_where(&app, "").iter().all(|c| c["usage_record_id"].as_i64() != Some(unpriced)));
        assert_eq!(app.count("charges"), 3);
    }

    fn thirty_two_concurrent_charges_never_overspend_a_nearly_exhausted_programme(app) {
        app.seed_demo();
        let instruments: Vec<i64> = (0..4).map(|_| bookable_instrument(&app, json!(["assisted"]))).collect();
        for i in &instruments {
            hourly_standard(&app, *i, "assisted", ["100.00", "100.00", "100.00"], "0.00", "0.00", "0.00");
        }
        let prefix = category_prefix(&app, instruments[0]);
        let programme = programme(&app, "245.00", "50", None, &prefix);
        let grant = grant(&app, programme, "10000.00");
        app.advance(Duration::days(1));
        let researcher = user_id(&app, "researcher");
        let manager = app.login("manager1");
        // 30 minutes at 200 % = 100.00, half of it subsidised: the first takes 50.00 of 245.00.
        walk_in(&app, instruments[0], researcher, 1000, 30).expect(201);
        let windows: Vec<(i64, DateTime<Utc>)> = (0..32i64)
            .map(|k| (instruments[usize::try_from(k % 4).unwrap_or(0)], app.now() - Duration::minutes(40 * (k / 4) + 31)))
            .collect();
        let barrier = std::sync::Barrier::new(windows.len());
        let results: Vec<Resp> = std::thread::scope(|s| {
            let handles: Vec<_> = windows
                .iter()
                .map(|(instrument, end)| {
                    let (app, manager, barrier) = (&app, &manager, &barrier);
                    s.spawn(move || {
                        let body = json!({"instrument_id": instrument, "user_id": researcher, "mode": "assisted",
                            "started_at": (*end - Duration::minutes(30)).to_rfc3339(), "ended_at": end.to_rfc3339()});
                        barrier.wait();
                        app.post("/api/v1/usage-records", manager, &body)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("thread"))).collect()
        });
        for r in &results {
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let charges = charges_where(&app, "kind=walk_in");
        assert_eq!(charges.len(), 33);
        let subsidies: Vec<i64> = charges.iter().map(|c| fen(&c["lines"]["subsidy"])).collect();
        for c in &charges {
            assert_eq!(fen(&c["lines"]["gross"]), 10_000);
            assert_eq!(fen(&c["lines"]["payable"]), 10_000 - fen(&c["lines"]["subsidy"]));
        }
        // 50 + 50 + 50 + 50 + 45: the budget is spent exactly, never beyond.
        assert_eq!(subsidies.iter().sum::<i64>(), 24_500);
        assert_eq!(subsidies.iter().filter(|s| **s == 5_000).count(), 4);
        assert_eq!(subsidies.iter().filter(|s| **s == 4_500).count(), 1);
        let p = app.get(&format!("/api/v1/subsidy-programmes/{programme}"), &app.login("admin")).expect(200);
        assert_eq!((fen(&p.body["spent"]), fen(&p.body["budget"])), (24_500, 24_500));
        let g = app.get(&format!("/api/v1/subsidy-grants/{grant}"), &app.login("admin")).expect(200);
        assert_eq!(fen(&g.body["used"]), 24_500);
        // The ledger, read straight from the database, sums exactly.
        let stored = app.strings(&format!("SELECT CAST(spent_fen AS TEXT) AS s FROM subsidy_programmes WHERE id = {programme}"));
        let ledger = app.strings(&format!("SELECT CAST(SUM(subsidy_fen) AS TEXT) AS s FROM charges WHERE programme_id = {programme}"));
        assert_eq!((stored, ledger), (vec!["24500".to_owned()], vec!["24500".to_owned()]));
    }

    fn monthly_statements_reconcile_with_charges_to_the_fen_and_never_change_once_issued(app) {
        app.seed_demo();
        let instrument = bookable_instrument(&app, json!(["assisted"]));
        hourly_standard(&app, instrument, "assisted", ["100.00", "133.33", "166.67"], "12.34", "0.00", "0.00");
        let prefix = category_prefix(&app, instrument);
        let programme = programme(&app, "100000.00", "33.33", None, &prefix);
        grant(&app, programme, "5000.00");
        // Charges at the start of a month, so that the month is still running.
        let offset = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| panic!("offset"));
        let now_local = app.now().with_timezone(&offset);
        let (y, m) = if now_local.month() == 12 { (now_local.year() + 1, 1) } else { (now_local.year(), now_local.month() + 1) };
        let first = NaiveDate::from_ymd_opt(y, m, 2).unwrap_or_default();
        let month = format!("{y:04}-{m:02}");
        set_clock(&app, offset.from_local_datetime(&first.and_hms_opt(12, 0, 0).unwrap_or_default()).single().unwrap_or_else(|| panic!("time")));
        let (researcher, guest) = (user_id(&app, "researcher"), user_id(&app, "guest"));
        for (user, ago, minutes) in [(researcher, 10, 50), (researcher, 90, 20), (guest, 150, 45), (guest, 240, 70)] {
            walk_in(&app, instrument, user, ago, minutes).expect(201);
        }
        let all = charges_where(&app, "");
        assert_eq!(all.len(), 4);

        // Not before the month has ended.
        let admin = app.login("admin");
        let r = app.post("/api/v1/statements/generate", &admin, &json!({"month": month})).expect(409);
        assert_eq!(r.problem_type(), "/problems/statement-month-open");
        app.post("/api/v1/statements/generate", &admin, &json!({"month": "2026-13"})).expect(422);
        app.post("/api/v1/statements/generate", &app.login("unit1"), &json!({"month": month})).expect(403);
        app.advance(Duration::days(31));
        let admin = app.login("admin");
        let r = app.post("/api/v1/statements/generate", &admin, &json!({"month": month})).expect(200);
        assert_eq!(r.body["charges_settled"].as_u64(), Some(4 + 2), "four settled, two moved subsidy");
        let statements = r.body["statements"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements.len(), 3, "two payers with one provider, and one programme: {}", r.text);

        // Every statement is the sum of its own charges, and the charges are all settled once.
        let mut settled_gross = 0;
        for s in &statements {
            let id = s["id"].as_i64().unwrap_or_default();
            let own = charges_where(&app, &format!("statement_id={id}"));
            assert_eq!(s["charge_count"].as_u64(), Some(own.len() as u64));
            let sum = |line: &str| own.iter().map(|c| fen(&c["lines"][line])).sum::<i64>();
            assert_eq!(fen(&s["gross"]), sum("gross"));
            assert_eq!(fen(&s["subsidy"]), sum("subsidy"));
            if s["kind"] == "settlement" {
                assert_eq!(fen(&s["net"]), sum("payable"));
                assert_eq!(fen(&s["net"]), fen(&s["gross"]) - fen(&s["subsidy"]));
                settled_gross += fen(&s["gross"]);
            } else {
                assert_eq!(s["programme_id"].as_i64(), Some(programme));
                assert_eq!(fen(&s["net"]), sum("subsidy"));
                assert!(fen(&s["net"]) > 0);
            }
        }
        assert_eq!(settled_gross, all.iter().map(|c| fen(&c["lines"]["gross"])).sum::<i64>());
        // Running it again settles nothing twice.
        let r = app.post("/api/v1/statements/generate", &admin, &json!({"month": month})).expect(200);
        assert_eq!(r.body["charges_settled"].as_u64(), Some(0));

        let researcher_unit = app.institution_id(&admin, "南宁市第二人民医院");
        let s = statements.iter().find(|s| s["payer_institution_id"].as_i64() == Some(researcher_unit)).cloned().unwrap_or_default();
        let sid = s["id"].as_i64().unwrap_or_default();
        // The payer's admin sees nothing of the provider's drafts.
        let body = json!({"institution_id": researcher_unit, "username": "unit2", "password": "another long passphrase",
                          "display_name": "二院 设备科", "roles": ["unit_admin"]});
        app.post("/api/v1/users", &admin, &body).expect(201);
        let payer = app.login_with("unit2", "another long passphrase");
        assert_eq!(items(&app.get("/api/v1/statements", &payer).expect(200)).len(), 0);
        app.get(&format!("/api/v1/statements/{sid}"), &payer).expect(404);
        // The provider issues; the payer disputes; the provider resolves and confirms payment.
        app.post(&format!("/api/v1/statements/{sid}/issue"), &app.login("researcher"), &json!({})).expect(404);
        let issued = app.post(&format!("/api/v1/statements/{sid}/issue"), &app.login("unit1"), &json!({})).expect(200);
        assert_eq!(issued.body["status"], "issued");
        app.post(&format!("/api/v1/statements/{sid}/issue"), &app.login("unit1"), &json!({})).expect(409);
        app.post(&format!("/api/v1/statements/{sid}/dispute"), &app.login("unit1"), &json!({"reason": "x"})).expect(403);
        assert_eq!(items(&app.get("/api/v1/statements", &payer).expect(200)).len(), 1);
        app.post(&format!("/api/v1/statements/{sid}/pay"), &payer, &json!({})).expect(403);
        app.post(&format!("/api/v1/statements/{sid}/dispute"), &payer, &json!({"reason": " "})).expect(422);
        let r = app.post(&format!("/api/v1/statements/{sid}/dispute"), &payer, &json!({"reason": "第二笔机时与记录不符"})).expect(200);
        assert_eq!(r.body["status"], "disputed");
        assert!(app.try_execute(&format!("UPDATE statements SET gross_fen = gross_fen + 1 WHERE id = {sid}")).is_err());

        // The correction is a new charge: it falls on the next month's statement, the issued one stays.
        let disputed = charges_where(&app, &format!("statement_id={sid}"))[1]["id"].as_i64().unwrap_or_default();
        app.post(&format!("/api/v1/charges/{disputed}/adjust"), &app.login("unit1"), &json!({"amount": "-10.00", "reason": "按实际机时核减"})).expect(201);
        let r = app.post("/api/v1/statements/generate", &admin, &json!({"month": month})).expect(200);
        assert_eq!(r.body["charges_settled"].as_u64(), Some(0), "{}", r.text);
        let again = app.get(&format!("/api/v1/statements/{sid}"), &admin).expect(200);
        assert_eq!((again.body["gross"].clone(), again.body["charge_count"].clone()), (s["gross"].clone(), s["charge_count"].clone()));
        app.post(&format!("/api/v1/statements/{sid}/resolve"), &app.login("unit1"), &json!({"note": "已开调整单，计入下月"})).expect(200);
        let paid = app.post(&format!("/api/v1/statements/{sid}/pay"), &app.login("unit1"), &json!({})).expect(200);
        assert_eq!(paid.body["status"], "paid");

        // Exports: UTF-8 with BOM, Chinese headers, one line per statement or charge.
        let csv = app.get(&format!("/api/v1/statements/export?month={month}"), &app.login("regulator")).expect(200);
        assert!(csv.header("content-type").unwrap_or_default().starts_with("text/csv"));
        assert!(csv.text.starts_with("\u{feff}编号,类型,月份"), "{}", csv.text);
        assert_eq!(csv.text.matches("\r\n").count(), 1 + 3);
        let mine = app.get("/api/v1/statements/export?format=json", &app.login("unit1")).expect(200);
        assert_eq!(mine.body.as_array().map(Vec::len), Some(3), "unit1 provides all three");
        app.get("/api/v1/statements", &app.login("researcher")).expect(403);
        let csv = app.get(&format!("/api/v1/charges/export?statement_id={sid}"), &app.login("unit1")).expect(200);
        assert!(csv.text.starts_with("\u{feff}编号,类型,使用人编号"));
        assert_eq!(csv.text.matches("\r\n").count(), 1 + 2);
        let own = app.get("/api/v1/charges/export?format=json", &app.login("guest")).expect(200);
        assert_eq!(own.body.as_array().map(Vec::len), Some(2), "the guest's own two charges");
    }

    fn a_completed_service_order_is_charged_per_sample_with_the_minimum(app) {
        app.seed_demo();
        let unit = app.login("unit1");
        let lcms = app.get("/api/v1/instruments?q=LC-MS&limit=5", &unit).expect(200).body["items"][0]["id"].as_i64().unwrap_or_default();
        let item = id_of(&app.post("/api/v1/service-items", &unit, &json!({
            "name": "血清25-羟基维生素D检测", "instrument_ids": [lcms], "unit": "sample", "turnaround_days": 3,
            "sample_requirements": "血清 ≥ 0.5 mL", "required_biosafety": "BSL2"})).expect(201));
        let body = json!({"service_item_id": item, "unit": "sample",
            "prices": {"internal": "70.00", "member": "85.50", "external": "120.00"},
            "minimum_charge": "300.00", "effective_from": today(&app), "note": "按样本收费"});
        let standard = id_of(&app.post("/api/v1/fee-standards", &unit, &body).expect(201));
        app.post(&format!("/api/v1/fee-standards/{standard}/approve"), &app.login("admin"), &json!({})).expect(200);
        let sample = |code: &str| json!({"code": code, "sample_type": "serum", "risk_level": "BSL2", "human": true, "ethics_approval": "NNYY-IRB-2026-031"});
        let order = id_of(&app.post("/api/v1/service-orders", &app.login("researcher"),
            &json!({"service_item_id": item, "samples": [sample("S-1"), sample("S-2"), sample("S-3")], "notes": ""})).expect(201));
        let path = format!("/api/v1/service-orders/{order}");
        let manager = app.login("manager1");
        app.post(&format!("{path}/accept"), &manager, &json!({})).expect(200);
        app.post(&format!("{path}/receive-samples"), &manager, &json!({})).expect(200);
        assert_eq!(app.count("charges"), 0, "nothing is due before the report");
        let r = app.post(&format!("{path}/complete"), &manager, &json!({"report_reference": "R-2026-77", "sample_count": 4, "instrument_minutes": 50})).expect(422);
        assert_eq!((r.body["errors"][0]["pointer"].as_str(), r.body["errors"][0]["rule"].as_str()), (Some("/sample_count"), Some("samples_submitted")));
        app.post(&format!("{path}/complete"), &manager, &json!({"report_reference": "R-2026-77", "sample_count": 3, "instrument_minutes": 50})).expect(200);
        let c = charges_where(&app, &format!("service_order_id={order}"));
        assert_eq!(c.len(), 1);
        let l = &c[0]["lines"];
        assert_eq!((c[0]["kind"].as_str(), c[0]["service_item_id"].as_i64(), c[0]["tier"].as_str()), (Some("service_order"), Some(item), Some("member")));
        assert_eq!((l["quantity"].as_i64(), l["quantity_unit"].as_str()), (Some(3), Some("sample")));
        // 3 × 85.50 = 256.50, topped up to the minimum of 300.00.
        assert_eq!((fen(&l["usage_amount"]), fen(&l["minimum_top_up"]), l["minimum_applied"].as_bool()), (25_650, 4_350, Some(true)));
        assert_eq!((fen(&l["gross"]), fen(&l["subsidy"]), fen(&l["payable"])), (30_000, 0, 30_000));
        assert_eq!(c[0]["fee_standard_id"].as_i64(), Some(standard));
    }

    fn the_demo_prices_every_listed_time_mode_and_offers_a_programme(app) {
        app.seed_full_demo();
        let researcher = app.login("researcher");
        let r = app.get("/api/v1/fee-standards?status=approved&limit=200", &researcher).expect(200);
        let standards = items(&r);
        assert!(!standards.is_empty());
        for s in &standards {
            assert_ne!(s["mode"], "sample");
            // Priced by the cost model: external 1.5 × internal, to the fen.
            let (internal, external) = (fen(&s["prices"]["internal"]), fen(&s["prices"]["external"]));
            assert_eq!(external, (internal * 3 + 1) / 2, "{s}");
        }
        let p = app.get("/api/v1/subsidy-programmes?status=active", &researcher).expect(200);
        assert_eq!(items(&p).len(), 1, "{}", p.text);
        // A demo booking is charged by the seeded standard once it completes.
        let flow = standards.iter().find(|s| s["mode"] == "assisted").cloned().unwrap_or_default();
        let instrument = flow["instrument_id"].as_i64().unwrap_or_default();
        // A day later, so that the use falls on or after the standards' effective date.
        app.advance(Duration::days(1));
        let walk = walk_in(&app, instrument, user_id(&app, "researcher"), 5, 60);
        walk.expect(201);
        let c = charges_where(&app, &format!("instrument_id={instrument}"));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["fee_standard_id"], flow["id"]);
    }
}
