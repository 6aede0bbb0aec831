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
);
