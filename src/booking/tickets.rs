//! Ticket codes: `MQ1.<payload>.<signature>`, both base64url. The payload names the
//! booking, show and seats; the signature is HMAC-SHA256 with a key derived from the
//! platform's signing secret, so any node can verify a code and nobody can forge one. A
//! valid signature proves the code was issued; whether it still admits anyone is the
//! booking's current status.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const VERSION: &str = "MQ1";

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
}
