// A customer's bookings: checkout (countdown, quote, paying, waiting for the gateway's
// verdict), the ticket of a confirmed booking, and the history with cancellation.

import { api, showDetail, serverNow, requireSession } from './api.js';
import { h, announce, alertBox, showError, heading } from './dom.js';
import { t, money, minus, list, showDateTime, instantIn, categoryName } from './i18n.js';
import { openSeatStream } from './seatmap.js';

const bookingPath = (id) => `/api/v1/bookings/${encodeURIComponent(id)}`;

/** `#/booking/{id}`: checkout while the hold lasts, then the ticket (or how it ended). */
export async function bookingPage(ctx, bookingId, nav) {
  requireSession();
  const booking = await api(bookingPath(bookingId), { auth: true });
  const show = await showDetail(booking.show_id).catch(() => null);
  if (booking.status === 'pending_payment' && Date.parse(booking.expires_at) > serverNow()) {
    return checkoutView(ctx, booking, show, nav);
  }
  if (booking.status === 'confirmed') return confirmationView(ctx, booking, show);
  return endedView(booking, show);
}

function showFacts(booking, show) {
  const when = show ? showDateTime(show.starts_at_local) : instantIn(booking.starts_at);
  return h('dl', { class: 'facts' },
    h('div', {}, h('dt', { text: t('booking.when') }), h('dd', { text: when })),
    show ? h('div', {}, h('dt', { text: t('booking.where') }),
      h('dd', {}, `${show.theatre.name}, ${show.screen.name}`, h('br'), h('span', { class: 'muted', text: show.theatre.address }))) : null,
    h('div', {}, h('dt', { text: t('booking.seats') }), h('dd', { text: list(booking.seats) })));
}

function quoteTable(quote, booking) {
  const rows = [];
  for (const line of quote?.lines || []) {
    rows.push(h('tr', {},
      h('th', { scope: 'row', text: t('checkout.seatLine', { seat: line.seat, category: categoryName(line.category) }) }),
      h('td', { text: money(line.base) })));
    for (const discount of line.discounts || []) {
      rows.push(h('tr', { class: 'discount' },
        h('th', { scope: 'row', text: discount.offer_name }),
        h('td', { text: minus(discount.amount) })));
    }
  }
  const total = quote?.total || booking.total;
  const summary = [];
  if (quote) {
    summary.push(h('tr', {}, h('th', { scope: 'row', text: t('checkout.subtotal') }), h('td', { text: money(quote.base_total) })));
    if (quote.discount_total?.amount) {
      summary.push(h('tr', { class: 'discount' }, h('th', { scope: 'row', text: t('checkout.discounts') }), h('td', { text: minus(quote.discount_total) })));
    }
    summary.push(h('tr', {}, h('th', { scope: 'row', text: t('checkout.fees') }), h('td', { text: money(quote.fee_total) })));
  }
  summary.push(h('tr', { class: 'total' }, h('th', { scope: 'row', text: t('checkout.total') }), h('td', { text: money(total) })));
  return h('table', { class: 'quote' },
    h('caption', { text: t('checkout.summary') }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('checkout.item') }), h('th', { scope: 'col', text: t('checkout.amount') }))),
    h('tbody', {}, rows),
    h('tfoot', {}, summary));
}

function failureText(payment) {
  const reason = payment?.failure_reason || 'card_declined';
  const key = `checkout.reason.${reason}`;
  const text = t(key);
  return t('checkout.declined', { reason: text === key ? reason.replace(/_/g, ' ') : text });
}

function checkoutView(ctx, booking, show, nav) {
  const expires = Date.parse(booking.expires_at);
  const timer = h('span', { class: 'timer', role: 'timer', 'aria-labelledby': 'time-left-label', text: '--:--' });
  const timerLive = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  const countdown = h('div', { class: 'countdown' }, h('span', { id: 'time-left-label', text: t('checkout.timeLeft') }), ' ', timer);
  const alert = alertBox();
  const progress = h('p', { class: 'progress' });
  const payButton = h('button', { type: 'submit', class: 'primary', text: t('checkout.pay', { total: money(booking.total) }) });
  const cards = [
    ['tok_visa', t('checkout.card.visa')],
    ['tok_chargeDeclined', t('checkout.card.declined')],
    ['tok_delayed', t('checkout.card.delayed')],
  ];
  const form = h('form', { class: 'pay card' },
    h('fieldset', {},
      h('legend', { text: t('checkout.card') }),
      cards.map(([token, label], i) => h('div', { class: 'radio' },
        h('input', { type: 'radio', name: 'card', id: `card-${token}`, value: token, checked: i === 0 }),
        h('label', { for: `card-${token}`, text: label })))),
    h('div', { class: 'actions' }, payButton),
    progress,
    alert);
  const backLink = h('a', { href: `#/show/${encodeURIComponent(booking.show_id)}`, class: 'button-link', text: t('checkout.backToSeats') });
  const expiredBox = h('div', { class: 'expired' });
  const releaseButton = h('button', { type: 'button', class: 'link-button', text: t('checkout.release') });

  let paying = false;
  let ended = false;
  let previous = null;

  const expire = () => {
    if (ended) return;
    ended = true;
    form.querySelectorAll('input, button').forEach((el) => { el.disabled = true; });
    releaseButton.hidden = true;
    timer.textContent = '00:00';
    expiredBox.replaceChildren(h('p', { class: 'alert', role: 'alert', text: t('checkout.expired') }), backLink);
  };

  const tick = () => {
    const left = Math.max(0, Math.ceil((expires - serverNow()) / 1000));
    const mm = String(Math.floor(left / 60)).padStart(2, '0');
    const ss = String(left % 60).padStart(2, '0');
    timer.textContent = `${mm}:${ss}`;
    // Screen readers hear the time when it crosses a minute and in the last half minute
    // (30, 20, 10 s), not every second; a late tick still announces what it crossed.
    if (previous !== null && left < previous) {
      const crossed = [30, 20, 10].find((b) => previous > b && left <= b);
      const minute = Math.ceil(left / 60) * 60;
      if (crossed !== undefined && left > 0) {
        timerLive.textContent = t('checkout.secondsLeft', { n: crossed });
      } else if (left > 30 && previous > minute && left <= minute) {
        timerLive.textContent = t('checkout.minutesLeft', { n: minute / 60 });
      }
    }
    previous = left;
    if (left === 0 && !paying) expire();
  };
  tick();
  const interval = setInterval(tick, 1000);
  ctx.onLeave(() => clearInterval(interval));
  ctx.onLeave(openSeatStream(booking.show_id, {
    'show-cancelled': () => {
      announce(t('show.cancelled'), { keep: true });
      setTimeout(() => { if (ctx.alive) nav.reload(); }, 1500);
    },
  }));

  const outcome = async (paymentId) => {
    const started = Date.now();
    while (ctx.alive && Date.now() - started < 120000) {
      const asked = Date.now();
      const now = await api(`${bookingPath(booking.id)}?wait_ms=5000`, { auth: true });
      if (now.status !== 'pending_payment') return { booking: now };
      const payment = paymentId ? now.payments.find((p) => p.id === paymentId)
        : now.payments.find((p) => p.status === 'pending') || now.payments.at(-1);
      if (payment?.status === 'failed') return { booking: now, failed: payment };
      if (Date.now() - started > 6000) progress.textContent = t('checkout.stillPending');
      if (Date.now() - asked < 400) await new Promise((r) => setTimeout(r, 500));
    }
    return null;
  };

  const settle = (result) => {
    if (!result || !ctx.alive) return;
    if (result.failed) {
      progress.textContent = '';
      showError(alert, { title: failureText(result.failed) });
      return;
    }
    if (result.booking.status === 'confirmed') announce(t('booking.confirmed'));
    nav.reload();
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (paying || ended) return;
    const token = form.elements.namedItem('card').value;
    paying = true;
    payButton.disabled = true;
    releaseButton.disabled = true;
    showError(alert, null);
    progress.textContent = t('checkout.paying');
    announce(t('checkout.paying'));
    try {
      let payment = null;
      try {
        payment = await api(`${bookingPath(booking.id)}/payments`, {
          method: 'POST', auth: true, idempotent: true, body: { card_token: token },
        });
      } catch (error) {
        if (error.code !== 'payment-in-progress') throw error;
      }
      settle(await outcome(payment?.id));
    } catch (error) {
      progress.textContent = '';
      if (error.code === 'unauthorized') {
        nav.signIn(`/booking/${booking.id}`, t('auth.expired'));
        return;
      }
      if (error.code === 'booking-expired') {
        paying = false;
        expire();
        return;
      }
      if (error.code === 'booking-not-pending') {
        nav.reload();
        return;
      }
      showError(alert, error);
    } finally {
      paying = false;
      if (!ended) {
        payButton.disabled = false;
        releaseButton.disabled = false;
        if (Date.parse(booking.expires_at) <= serverNow()) expire();
      }
    }
  });

  releaseButton.addEventListener('click', async () => {
    releaseButton.disabled = true;
    try {
      await api(`${bookingPath(booking.id)}/cancel`, { method: 'POST', auth: true });
      announce(t('checkout.released'));
      nav.go(`/show/${booking.show_id}`);
    } catch (error) {
      showError(alert, error);
      releaseButton.disabled = false;
    }
  });

  return h('div', { class: 'page checkout' },
    show ? h('p', { class: 'crumb' }, h('a', { href: `#/show/${encodeURIComponent(booking.show_id)}`, text: t('checkout.backToSeats') })) : null,
    heading(t('checkout.title')),
    h('div', { class: 'checkout-layout' },
      h('div', {},
        h('section', { class: 'card', 'aria-labelledby': 'checkout-movie' },
          h('h2', { id: 'checkout-movie', text: show ? show.movie.title : t('booking.title') }),
          showFacts(booking, show)),
        quoteTable(booking.quote, booking)),
      h('div', {},
        countdown, timerLive, expiredBox,
        form,
        h('p', {}, releaseButton))));
}

async function confirmationView(ctx, booking, show) {
  const path = bookingPath(booking.id);
  const [ticket, svg] = await Promise.all([
    api(`${path}/ticket`, { auth: true }),
    api(`${path}/ticket.svg`, { auth: true, raw: true }).then((r) => r.blob()).catch((error) => error),
  ]);
  const movie = show ? show.movie.title : t('booking.title');
  const when = show ? showDateTime(show.starts_at_local) : instantIn(booking.starts_at);
  let qr;
  if (svg instanceof Blob) {
    const url = URL.createObjectURL(svg);
    ctx.onLeave(() => URL.revokeObjectURL(url));
    qr = h('img', { class: 'qr', src: url, width: 256, height: 256, alt: t('booking.qrAlt', { movie, time: when, seats: list(ticket.seats) }) });
  } else {
    qr = alertBox();
    showError(qr, svg);
  }
  // Mailing the tickets again (the API allows a couple a minute): a status line says how it went.
  const mailStatus = h('p', { class: 'mail-status', role: 'status' });
  const mailError = alertBox();
  const mailButton = h('button', { type: 'button', class: 'secondary', text: t('booking.emailTicket') });
  mailButton.addEventListener('click', async () => {
    mailButton.disabled = true;
    mailStatus.textContent = '';
    showError(mailError, null);
    try {
      await api(`${path}/ticket-email`, { method: 'POST', auth: true });
      mailStatus.textContent = t('booking.emailSent');
    } catch (error) {
      showError(mailError, error);
    } finally {
      mailButton.disabled = false;
    }
  });
  return h('div', { class: 'page confirmation' },
    heading(t('booking.confirmed')),
    h('p', { class: 'lead', text: t('booking.enjoy') }),
    h('article', { class: 'ticket card', 'aria-labelledby': 'ticket-movie' },
      h('div', { class: 'ticket-info' },
        h('h2', { id: 'ticket-movie', text: movie }),
        showFacts({ ...booking, seats: ticket.seats }, show),
        h('dl', { class: 'facts' },
          h('div', {}, h('dt', { text: t('booking.paid') }), h('dd', { text: money(booking.total) })))),
      h('figure', { class: 'ticket-code' },
        qr,
        h('figcaption', {}, h('span', { class: 'muted', text: t('booking.code') }), h('br'), h('code', { class: 'code', text: ticket.code })))),
    h('div', { class: 'actions' },
      h('a', { href: '#/bookings', class: 'button-link primary-link', text: t('nav.bookings') }),
      mailButton),
    mailStatus, mailError);
}

function endedView(booking, show) {
  const expired = booking.status === 'expired' || booking.status === 'pending_payment';
  return h('div', { class: 'page' },
    heading(t(expired ? 'booking.expiredTitle' : 'booking.cancelledTitle')),
    expired ? h('p', { class: 'lead', text: t('checkout.expired') }) : null,
    h('section', { class: 'card', 'aria-labelledby': 'ended-movie' },
      h('h2', { id: 'ended-movie', text: show ? show.movie.title : t('booking.title') }),
      showFacts(booking, show),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', { text: t('booking.status') }), h('dd', {}, statusBadge(expired ? 'expired' : booking.status))),
        booking.refund ? h('div', {}, h('dt', { text: t('booking.refund') }), h('dd', { text: money(booking.refund) })) : null)),
    h('div', { class: 'actions' },
      show?.on_sale ? h('a', { href: `#/show/${encodeURIComponent(booking.show_id)}`, class: 'button-link primary-link', text: t('checkout.backToSeats') }) : null,
      h('a', { href: '#/bookings', class: 'button-link', text: t('nav.bookings') })));
}

function statusBadge(status) {
  return h('span', { class: `badge status-${status}`, text: t(`status.${status}`) });
}

/** `#/bookings`: the customer's bookings, newest first, a page at a time. */
export async function bookingsPage(ctx, nav) {
  requireSession();
  const listEl = h('ul', { class: 'booking-list' });
  const more = h('button', { type: 'button', class: 'secondary', text: t('bookings.more') });
  const empty = h('p', { class: 'empty' });
  const dialog = cancelDialog();
  let cursor = null;

  const load = async () => {
    const page = await api(`/api/v1/bookings?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { auth: true });
    const shows = await Promise.all(page.items.map((b) => showDetail(b.show_id).catch(() => null)));
    const items = page.items.map((b, i) => bookingItem(b, shows[i], dialog));
    listEl.append(...items);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!listEl.children.length) empty.replaceChildren(t('bookings.none'), ' ', h('a', { href: '#/', text: t('bookings.findMovie') }));
    return items;
  };
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const items = await load();
      items[0]?.querySelector('h2 a')?.focus();
    } catch (error) {
      if (error.code === 'unauthorized') nav.signIn('/bookings', t('auth.expired'));
      else announce(`${error.title}. ${error.detail}`);
    } finally {
      more.disabled = false;
    }
  });
  await load();
  return h('div', { class: 'page' }, heading(t('bookings.title')), empty, listEl, more, dialog.el);
}

function bookingItem(booking, show, dialog) {
  const movie = show ? show.movie.title : t('booking.title');
  const when = show ? showDateTime(show.starts_at_local) : instantIn(booking.starts_at);
  const li = h('li', {});
  const paint = (b) => {
    const cancellable = (b.status === 'confirmed' || b.status === 'pending_payment')
      && Date.parse(b.starts_at) > serverNow()
      && (b.status === 'confirmed' || Date.parse(b.expires_at) > serverNow());
    const status = b.status === 'pending_payment' && Date.parse(b.expires_at) <= serverNow() ? 'expired' : b.status;
    const cancelButton = cancellable ? h('button', {
      type: 'button', class: 'secondary small', text: t('bookings.cancel'), 'aria-label': t('bookings.cancelFor', { movie }),
      onclick: () => dialog.open(b, { movie, when }, cancelButton, (after) => {
        paint(after);
        li.querySelector('h2 a').focus();
      }),
    }) : null;
    li.replaceChildren(h('article', { class: 'booking card' },
      h('div', { class: 'booking-head' },
        h('h2', {}, h('a', { href: `#/booking/${encodeURIComponent(b.id)}`, text: movie })),
        statusBadge(status)),
      h('p', { class: 'meta' },
        h('span', { text: when }),
        show ? h('span', { text: show.theatre.name }) : null,
        h('span', { text: list(b.seats) }),
        h('span', { text: money(b.total) })),
      b.refund ? h('p', { class: 'refund' }, `${t('booking.refund')}: `, h('strong', { text: money(b.refund) })) : null,
      h('div', { class: 'actions' },
        status === 'pending_payment' ? h('a', { href: `#/booking/${encodeURIComponent(b.id)}`, class: 'button-link small', text: t('booking.pay', { movie }) }) : null,
        cancelButton)));
  };
  paint(booking);
  return li;
}

/** One <dialog> per page asks before a booking is cancelled. */
function cancelDialog() {
  const text = h('p', { id: 'cancel-text' });
  const note = h('p', { id: 'cancel-note' });
  const alert = alertBox();
  const keep = h('button', { type: 'button', class: 'secondary', text: t('bookings.keep') });
  const confirm = h('button', { type: 'button', class: 'danger', text: t('bookings.doCancel') });
  const el = h('dialog', { class: 'dialog', 'aria-labelledby': 'cancel-title', 'aria-describedby': 'cancel-text cancel-note' },
    h('h2', { id: 'cancel-title', text: t('bookings.confirmTitle') }),
    text, note, alert,
    h('div', { class: 'actions' }, keep, confirm));
  let state = null;
  keep.addEventListener('click', () => el.close());
  el.addEventListener('close', () => {
    if (state?.opener?.isConnected) state.opener.focus();
  });
  confirm.addEventListener('click', async () => {
    if (!state) return;
    confirm.disabled = true;
    keep.disabled = true;
    try {
      const after = await api(`${bookingPath(state.booking.id)}/cancel`, { method: 'POST', auth: true });
      const done = state.done;
      state.opener = null;
      el.close();
      done(after);
      announce(after.refund?.amount ? t('bookings.cancelledRefund', { refund: money(after.refund) }) : t('bookings.cancelled'));
    } catch (error) {
      showError(alert, error);
    } finally {
      confirm.disabled = false;
      keep.disabled = false;
    }
  });
  return {
    el,
    open(booking, { movie, when }, opener, done) {
      state = { booking, opener, done };
      showError(alert, null);
      text.textContent = t('bookings.confirmText', { movie, time: when, seats: list(booking.seats) });
      if (booking.status === 'confirmed') {
        const fees = booking.quote?.fee_total?.amount || 0;
        note.textContent = t('bookings.refundNote', { refund: money({ amount: booking.total.amount - fees, currency: booking.total.currency }) });
      } else {
        note.textContent = t('bookings.releaseNote');
      }
      el.showModal();
      keep.focus();
    },
  };
}
