//! Diesel's view of the tables in `migrations/`: one schema for both backends.

diesel::table! {
    realms (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        realm_id -> Text,
        alias -> Text,
        name -> Text,
        description -> Text,
        enabled -> Bool,
        redirect_url -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    organization_domains (organization_id, name) {
        organization_id -> Text,
        realm_id -> Text,
        name -> Text,
        verified -> Bool,
    }
}

diesel::table! {
    organization_attributes (organization_id, name, value) {
        organization_id -> Text,
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        realm_id -> Text,
        organization_id -> Text,
        directory_id -> Nullable<Text>,
        username -> Text,
        username_lower -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        display_name -> Nullable<Text>,
        display_name_lower -> Nullable<Text>,
        external_id -> Nullable<Text>,
        enabled -> Bool,
        scim_json -> Nullable<Text>,
        deprovisioned_at -> Nullable<BigInt>,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    user_emails (user_id, value_lower) {
        user_id -> Text,
        organization_id -> Text,
        value_lower -> Text,
    }
}

diesel::table! {
    user_attributes (user_id, name, value) {
        user_id -> Text,
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        realm_id -> Text,
        organization_id -> Text,
        directory_id -> Nullable<Text>,
        parent_id -> Text,
        name -> Text,
        name_lower -> Text,
        path -> Text,
        external_id -> Nullable<Text>,
        scim_json -> Nullable<Text>,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
        display -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    memberships (organization_id, user_id) {
        organization_id -> Text,
        user_id -> Text,
        source -> Text,
        source_ref -> Nullable<Text>,
        managed -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    directories (id) {
        id -> Text,
        realm_id -> Text,
        organization_id -> Text,
        name -> Text,
        deprovisioning -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    directory_tokens (id) {
        id -> Text,
        directory_id -> Text,
        token_hash -> Text,
        label -> Text,
        source -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> BigInt,
        realm_id -> Text,
        actor_type -> Text,
        actor_id -> Nullable<Text>,
        actor_name -> Nullable<Text>,
        operation -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        outcome -> Text,
        status -> Integer,
        detail -> Nullable<Text>,
    }
}

diesel::joinable!(organizations -> realms (realm_id));
diesel::joinable!(directories -> organizations (organization_id));
diesel::joinable!(directories -> realms (realm_id));
diesel::joinable!(directory_tokens -> directories (directory_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> organizations (organization_id));

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        realm_id -> Text,
        algorithm -> Text,
        private_pem -> Text,
        public_jwk -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        realm_id -> Text,
        client_id -> Text,
        name -> Text,
        enabled -> Bool,
        confidential -> Bool,
        secret_hash -> Nullable<Text>,
        settings -> Text,
        service_account_user_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    client_scopes (id) {
        id -> Text,
        realm_id -> Text,
        name -> Text,
        description -> Text,
        mappers -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        realm_id -> Text,
        client_id -> Text,
        name -> Text,
        description -> Text,
    }
}

diesel::table! {
    role_composites (role_id, child_id) {
        role_id -> Text,
        child_id -> Text,
    }
}

diesel::table! {
    user_roles (user_id, role_id) {
        user_id -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    group_roles (group_id, role_id) {
        group_id -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    group_role_rules (id) {
        id -> Text,
        realm_id -> Text,
        organization_id -> Text,
        match_kind -> Text,
        match_value -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    client_scope_roles (client_pk, role_id) {
        client_pk -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    user_credentials (user_id) {
        user_id -> Text,
        password_hash -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        realm_id -> Text,
        user_id -> Text,
        organization_id -> Nullable<Text>,
        cookie_hash -> Text,
        auth_time -> BigInt,
        notes -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    auth_requests (id) {
        id -> Text,
        realm_id -> Text,
        client_pk -> Text,
        params -> Text,
        csrf_token -> Text,
        organization_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        browser_hash -> Text,
    }
}

diesel::table! {
    auth_codes (code_hash) {
        code_hash -> Text,
        realm_id -> Text,
        client_pk -> Text,
        session_id -> Text,
        user_id -> Text,
        params -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        token_hash -> Text,
        family_id -> Text,
        realm_id -> Text,
        client_pk -> Text,
        user_id -> Text,
        session_id -> Nullable<Text>,
        code_hash -> Nullable<Text>,
        scope -> Text,
        organization_id -> Nullable<Text>,
        offline -> Bool,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_failures (key) {
        key -> Text,
        failures -> Integer,
        last_failure_at -> BigInt,
        locked_until -> BigInt,
    }
}

diesel::joinable!(role_composites -> roles (child_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(group_roles -> roles (role_id));
diesel::joinable!(group_role_rules -> roles (role_id));
diesel::joinable!(client_scope_roles -> roles (role_id));

diesel::allow_tables_to_appear_in_same_query!(
    realms,
    organizations,
    organization_domains,
    organization_attributes,
    users,
    user_emails,
    user_attributes,
    groups,
    group_members,
    memberships,
    directories,
    directory_tokens,
    audit_events,
    signing_keys,
    clients,
    client_scopes,
    roles,
    role_composites,
    user_roles,
    group_roles,
    group_role_rules,
    client_scope_roles,
    user_credentials,
    sessions,
    auth_requests,
    auth_codes,
    refresh_tokens,
    revoked_tokens,
    login_failures,
);

diesel::table! {
    declaration_fingerprints (name) {
        name -> Text,
        fingerprint -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    federated_identities (user_id, identity_provider) {
        user_id -> Text,
        realm_id -> Text,
        identity_provider -> Text,
        subject -> Text,
        username -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    broker_requests (state_hash) {
        state_hash -> Text,
        realm_id -> Text,
        auth_request_id -> Text,
        identity_provider -> Text,
        browser_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    saml_logout_requests (request_hash) {
        request_hash -> Text,
        realm_id -> Text,
        identity_provider -> Text,
        return_to -> Nullable<Text>,
        expires_at -> BigInt,
    }
}

diesel::table! {
    broker_sessions (session_id) {
        session_id -> Text,
        realm_id -> Text,
        identity_provider -> Text,
        subject -> Text,
        upstream_sid -> Nullable<Text>,
        id_token -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    mapper_grants (user_id, identity_provider, mapper, kind, target_id) {
        user_id -> Text,
        identity_provider -> Text,
        mapper -> Text,
        kind -> Text,
        target_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    saml_assertions (realm_id, identity_provider, assertion_id) {
        realm_id -> Text,
        identity_provider -> Text,
        assertion_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    saml_sp_keys (id) {
        id -> Text,
        realm_id -> Text,
        identity_provider -> Text,
        private_pem -> Text,
        certificate_der -> Binary,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(mapper_grants, roles);
diesel::allow_tables_to_appear_in_same_query!(mapper_grants, groups);
