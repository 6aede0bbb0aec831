//! The tables, shared by both backends.

diesel::table! {
    institutions (id) {
        id -> BigInt,
        name -> Text,
        credit_code -> Text,
        kind -> Text,
        membership -> Text,
        has_mature_lab -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        institution_id -> BigInt,
        username -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        kind -> Text,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    labs (id) {
        id -> BigInt,
        institution_id -> BigInt,
        name -> Text,
        address -> Text,
        biosafety_level -> Text,
        accreditation -> Text,
        contact_name -> Text,
        contact_phone -> Text,
        contact_email -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    instruments (id) {
        id -> BigInt,
        lab_id -> BigInt,
        institution_id -> BigInt,
        name_zh -> Text,
        name_en -> Nullable<Text>,
        category_code -> Text,
        model -> Text,
        manufacturer -> Text,
        country_of_origin -> Text,
        asset_number -> Text,
        original_value_fen -> BigInt,
        purchase_date -> Date,
        commissioning_date -> Nullable<Date>,
        technical_specs -> Text,
        functions -> Text,
        service_content -> Text,
        disciplines -> Text,
        photo_url -> Nullable<Text>,
        contact_name -> Text,
        contact_phone -> Text,
        contact_email -> Nullable<Text>,
        status -> Text,
        sharing_scope -> Text,
        mode_self_operated -> Bool,
        mode_assisted -> Bool,
        mode_sample -> Bool,
        mode_remote -> Bool,
        rated_annual_hours -> Integer,
        listing_status -> Text,
        listing_note -> Nullable<Text>,
        listing_submitted_at -> Nullable<Timestamp>,
        listing_decided_at -> Nullable<Timestamp>,
        listing_decided_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    instrument_managers (instrument_id, user_id) {
        instrument_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> BigInt,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<BigInt>,
        action -> Text,
        object_type -> Text,
        object_id -> BigInt,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain_head (singleton) {
        singleton -> Integer,
        last_id -> Nullable<BigInt>,
        last_hash -> Text,
    }
}

diesel::table! {
    booking_rules (instrument_id) {
        instrument_id -> BigInt,
        slot_minutes -> Integer,
        min_minutes -> Integer,
        max_minutes -> Integer,
        lead_minutes -> Nullable<Integer>,
        horizon_days -> Integer,
        auto_approve -> Bool,
    }
}

diesel::table! {
    opening_hours (id) {
        id -> BigInt,
        instrument_id -> BigInt,
        weekday -> Integer,
        opens_minute -> Integer,
        closes_minute -> Integer,
    }
}

diesel::table! {
    blackouts (id) {
        id -> BigInt,
        instrument_id -> BigInt,
        kind -> Text,
        reason -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        created_by -> BigInt,
        created_at -> Timestamp,
        cancelled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    qualifications (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        instrument_id -> Nullable<BigInt>,
        biosafety_level -> Nullable<Text>,
        certified_by -> BigInt,
        certified_at -> Timestamp,
        expires_on -> Date,
        note -> Text,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    bookings (id) {
        id -> BigInt,
        instrument_id -> BigInt,
        user_id -> BigInt,
        institution_id -> BigInt,
        mode -> Text,
        purpose -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        status -> Text,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        reason -> Nullable<Text>,
        late_cancellation -> Bool,
        checked_in_at -> Nullable<Timestamp>,
        checked_out_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    usage_records (id) {
        id -> BigInt,
        instrument_id -> BigInt,
        booking_id -> Nullable<BigInt>,
        user_id -> BigInt,
        institution_id -> BigInt,
        operator_id -> BigInt,
        mode -> Text,
        started_at -> Timestamp,
        ended_at -> Timestamp,
        effective_minutes -> Integer,
        billed_minutes -> Integer,
        walk_in -> Bool,
        note -> Text,
        recorded_by -> BigInt,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    service_items (id) {
        id -> BigInt,
        institution_id -> BigInt,
        primary_instrument_id -> BigInt,
        name -> Text,
        unit -> Text,
        turnaround_days -> Integer,
        sample_requirements -> Text,
        required_biosafety -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    service_item_instruments (service_item_id, instrument_id) {
        service_item_id -> BigInt,
        instrument_id -> BigInt,
        position -> Integer,
    }
}

diesel::table! {
    service_orders (id) {
        id -> BigInt,
        service_item_id -> BigInt,
        user_id -> BigInt,
        institution_id -> BigInt,
        provider_institution_id -> BigInt,
        status -> Text,
        notes -> Text,
        reason -> Nullable<Text>,
        report_reference -> Nullable<Text>,
        sample_count -> Nullable<Integer>,
        instrument_minutes -> Nullable<Integer>,
        decided_by -> Nullable<BigInt>,
        accepted_at -> Nullable<Timestamp>,
        received_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ratings (id) {
        id -> BigInt,
        kind -> Text,
        booking_id -> Nullable<BigInt>,
        order_id -> Nullable<BigInt>,
        user_id -> BigInt,
        instrument_id -> BigInt,
        score -> Integer,
        comment -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    samples (id) {
        id -> BigInt,
        order_id -> BigInt,
        code -> Text,
        sample_type -> Text,
        risk_level -> Text,
        human -> Bool,
        ethics_approval -> Nullable<Text>,
    }
}

diesel::table! {
    calendar_tokens (user_id) {
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_tags (user_id, tag) {
        user_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    fee_standards (id) {
        id -> BigInt,
        institution_id -> BigInt,
        subject -> Text,
        instrument_id -> Nullable<BigInt>,
        mode -> Nullable<Text>,
        service_item_id -> Nullable<BigInt>,
        version -> Integer,
        unit -> Text,
        price_internal_fen -> BigInt,
        price_member_fen -> BigInt,
        price_external_fen -> BigInt,
        startup_fee_fen -> BigInt,
        assisted_surcharge_fen -> BigInt,
        minimum_charge_fen -> BigInt,
        effective_from -> Date,
        status -> Text,
        note -> Text,
        reason -> Nullable<Text>,
        proposed_by -> BigInt,
        proposed_at -> Timestamp,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subsidy_programmes (id) {
        id -> BigInt,
        name -> Text,
        funder -> Text,
        budget_fen -> BigInt,
        spent_fen -> BigInt,
        valid_from -> Date,
        valid_until -> Date,
        ratio_bp -> Integer,
        cap_per_beneficiary_fen -> Nullable<BigInt>,
        cap_per_charge_fen -> Nullable<BigInt>,
        memberships -> Text,
        user_tags -> Text,
        without_mature_lab_only -> Bool,
        cross_unit_only -> Bool,
        category_prefixes -> Text,
        status -> Text,
        created_by -> BigInt,
        approved_by -> Nullable<BigInt>,
        approved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subsidy_grants (id) {
        id -> BigInt,
        programme_id -> BigInt,
        user_id -> BigInt,
        institution_id -> BigInt,
        requested_fen -> BigInt,
        purpose -> Text,
        status -> Text,
        amount_fen -> Nullable<BigInt>,
        used_fen -> BigInt,
        reason -> Nullable<Text>,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    charges (id) {
        id -> BigInt,
        kind -> Text,
        user_id -> BigInt,
        payer_institution_id -> BigInt,
        provider_institution_id -> BigInt,
        instrument_id -> Nullable<BigInt>,
        service_item_id -> Nullable<BigInt>,
        booking_id -> Nullable<BigInt>,
        usage_record_id -> Nullable<BigInt>,
        service_order_id -> Nullable<BigInt>,
        adjusts_charge_id -> Nullable<BigInt>,
        fee_standard_id -> Nullable<BigInt>,
        fee_standard_version -> Nullable<Integer>,
        tier -> Text,
        mode -> Nullable<Text>,
        unit -> Text,
        quantity -> BigInt,
        unit_price_fen -> BigInt,
        usage_fen -> BigInt,
        startup_fee_fen -> BigInt,
        assisted_surcharge_fen -> BigInt,
        minimum_top_up_fen -> BigInt,
        fee_percent -> Integer,
        gross_fen -> BigInt,
        subsidy_fen -> BigInt,
        payable_fen -> BigInt,
        programme_id -> Nullable<BigInt>,
        grant_id -> Nullable<BigInt>,
        reason -> Text,
        used_at -> Timestamp,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    statements (id) {
        id -> BigInt,
        kind -> Text,
        month -> Text,
        payer_institution_id -> Nullable<BigInt>,
        programme_id -> Nullable<BigInt>,
        counterparty_id -> BigInt,
        provider_institution_id -> BigInt,
        status -> Text,
        charge_count -> Integer,
        gross_fen -> BigInt,
        subsidy_fen -> BigInt,
        net_fen -> BigInt,
        issued_by -> Nullable<BigInt>,
        issued_at -> Nullable<Timestamp>,
        paid_at -> Nullable<Timestamp>,
        dispute_reason -> Nullable<Text>,
        resolution_note -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    statement_charges (statement_id, charge_id) {
        statement_id -> BigInt,
        charge_id -> BigInt,
        kind -> Text,
    }
}

diesel::table! {
    platform_policy (id) {
        id -> Integer,
        body -> Text,
        updated_by -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    assessments (id) {
        id -> BigInt,
        name -> Text,
        period_from -> Date,
        period_to -> Date,
        status -> Text,
        policy_json -> Text,
        reward_pool_fen -> BigInt,
        created_by -> BigInt,
        created_at -> Timestamp,
        computed_at -> Timestamp,
        published_by -> Nullable<BigInt>,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    assessment_instruments (assessment_id, instrument_id) {
        assessment_id -> BigInt,
        instrument_id -> BigInt,
        institution_id -> BigInt,
        original_value_fen -> BigInt,
        total -> Text,
        grade -> Text,
        idle -> Bool,
        low_sharing -> Bool,
        result_json -> Text,
    }
}

diesel::table! {
    assessment_units (assessment_id, institution_id) {
        assessment_id -> BigInt,
        institution_id -> BigInt,
        management_points -> Nullable<Text>,
        management_note -> Nullable<Text>,
        entered_by -> Nullable<BigInt>,
        entered_at -> Nullable<Timestamp>,
        score -> Nullable<Text>,
        grade -> Nullable<Text>,
        reward_fen -> BigInt,
        rectification_required -> Bool,
        result_json -> Text,
    }
}

diesel::table! {
    purchase_reviews (id) {
        id -> BigInt,
        institution_id -> BigInt,
        category_code -> Text,
        instrument_name -> Text,
        specs -> Text,
        price_fen -> BigInt,
        quantity -> Integer,
        reason -> Text,
        usage_from -> Timestamp,
        usage_to -> Timestamp,
        share_instead_below_hours -> Integer,
        recommendation -> Text,
        status -> Text,
        filed_by -> BigInt,
        filed_at -> Timestamp,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        decision_reason -> Nullable<Text>,
        withdrawn_by -> Nullable<BigInt>,
        withdrawn_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    purchase_review_instruments (review_id, instrument_id) {
        review_id -> BigInt,
        instrument_id -> BigInt,
        institution_id -> BigInt,
        institution_name -> Text,
        instrument_name -> Text,
        original_value_fen -> BigInt,
        status -> Text,
        sharing_scope -> Text,
        listing_status -> Text,
        effective_minutes -> BigInt,
        candidate -> Bool,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> BigInt,
        username -> Text,
        address -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    service_accounts (id) {
        id -> BigInt,
        institution_id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        description -> Text,
        scopes -> Text,
        client_id -> Text,
        secret_hash -> Text,
        secret_generation -> BigInt,
        secret_set_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        institution_id -> Nullable<BigInt>,
        url -> Text,
        event_types -> Text,
        secret -> Text,
        active -> Bool,
        description -> Text,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> BigInt,
        event_type -> Text,
        object_type -> Text,
        object_id -> BigInt,
        occurred_at -> Timestamp,
        payload_json -> Text,
        institution_ids -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        event_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        attempted_at -> Timestamp,
        duration_ms -> BigInt,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        response_excerpt -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_deliveries -> outbox_events (event_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::table! {
    idempotency_keys (id) {
        id -> BigInt,
        principal -> Text,
        idempotency_key -> Text,
        method -> Text,
        path -> Text,
        body_hash -> Text,
        state -> Text,
        status -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        headers -> Nullable<Text>,
        body -> Nullable<Text>,
        body_encoding -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(users -> institutions (institution_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(labs -> institutions (institution_id));
diesel::joinable!(instruments -> labs (lab_id));
diesel::joinable!(instrument_managers -> instruments (instrument_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(booking_rules -> instruments (instrument_id));
diesel::joinable!(opening_hours -> instruments (instrument_id));
diesel::joinable!(blackouts -> instruments (instrument_id));
diesel::joinable!(bookings -> instruments (instrument_id));
diesel::joinable!(statement_charges -> charges (charge_id));
diesel::joinable!(statement_charges -> statements (statement_id));

diesel::allow_tables_to_appear_in_same_query!(
    institutions,
    users,
    user_roles,
    labs,
    instruments,
    instrument_managers,
    sessions,
    refresh_tokens,
    audit_events,
    audit_chain_head,
    booking_rules,
    opening_hours,
    blackouts,
    qualifications,
    bookings,
    usage_records,
    service_items,
    service_item_instruments,
    service_orders,
    samples,
    ratings,
    calendar_tokens,
    user_tags,
    fee_standards,
    subsidy_programmes,
    subsidy_grants,
    charges,
    statements,
    statement_charges,
    platform_policy,
    assessments,
    assessment_instruments,
    assessment_units,
    purchase_reviews,
    purchase_review_instruments,
    sign_in_failures,
    service_accounts,
    webhooks,
    outbox_events,
    webhook_deliveries,
    webhook_attempts,
    idempotency_keys,
);
