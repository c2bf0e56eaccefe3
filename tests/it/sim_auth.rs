//! Keystone in the simulator: password, application credential and token
//! authentication, the catalog, and 401s for bad and expired tokens.

use crate::support::sim::{Cloud, keys, sample};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn password_auth_returns_a_scoped_token_with_a_catalog() {
    let cloud = Cloud::start("").await;
    let r = cloud
        .issue(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": "secret"}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}
        }}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.header("x-subject-token").is_some_and(|t| !t.is_empty()));
    assert!(
        r.header("x-openstack-request-id")
            .is_some_and(|t| t.starts_with("req-"))
    );
    let token = &r.body["token"];
    // Same fields as Keystone's own sample of a project-scoped token.
    let expected = sample("keystone/v3/auth/responses/project-scoped-password.json");
    assert_eq!(keys(token), keys(&expected["token"]));
    assert_eq!(keys(&token["user"]), keys(&expected["token"]["user"]));
    assert_eq!(token["methods"], json!(["password"]));
    assert_eq!(token["project"]["name"], "admin");
    let roles: Vec<&str> = token["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(roles.contains(&"admin"));
    let types: Vec<&str> = token["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    for t in [
        "identity",
        "compute",
        "image",
        "network",
        "block-storage",
        "volumev3",
    ] {
        assert!(types.contains(&t), "catalog lacks {t}: {types:?}");
    }
    let compute = token["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "compute")
        .unwrap();
    let url = compute["endpoints"][0]["url"].as_str().unwrap();
    assert_eq!(url, format!("{}/compute/v2.1", cloud.base));
    let volume = token["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "volumev3")
        .unwrap();
    let url = volume["endpoints"][0]["url"].as_str().unwrap();
    assert!(
        url.ends_with(token["project"]["id"].as_str().unwrap()),
        "{url}"
    );
    // expires_at lies in the future and is Keystone-formatted.
    let exp = token["expires_at"].as_str().unwrap();
    assert!(exp.ends_with('Z') && exp.contains('.'), "{exp}");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_keystones_401() {
    let cloud = Cloud::start("").await;
    for (user, pw) in [("admin", "wrong"), ("nobody", "secret")] {
        let r = cloud
            .issue(
                json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": pw}}}}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body["error"]["code"], 401);
        assert_eq!(r.body["error"]["title"], "Unauthorized");
        assert_eq!(
            r.body["error"]["message"],
            "The request you have made requires authentication."
        );
    }
}

#[tokio::test]
async fn member_cannot_scope_to_another_project() {
    let cloud = Cloud::start("").await;
    let r = cloud
        .issue(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "demo", "domain": {"name": "Default"}, "password": "demo-pw"}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}
        }}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn application_credentials_by_id_and_by_name() {
    let cloud = Cloud::start("").await;
    let by_id = cloud
        .issue(json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": "0123456789abcdef0123456789abcdef", "secret": "s3cret"}}}}))
        .await;
    assert_eq!(by_id.status, StatusCode::CREATED, "{}", by_id.text);
    let expected = sample("keystone/v3/admin/auth-application-credential-response.json");
    assert_eq!(keys(&by_id.body["token"]), keys(&expected["token"]));
    assert_eq!(
        by_id.body["token"]["methods"],
        json!(["application_credential"])
    );
    assert_eq!(by_id.body["token"]["application_credential"]["name"], "ci");

    let by_name = cloud
        .issue(
            json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"name": "ci", "secret": "s3cret",
                "user": {"name": "admin", "domain": {"name": "Default"}}}}}}),
        )
        .await;
    assert_eq!(by_name.status, StatusCode::CREATED, "{}", by_name.text);

    let wrong = cloud
        .issue(json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": "0123456789abcdef0123456789abcdef", "secret": "nope"}}}}))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    // The token works against Nova.
    let token = by_id.header("x-subject-token").unwrap();
    let r = cloud.nova_get(token, "/servers", "").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn token_method_rescopes_an_existing_token() {
    let cloud = Cloud::start("").await;
    let r = cloud
        .issue(
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": cloud.admin}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        r.body["token"]["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("token"))
    );
}

#[tokio::test]
async fn services_refuse_missing_and_unknown_tokens() {
    let cloud = Cloud::start("").await;
    for token in ["", "not-a-token"] {
        for path in [
            "/compute/v2.1/servers",
            "/image/v2/images",
            "/networking/v2.0/ports",
        ] {
            let r = cloud.get(token, path).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(r.body["error"]["code"], 401);
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Keystone uri=")),
                "{path}"
            );
        }
    }
    // Version documents need no token.
    let r = cloud.get("", "/compute/").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = cloud.get("", "/identity/v3").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"]["status"], "stable");
    let r = cloud.get("", "/identity").await;
    assert_eq!(r.status, StatusCode::MULTIPLE_CHOICES);
}

#[tokio::test]
async fn tokens_expire_and_are_then_refused() {
    let cloud = Cloud::start("faults:\n  - token_expiry: {after: 60s}\n").await;
    let r = cloud
        .issue(
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": "secret"}}}}}),
        )
        .await;
    let token = r.header("x-subject-token").unwrap().to_owned();
    let issued = time::OffsetDateTime::parse(
        r.body["token"]["issued_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires = time::OffsetDateTime::parse(
        r.body["token"]["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires - issued, time::Duration::seconds(60));
    assert_eq!(
        cloud.nova_get(&token, "/servers", "").await.status,
        StatusCode::OK
    );
    cloud.advance(61.0);
    let r = cloud.nova_get(&token, "/servers", "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Keystone no longer validates it either.
    let r = cloud
        .call(
            Method::GET,
            &cloud.login("admin", "secret", "admin").await,
            "/identity/v3/auth/tokens",
            None,
            &[("X-Subject-Token", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tokens_can_die_before_their_advertised_expiry() {
    let cloud = Cloud::start("faults:\n  - token_expiry: {after: 30s, advertised: 1h}\n").await;
    let r = cloud.get(&cloud.admin, "/compute/v2.1/servers").await;
    assert_eq!(r.status, StatusCode::OK);
    cloud.advance(31.0);
    let r = cloud.get(&cloud.admin, "/compute/v2.1/servers").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A new token works again.
    let fresh = cloud.login("admin", "secret", "admin").await;
    assert_eq!(
        cloud.get(&fresh, "/compute/v2.1/servers").await.status,
        StatusCode::OK
    );
    let _: Value = r.body;
}
