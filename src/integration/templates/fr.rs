//! Customers' messages in French.

use super::{Block, BookingFacts, Labels, Message, amount, clock_time, show_facts, when};
use crate::identity::model::Locale;

const FR: Labels = Labels {
    movie: "Film",
    cinema: "Cinéma",
    seats: "Places",
    starts: "Début de la séance",
    total: "Total payé",
    code: "Code du billet (à présenter à l'entrée) :",
};

pub(super) fn message(message: &Message<'_>, b: &BookingFacts) -> (String, Vec<Block>) {
    use Block::{Code, Facts, Paragraph};
    let l = Locale::Fr;
    let id = &b.id;
    let seats = b.seats.join(", ");
    let at = |millis| when(millis, b.timezone, l);
    let facts = || show_facts(b, &FR, l);
    match message {
        Message::Confirmation { ticket_code } => {
            let mut facts = facts();
            facts.push((FR.total, amount(b.total, &b.currency, l)));
            (
                format!("Vos billets : réservation {id}"),
                vec![
                    Paragraph(format!("Votre réservation {id} est confirmée.")),
                    Facts(facts),
                    Code {
                        label: FR.code,
                        code: (*ticket_code).to_owned(),
                    },
                ],
            )
        }
        Message::TicketResent { ticket_code } => (
            format!("Vos billets, à nouveau : réservation {id}"),
            vec![
                Paragraph(format!(
                    "Comme demandé, voici à nouveau vos billets pour la réservation {id}."
                )),
                Facts(facts()),
                Code {
                    label: FR.code,
                    code: (*ticket_code).to_owned(),
                },
            ],
        ),
        Message::Cancellation { by_partner, refund } => {
            let what = if *by_partner {
                format!(
                    "La séance a été annulée par le cinéma : votre réservation {id} (places \
                     {seats}, séance du {}) est donc annulée.",
                    at(b.starts_at)
                )
            } else {
                format!(
                    "Votre réservation {id} (places {seats}, séance du {}) est annulée.",
                    at(b.starts_at)
                )
            };
            let refund = match refund {
                Some(minor) if *minor > 0 => format!(
                    "Un remboursement de {} est en route vers votre moyen de paiement.",
                    amount(*minor, &b.currency, l)
                ),
                _ => "Aucun paiement n'a été encaissé : il n'y a rien à rembourser.".to_owned(),
            };
            (
                format!("Réservation {id} annulée"),
                vec![Paragraph(what), Paragraph(refund), Facts(facts())],
            )
        }
        Message::PaymentFailed { reason } => (
            format!("Échec du paiement de la réservation {id}"),
            vec![
                Paragraph(format!(
                    "Votre paiement pour la réservation {id} n'a pas abouti ({reason})."
                )),
                Paragraph(format!(
                    "Vos places {seats} vous sont réservées jusqu'au {}. Payez à nouveau \
                     d'ici là pour les garder.",
                    at(b.expires_at)
                )),
                Facts(facts()),
            ],
        ),
        Message::WaitlistOffer { seats, expires_at } => (
            format!("Des places vous attendent : réservation {id}"),
            vec![
                Paragraph(format!(
                    "Bonne nouvelle : les places {} de la séance du {} se sont libérées et \
                     vous sont réservées grâce à la liste d'attente (réservation {id}).",
                    seats.join(", "),
                    at(b.starts_at)
                )),
                Paragraph(format!(
                    "Payez-les avant le {} pour les garder.",
                    at(*expires_at)
                )),
                Facts(facts()),
            ],
        ),
        Message::RefundSent {
            amount: minor,
            currency,
        } => (
            format!("Remboursement envoyé pour la réservation {id}"),
            vec![Paragraph(format!(
                "Nous avons envoyé un remboursement de {} pour la réservation {id} sur votre \
                 moyen de paiement.",
                amount(*minor, currency, l)
            ))],
        ),
        Message::RefundStarted {
            amount: minor,
            currency,
            released,
            cancelled,
            reason,
        } => {
            let what = if released.is_empty() {
                "Vos places sont inchangées.".to_owned()
            } else if *cancelled {
                "Votre réservation est annulée.".to_owned()
            } else {
                format!(
                    "Les places {} n'en font plus partie ; votre billet vaut pour les places \
                     {seats}.",
                    released.join(", ")
                )
            };
            (
                format!("Remboursement de la réservation {id}"),
                vec![
                    Paragraph(format!(
                        "Nous vous remboursons {} pour la réservation {id} sur votre moyen de \
                         paiement ({reason}).",
                        amount(*minor, currency, l)
                    )),
                    Paragraph(what),
                ],
            )
        }
        Message::HoldExpiring { expires_at } => (
            format!(
                "Payez avant {} pour garder vos places : réservation {id}",
                clock_time(*expires_at, b.timezone)
            ),
            vec![
                Paragraph(format!(
                    "Vos places {seats} pour la séance du {} vous sont réservées jusqu'au {}.",
                    at(b.starts_at),
                    at(*expires_at)
                )),
                Paragraph(format!(
                    "Payez la réservation {id} ({}) d'ici là, sinon les places seront remises \
                     en vente.",
                    amount(b.total, &b.currency, l)
                )),
                Facts(facts()),
            ],
        ),
        Message::ShowRescheduled { from, to, held } => {
            let what = if *held {
                format!(
                    "Vos places vous sont réservées jusqu'au {} : payez d'ici là pour les \
                     garder. Si le nouvel horaire ne vous convient pas, annulez la réservation.",
                    at(b.expires_at)
                )
            } else {
                "Vos billets sont valables pour le nouvel horaire. S'il ne vous convient pas, \
                 vous pouvez annuler la réservation et être remboursé intégralement jusqu'au \
                 début de la séance."
                    .to_owned()
            };
            (
                format!("Votre séance a été déplacée : réservation {id}"),
                vec![
                    Paragraph(format!(
                        "Le cinéma a déplacé la séance de votre réservation {id} (places {seats})."
                    )),
                    Facts(vec![("Avant", at(*from)), ("Désormais", at(*to))]),
                    Paragraph(what),
                    Facts(facts()),
                ],
            )
        }
        Message::ShowRepriced { held } => {
            let total = amount(b.total, &b.currency, l);
            let what = if *held {
                format!(
                    "Votre réservation garde le prix annoncé : {total}. Vos places vous sont \
                     réservées jusqu'au {} : payez d'ici là pour les garder.",
                    at(b.expires_at)
                )
            } else {
                format!("Votre réservation garde le prix payé : {total}. Rien ne change pour vous.")
            };
            (
                format!("Les prix de votre séance ont changé : réservation {id}"),
                vec![
                    Paragraph(format!(
                        "Le cinéma a modifié le prix des billets de la séance du {} \
                         (réservation {id}, places {seats}).",
                        at(b.starts_at)
                    )),
                    Paragraph(what),
                    Facts(facts()),
                ],
            )
        }
    }
}
