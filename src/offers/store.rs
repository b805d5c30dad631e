//! Offer storage. The rule is stored as JSON text (the same on both engines); scope lists
//! are rows so a city or theatre can be checked with a foreign key.

use super::model::{Offer, OfferKind, OfferScope};
use crate::{
    db::{Db, Tx},
    db_row,
    ids::{CityId, TheatreId},
    params,
    time::Timestamp,
};

db_row! {
    #[derive(Debug)]
    struct OfferRow {
        id: String,
        name: String,
        definition: String,
        valid_from: i64,
        valid_until: i64,
        active: bool,
    }
}

db_row! {
    #[derive(Debug)]
    struct ScopeRow {
        offer_id: String,
        target: String,
    }
}

/// Every offer (active or not), oldest first, with scopes. Offers whose stored rule cannot
/// be read are skipped (and logged) rather than failing every quote.
pub async fn all_offers(db: &Db) -> sqlx::Result<Vec<Offer>> {
    const OFFERS: &str = "SELECT id, name, definition, valid_from, valid_until, active FROM offers \
        ORDER BY created_at, id";
    const CITIES: &str =
        "SELECT offer_id, city_id AS target FROM offer_cities ORDER BY offer_id, city_id";
    const THEATRES: &str =
        "SELECT offer_id, theatre_id AS target FROM offer_theatres ORDER BY offer_id, theatre_id";
    let rows: Vec<OfferRow> = db.fetch_all(OFFERS, &[]).await?;
    let cities: Vec<ScopeRow> = db.fetch_all(CITIES, &[]).await?;
    let theatres: Vec<ScopeRow> = db.fetch_all(THEATRES, &[]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let kind: OfferKind = match serde_json::from_str(&row.definition) {
                Ok(kind) => kind,
                Err(error) => {
                    tracing::error!(offer = %row.id, %error, "stored offer rule unreadable; skipped");
                    return None;
                }
            };
            let scope = OfferScope {
                cities: cities
                    .iter()
                    .filter(|s| s.offer_id == row.id)
                    .map(|s| CityId::from_trusted(s.target.clone()))
                    .collect(),
                theatres: theatres
                    .iter()
                    .filter(|s| s.offer_id == row.id)
                    .map(|s| TheatreId::from_trusted(s.target.clone()))
                    .collect(),
            };
            Some(Offer {
                id: row.id,
                name: row.name,
                kind,
                valid_from: Timestamp::from_millis(row.valid_from),
                valid_until: Timestamp::from_millis(row.valid_until),
                scope,
                active: row.active,
            })
        })
        .collect())
}

/// Inserts an offer, or replaces an existing one's fields and scope when `replace`.
/// Returns false when inserting an id that exists (seeding) or replacing a missing one.
pub fn save_offer(
    tx: &mut Tx<'_>,
    offer: &Offer,
    replace: bool,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const INSERT: &str = "INSERT INTO offers (id, name, definition, valid_from, valid_until, active, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING";
    const UPDATE: &str = "UPDATE offers SET name = $2, definition = $3, valid_from = $4, valid_until = $5, \
        active = $6, updated_at = $7 WHERE id = $1";
    let definition = serde_json::to_string(&offer.kind).unwrap_or_default();
    let saved = tx.execute(
        if replace { UPDATE } else { INSERT },
        params![
            &offer.id,
            &offer.name,
            &definition,
            offer.valid_from.as_millis(),
            offer.valid_until.as_millis(),
            offer.active,
            now.as_millis()
        ],
    )?;
    if saved != 1 {
        return Ok(false);
    }
    tx.execute(
        "DELETE FROM offer_cities WHERE offer_id = $1",
        params![&offer.id],
    )?;
    tx.execute(
        "DELETE FROM offer_theatres WHERE offer_id = $1",
        params![&offer.id],
    )?;
    for city in &offer.scope.cities {
        tx.execute(
            "INSERT INTO offer_cities (offer_id, city_id) VALUES ($1, $2)",
            params![&offer.id, city.as_str()],
        )?;
    }
    for theatre in &offer.scope.theatres {
        tx.execute(
            "INSERT INTO offer_theatres (offer_id, theatre_id) VALUES ($1, $2)",
            params![&offer.id, theatre.as_str()],
        )?;
    }
    Ok(true)
}

/// Deactivates an offer; false if there is no such offer.
pub fn deactivate(tx: &mut Tx<'_>, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    const SQL: &str = "UPDATE offers SET active = FALSE, updated_at = $2 WHERE id = $1";
    Ok(tx.execute(SQL, params![id, now.as_millis()])? == 1)
}
