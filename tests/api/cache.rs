//! The response cache seen from outside: gzip copies, agreement under concurrent reads right
//! after a write, the max-age bound on writes the node did not see, and errors never cached.

use std::io::Read;

use marquee::{
    catalog::store::{self as catalog, NewCity},
    db::Engine,
    ids::{CityId, ShowId},
    time::Timestamp,
};
use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::{
    db_test, fixtures,
    helpers::{TestApp, assert_problem, test_epoch},
};

fn header_of(response: &reqwest::Response, name: header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_owned())
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a valid gzip stream");
    text
}

db_test!(gzip_is_served_to_clients_that_accept_it, |app| {
    let f = fixtures::load(app).await;
    let path = format!("/api/v1/shows/{}/seats", f.noon);

    let plain = app.get_with(&path, ("accept-encoding", "identity")).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(header_of(&plain, header::CONTENT_ENCODING), None);
    let plain_body = plain.bytes().await.unwrap();
    assert!(
        plain_body.len() >= 1024,
        "the seat map is large enough to be compressed: {} bytes",
        plain_body.len()
    );
    let plain_json: Value = serde_json::from_slice(&plain_body).unwrap();

    let zipped = app.get_with(&path, ("accept-encoding", "gzip")).await;
    assert_eq!(zipped.status(), StatusCode::OK);
    assert_eq!(
        header_of(&zipped, header::CONTENT_ENCODING).as_deref(),
        Some("gzip")
    );
    assert_eq!(
        header_of(&zipped, header::CONTENT_TYPE).as_deref(),
        Some("application/json")
    );
    let vary = header_of(&zipped, header::VARY).expect("vary header");
    assert!(
        vary.split(',')
            .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding")),
        "vary: {vary}"
    );
    let zipped_body = zipped.bytes().await.unwrap();
    assert!(
        zipped_body.len() < plain_body.len(),
        "{} compressed vs {} plain",
        zipped_body.len(),
        plain_body.len()
    );
    let unzipped = gunzip(&zipped_body);
    assert_eq!(
        unzipped.as_bytes(),
        &plain_body[..],
        "same bytes once decoded"
    );
    let unzipped_json: Value = serde_json::from_str(&unzipped).unwrap();
    assert_eq!(unzipped_json, plain_json);
    assert_eq!(unzipped_json["availability"]["total"], 10);

    // A small body is sent as it is even to a client that accepts gzip.
    let city_path = format!("/api/v1/cities/{}", f.testpur);
    let small = app.get_with(&city_path, ("accept-encoding", "gzip")).await;
    assert_eq!(small.status(), StatusCode::OK);
    assert_eq!(header_of(&small, header::CONTENT_ENCODING), None);
    let city: Value = serde_json::from_slice(&small.bytes().await.unwrap()).unwrap();
    assert_eq!(city["name"], "Testpur");
});

db_test!(concurrent_reads_of_one_seat_map_agree, |app| {
    let f = fixtures::load(app).await;
    let path = format!("/api/v1/shows/{}/seats", f.noon);
    // Warm the cache so the write has an entry to make stale.
    assert_eq!(app.get_ok(&path).await["availability"]["available"], 10);
    fixtures::set_seat(app, &f.noon, "A1", "booked", None).await;

    let url = app.url(&path);
    let requests = (0..64).map(|_| {
        let client = app.client.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let response = client.get(url).send().await.expect("request");
            (response.status(), response.text().await.expect("body"))
        })
    });
    let answers: Vec<(StatusCode, String)> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(|joined| joined.expect("request task"))
        .collect();
    assert_eq!(answers.len(), 64);
    let (status, body) = &answers[0];
    assert_eq!(*status, StatusCode::OK, "{body}");
    let differing = answers
        .iter()
        .filter(|(s, b)| s != status || b != body)
        .count();
    assert_eq!(differing, 0, "every answer equals the first");
    let map: Value = serde_json::from_str(body).unwrap();
    let a1 = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == "A1")
        .unwrap();
    assert_eq!(a1["state"], "booked");
    assert_eq!(map["availability"]["available"], 9);
    assert_eq!(map["availability"]["by_category"][0]["available"], 3);
});

/// Renames a city in storage without telling the cache, as another process would.
async fn rename_city_behind_the_cache(app: &TestApp, city: &CityId, name: &str) {
    let (city, name) = (city.to_string(), name.to_owned());
    let done = app
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE cities SET name = $2 WHERE id = $1",
                marquee::params![&city, &name],
            )
        })
        .await
        .unwrap();
    assert_eq!(done, 1);
}

async fn catalog_entry_is_bounded_by_max_age(app: &TestApp) {
    let f = fixtures::load(app).await;
    let path = format!("/api/v1/cities/{}", f.testpur);
    assert_eq!(app.get_ok(&path).await["name"], "Testpur");
    rename_city_behind_the_cache(app, &f.testpur, "Renamedpur").await;
    assert_eq!(
        app.get_ok(&path).await["name"],
        "Testpur",
        "served from the cache"
    );
    app.clock
        .advance(chrono::Duration::seconds(60) - chrono::Duration::milliseconds(1));
    assert_eq!(
        app.get_ok(&path).await["name"],
        "Testpur",
        "still within the maximum age"
    );
    app.clock.advance(chrono::Duration::milliseconds(1));
    assert_eq!(
        app.get_ok(&path).await["name"],
        "Renamedpur",
        "at the maximum age the entry is reloaded"
    );
}

/// Written by hand rather than with `db_test!`: the app needs a non-default configuration.
mod catalog_entry_is_bounded_by_max_age_for_writes_the_node_did_not_see {
    use super::*;

    async fn spawn(engine: Engine) -> Option<TestApp> {
        TestApp::spawn_with(engine, |config| config.cache.catalog_max_age_ms = 60_000).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(app) = spawn(Engine::Sqlite).await {
            catalog_entry_is_bounded_by_max_age(&app).await;
            app.stop().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = spawn(Engine::Postgres).await {
            catalog_entry_is_bounded_by_max_age(&app).await;
            app.stop().await;
        }
    }
}

db_test!(unknown_ids_are_not_cached, |app| {
    let f = fixtures::load(app).await;
    let missing = ShowId::derived("test/never-scheduled");
    for path in [
        format!("/api/v1/shows/{missing}"),
        format!("/api/v1/shows/{missing}/seats"),
    ] {
        for _ in 0..2 {
            assert_problem(app.get(&path).await, 404, "not-found").await;
        }
    }
    // After the 404s a valid request is answered as usual.
    let show = app.get_ok(&format!("/api/v1/shows/{}", f.noon)).await;
    assert_eq!(show["id"], f.noon.as_str());
    let map = app.get_ok(&format!("/api/v1/shows/{}/seats", f.noon)).await;
    assert_eq!(map["availability"]["available"], 10);

    // A 404 is not remembered: once the city exists (written behind the cache, so no
    // invalidation helps) the same request finds it.
    let late = CityId::derived("test/latecomer");
    let path = format!("/api/v1/cities/{late}");
    assert_problem(app.get(&path).await, 404, "not-found").await;
    let now = Timestamp::from_datetime(test_epoch());
    let id = late.to_string();
    let inserted = app
        .db
        .write(move |tx| {
            let city = NewCity {
                id: &id,
                name: "Latecomer",
                country_code: "IN",
                timezone: "Asia/Kolkata",
                currency: "INR",
            };
            catalog::insert_city(tx, &city, now)
        })
        .await
        .unwrap();
    assert!(inserted);
    assert_eq!(app.get_ok(&path).await["name"], "Latecomer");
});
