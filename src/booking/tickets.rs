//! Ticket codes: `MQ2.<kid>.<payload>.<signature>` (or `MQ1.<payload>.<signature>`,
//! signed before the first rotation), base64url. The payload names the booking, show and
//! seats; the signature is HMAC-SHA256 with the key `kid` names: a random key stored in
//! `signing_keys` as `ticket:<kid>`, or for `MQ1` the key derived from the platform's master
//! secret. Any node can verify a code and nobody can forge one. A valid signature proves
//! the code was issued; whether it still admits anyone is the booking's current status.
//!
//! Keys rotate (`POST /api/v1/admin/ticket-keys/rotate`): the newest signs, every older one
//! still verifies (a ticket bought months ago is good at the door), and a node that meets
//! an unknown `kid` reads the keys again.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const VERSION: &str = "MQ1";
const KEYED_VERSION: &str = "MQ2";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    /// Booking id.
    pub b: String,
    /// Show id.
    pub s: String,
    /// Seat labels.
    pub seats: Vec<String>,
}

fn mac(key: &[u8], signed: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(signed.as_bytes());
    mac
}

/// The ticket keys this node knows: the master-derived one and the stored ones.
#[derive(Clone)]
pub struct TicketKeys {
    master: std::sync::Arc<Vec<u8>>,
    ring: std::sync::Arc<std::sync::RwLock<std::sync::Arc<Ring>>>,
    loaded: crate::identity::tokens::KeysLoaded,
}

#[derive(Default)]
struct Ring {
    /// The key that signs (`None`: the master-derived key, as `MQ1`).
    signing: Option<(String, Vec<u8>)>,
    keys: std::collections::HashMap<String, Vec<u8>>,
}

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRefusal {
    Invalid,
    /// Signed with a key this node does not know yet.
    UnknownKey,
}

impl TicketKeys {
    /// Only the master-derived key.
    pub fn new(master: Vec<u8>) -> Self {
        Self {
            master: std::sync::Arc::new(master),
            ring: Default::default(),
            loaded: Default::default(),
        }
    }

    /// Takes the stored keys, oldest first (the newest signs).
    pub fn adopt(&self, stored: &[(String, Vec<u8>)]) {
        let ring = Ring {
            signing: stored.last().cloned(),
            keys: stored.iter().cloned().collect(),
        };
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(ring);
        self.loaded.now();
    }

    /// Whether the keys were read longer than `every` ago (see `KeysLoaded::due`).
    pub fn reload_due(&self, every: std::time::Duration) -> bool {
        self.loaded.due(every)
    }

    fn ring(&self) -> std::sync::Arc<Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A code for `claims`, signed with the newest key.
    pub fn issue(&self, claims: &TicketClaims) -> String {
        match &self.ring().signing {
            None => issue(&self.master, claims),
            Some((kid, key)) => {
                let payload =
                    URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
                let signed = format!("{KEYED_VERSION}.{kid}.{payload}");
                let signature = URL_SAFE_NO_PAD.encode(mac(key, &signed).finalize().into_bytes());
                format!("{signed}.{signature}")
            }
        }
    }

    /// The claims of a genuine code, whichever key signed it.
    pub fn verify(&self, code: &str) -> Result<TicketClaims, TicketRefusal> {
        let code = code.trim();
        if !code.starts_with(&format!("{KEYED_VERSION}.")) {
            return verify(&self.master, code).ok_or(TicketRefusal::Invalid);
        }
        if code.len() > 2048 {
            return Err(TicketRefusal::Invalid);
        }
        let (signed, signature) = code.rsplit_once('.').ok_or(TicketRefusal::Invalid)?;
        let mut parts = signed.splitn(3, '.');
        let (Some(_), Some(kid), Some(payload)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TicketRefusal::Invalid);
        };
        let ring = self.ring();
        let key = ring.keys.get(kid).ok_or(TicketRefusal::UnknownKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TicketRefusal::Invalid)?;
        mac(key, signed)
            .verify_slice(&signature)
            .map_err(|_| TicketRefusal::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TicketRefusal::Invalid)?;
        serde_json::from_slice(&payload).map_err(|_| TicketRefusal::Invalid)
    }
}

pub fn issue(key: &[u8], claims: &TicketClaims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signed = format!("{VERSION}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(key, &signed).finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// The claims of a genuine code; `None` for anything forged, altered or malformed.
pub fn verify(key: &[u8], code: &str) -> Option<TicketClaims> {
    let code = code.trim();
    if code.len() > 2048 {
        return None;
    }
    let (signed, signature) = code.rsplit_once('.')?;
    let (version, payload) = signed.split_once('.')?;
    if version != VERSION {
        return None;
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    mac(key, signed).verify_slice(&signature).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The code as a QR code in SVG, to show at the door: error correction level M (a scuffed
/// phone screen still scans), a quiet zone, at least 256 px square. `None` only for a code
/// too long for any QR code (a code holds at most a booking's seats, far below that).
pub fn qr_svg(code: &str) -> Option<String> {
    let qr = qrcode::QrCode::with_error_correction_level(code, qrcode::EcLevel::M).ok()?;
    Some(
        qr.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TicketClaims {
        TicketClaims {
            b: "bkg_1".into(),
            s: "shw_1".into(),
            seats: vec!["A1".into(), "A2".into()],
        }
    }

    #[test]
    fn issued_codes_verify_and_altered_ones_do_not() {
        let code = issue(b"key", &claims());
        assert_eq!(verify(b"key", &code), Some(claims()));
        assert_eq!(verify(b"other key", &code), None);
        let (signed, _) = code.rsplit_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&TicketClaims {
                seats: vec!["A1".into(), "A2".into(), "A3".into()],
                ..claims()
            })
            .unwrap(),
        );
        let forged = format!("MQ1.{forged_payload}.{}", code.rsplit_once('.').unwrap().1);
        assert_eq!(verify(b"key", &forged), None);
        assert_eq!(verify(b"key", signed), None);
        assert_eq!(verify(b"key", "garbage"), None);
        assert_eq!(verify(b"key", ""), None);
    }

    #[test]
    fn the_qr_code_scans_back_to_the_ticket_code() {
        let code = issue(
            b"key",
            &TicketClaims {
                seats: (1..=10).map(|n| format!("R{n}")).collect(),
                ..claims()
            },
        );
        let svg = qr_svg(&code).expect("fits");
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{svg:.80}"
        );
        // Decode the same modules with an independent reader, drawn 4 pixels a module
        // with a 4-module quiet zone.
        let qr = qrcode::QrCode::with_error_correction_level(&code, qrcode::EcLevel::M).unwrap();
        let (modules, width) = (qr.to_colors(), qr.width());
        let (scale, quiet) = (4, 4);
        let side = (width + 2 * quiet) * scale;
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
            let (mx, my) = (
                (x / scale).wrapping_sub(quiet),
                (y / scale).wrapping_sub(quiet),
            );
            let dark = mx < width && my < width && modules[my * width + mx] == qrcode::Color::Dark;
            if dark { 0 } else { 255 }
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().expect("decodes");
        assert_eq!(content, code);
        assert_eq!(verify(b"key", &content).unwrap().seats.len(), 10);
    }

    #[test]
    fn rotated_ticket_keys_sign_new_codes_and_every_older_code_still_verifies() {
        let claims = TicketClaims {
            b: "bkg_1".into(),
            s: "shw_1".into(),
            seats: vec!["A1".into()],
        };
        let keys = TicketKeys::new(b"master-derived key".to_vec());
        let before = keys.issue(&claims);
        assert!(before.starts_with("MQ1."));
        keys.adopt(&[("t1".into(), b"first stored key".to_vec())]);
        let after = keys.issue(&claims);
        assert!(after.starts_with("MQ2.t1."), "{after}");
        keys.adopt(&[
            ("t1".into(), b"first stored key".to_vec()),
            ("t2".into(), b"second stored key".to_vec()),
        ]);
        let latest = keys.issue(&claims);
        assert!(latest.starts_with("MQ2.t2."));
        for code in [&before, &after, &latest] {
            assert_eq!(keys.verify(code), Ok(claims.clone()), "{code}");
        }
        // Another key's name on a code: not this code's key.
        let renamed = after.replacen("MQ2.t1.", "MQ2.t2.", 1);
        assert_eq!(keys.verify(&renamed), Err(TicketRefusal::Invalid));
        // A node that has not read the new keys yet asks to.
        let lagging = TicketKeys::new(b"master-derived key".to_vec());
        assert_eq!(lagging.verify(&latest), Err(TicketRefusal::UnknownKey));
        assert_eq!(lagging.verify(&before), Ok(claims));
    }
}
