//! Card data never reaches Marquee: customers pay with the gateway's tokens, made by its
//! client library in the customer's browser. A card number sent where a token belongs (a
//! client built wrong, a customer typing it into a field) is refused before anything is
//! recorded or logged, which keeps Marquee out of PCI-DSS scope for card data.

/// Whether `text` holds what looks like a card number (PAN): 13 to 19 digits in a row,
/// spaces or dashes allowed between them, that pass the Luhn check. Pure.
pub fn looks_like_card_number(text: &str) -> bool {
    let mut digits: Vec<u8> = Vec::with_capacity(19);
    let mut pending_separator = false;
    for byte in text.bytes() {
        match byte {
            b'0'..=b'9' => {
                digits.push(byte - b'0');
                pending_separator = false;
            }
            b' ' | b'-' if !digits.is_empty() && !pending_separator => pending_separator = true,
            _ => {
                if holds_card_number(&digits) {
                    return true;
                }
                digits.clear();
                pending_separator = false;
            }
        }
    }
    holds_card_number(&digits)
}

/// Whether a run of digits is a card number's length (13 to 19) and passes Luhn.
fn holds_card_number(run: &[u8]) -> bool {
    (13..=19).contains(&run.len()) && luhn_valid(run)
}

fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if !i.is_multiple_of(2) {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_in_any_usual_writing_are_recognised() {
        for pan in [
            "4242424242424242",
            "4242 4242 4242 4242",
            "4242-4242-4242-4242",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "tok_4242424242424242",
            "card: 4000 0566 5566 5556, exp 12/30",
        ] {
            assert!(looks_like_card_number(pan), "{pan}");
        }
    }

    #[test]
    fn tokens_and_ordinary_numbers_are_not_card_numbers() {
        for text in [
            "tok_visa",
            "tok_chargeDeclined",
            "tok_1Hh1Yr2eZvKYlo2CaB3dEfGh",
            "4242424242424241", // fails Luhn
            "424242424242",     // 12 digits
            "2026-11-30 16:00",
            "+91 98765 43210",
            "4242--4242 4242 4242", // two separators in a row end the run
        ] {
            assert!(!looks_like_card_number(text), "{text}");
        }
    }
}
