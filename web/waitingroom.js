// The waiting room in front of a show's on-sale: the customer joins on arrival, then one
// long poll at a time follows their place (the server answers as soon as it moves), and
// once admitted the seat map opens in the same page with the admission token for the hold.

import { api, session, serverNow } from './api.js';
import { h, announce, alertBox, showError, heading } from './dom.js';
import { t, showDateTime, languageName, lang } from './i18n.js';

const WAIT_MS = 10000;
const FINAL = new Set(['admitted', 'expired', 'sold-out']);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** "2 min 05 s" (or "45 s") until `ms` from now. */
function remaining(ms) {
  const left = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(left / 60);
  const seconds = left % 60;
  return minutes ? t('room.minSec', { m: minutes, s: String(seconds).padStart(2, '0') }) : t('room.sec', { s: seconds });
}

function header(show) {
  const date = show.starts_at_local.slice(0, 10);
  const back = `#/movie/${encodeURIComponent(show.movie.id)}?city=${encodeURIComponent(show.theatre.city_id)}&date=${date}`;
  return h('div', { class: 'page-head' },
    h('p', { class: 'crumb' }, h('a', { href: back, text: t('movie.showtimes') })),
    heading(show.movie.title, { lang: show.movie.locale && show.movie.locale.split('-')[0] !== lang ? show.movie.locale : null }),
    h('p', { class: 'meta' },
      h('span', { text: showDateTime(show.starts_at_local) }),
      h('span', { text: `${show.theatre.name}, ${show.screen.name}` }),
      h('span', { text: `${show.format} · ${languageName(show.language)}` })));
}

/**
 * The page of a show whose sales go through a waiting room. `openSeatMap(admission)`
 * builds the seat map (a promise of its root element) once the customer is admitted.
 */
export async function waitingRoomPage(ctx, show, nav, openSeatMap) {
  const room = show.waiting_room;
  const path = `/api/v1/shows/${encodeURIComponent(show.id)}/waiting-room`;
  if (!session.signedIn()) {
    return h('div', { class: 'page room-page' }, header(show),
      h('section', { class: 'room', 'aria-labelledby': 'room-title' },
        h('h2', { id: 'room-title', text: t('room.title') }),
        h('p', { text: t('room.opensAt', { time: showDateTime(room.on_sale_at_local) }) }),
        h('p', { text: t('room.signinToJoin') }),
        h('button', { type: 'button', class: 'primary', text: t('nav.signin'), onclick: () => nav.signIn(`/show/${show.id}`) })));
  }

  let entry;
  try {
    entry = await api(`${path}/entries`, { method: 'POST', auth: true });
  } catch (error) {
    if (error.code !== 'sold-out') throw error;
    entry = { state: 'sold-out' };
  }
  const page = new WaitingRoom(ctx, show, path, openSeatMap);
  await page.update(entry);
  if (!FINAL.has(entry.state)) page.follow();
  return page.root;
}

class WaitingRoom {
  constructor(ctx, show, path, openSeatMap) {
    this.ctx = ctx;
    this.show = show;
    this.path = path;
    this.openSeatMap = openSeatMap;
    this.state = null;
    this.firstAhead = null;
    this.abort = new AbortController();
    ctx.onLeave(() => this.abort.abort());

    this.status = h('p', { class: 'room-status', id: 'room-status' });
    this.detail = h('div', { class: 'room-detail' });
    this.error = alertBox();
    this.body = h('section', { class: 'room', 'aria-labelledby': 'room-title', 'aria-describedby': 'room-status' },
      h('h2', { id: 'room-title', text: t('room.title') }),
      this.status, this.detail, this.error,
      h('p', { class: 'fair' },
        t('room.fair', { n: show.waiting_room.seats_per_account }), ' ',
        h('a', { href: `${this.path}/audit`, text: t('room.audit') })));
    this.root = h('div', { class: 'page room-page' }, header(show), this.body);
    this.root.dataset.room = 'joining';

    const timer = setInterval(() => this.tick(), 1000);
    ctx.onLeave(() => clearInterval(timer));
  }

  /** Keeps asking where the customer stands; each request waits for news (long poll). */
  async follow() {
    let delay = 1000;
    while (this.ctx.alive && !FINAL.has(this.state)) {
      try {
        const entry = await api(`${this.path}/entries/me?wait_ms=${WAIT_MS}`, { auth: true, signal: this.abort.signal });
        delay = 1000;
        showError(this.error, null);
        await this.update(entry);
      } catch (error) {
        if (error.name === 'AbortError' || !this.ctx.alive) return;
        if (error.code === 'unauthorized') {
          showError(this.error, { title: t('auth.expired') });
          return;
        }
        showError(this.error, error);
        await sleep(delay);
        delay = Math.min(delay * 2, 15000);
      }
    }
  }

  async update(entry) {
    if (!this.ctx.alive) return;
    const changed = this.state !== null && entry.state !== this.state;
    this.state = entry.state;
    this.entry = entry;
    this.root.dataset.room = entry.state;
    this.receivedAt = serverNow();
    switch (entry.state) {
      case 'pre-queue':
        this.status.textContent = t('room.preQueue', { time: showDateTime(this.show.waiting_room.on_sale_at_local) });
        this.detail.replaceChildren(
          h('p', { class: 'room-countdown' }, h('span', { text: t('room.opensIn') }), ' ', this.countdown = h('strong', { class: 'timer' })),
          h('p', { text: t('room.preQueueWhy') }));
        break;
      case 'waiting':
        this.firstAhead ??= Math.max(entry.ahead, 1);
        this.status.textContent = t('room.position', { n: entry.position });
        this.detail.replaceChildren(
          h('p', { class: 'room-ahead', text: entry.ahead > 0 ? t('room.ahead', { n: entry.ahead }) : t('room.next') }),
          h('progress', { max: this.firstAhead, value: Math.max(0, this.firstAhead - entry.ahead), 'aria-label': t('room.progress') }),
          h('p', { class: 'room-estimate' }, h('span', { text: t('room.estimate') }), ' ', this.countdown = h('strong', { class: 'timer' })),
          h('p', { text: t('room.keepOpen') }));
        break;
      case 'admitted':
        await this.admitted(entry);
        return;
      case 'expired':
        this.status.textContent = t('room.expired');
        this.detail.replaceChildren();
        break;
      case 'sold-out':
        this.status.textContent = t('room.soldOut');
        this.detail.replaceChildren(this.waitlistForm());
        break;
      default:
        this.status.textContent = entry.state;
    }
    this.tick();
    if (changed) announce(this.status.textContent);
  }

  tick() {
    if (!this.countdown || !this.entry) return;
    let until;
    if (this.state === 'pre-queue') until = Date.parse(this.show.waiting_room.on_sale_at);
    else if (this.state === 'waiting') until = this.receivedAt + (this.entry.estimated_wait_secs ?? 0) * 1000;
    else return;
    const left = until - serverNow();
    this.countdown.textContent = left > 0 ? remaining(left) : t('room.anyMoment');
  }

  async admitted(entry) {
    const admission = { token: entry.admission_token, expiresAt: Date.parse(entry.admission_expires_at) };
    const map = await this.openSeatMap(admission);
    if (!this.ctx.alive) return;
    const left = h('strong', { class: 'timer' });
    const banner = h('div', { class: 'notice room-turn' },
      h('p', {}, h('strong', { text: t('room.yourTurn') }), ' ', t('room.chooseWithin'), ' ', left));
    const paint = () => { left.textContent = remaining(admission.expiresAt - serverNow()); };
    paint();
    const timer = setInterval(paint, 1000);
    this.ctx.onLeave(() => clearInterval(timer));
    map.querySelector('.page-head')?.after(banner);
    map.dataset.room = 'admitted';
    this.root.replaceWith(map);
    this.root = map;
    map.querySelector('h1')?.focus();
    announce(t('room.yourTurn'));
  }

  waitlistForm() {
    const box = h('div', { class: 'room-waitlist' });
    const error = alertBox();
    const count = h('input', { id: 'waitlist-count', type: 'number', min: 1, max: this.show.waiting_room.seats_per_account, value: 2, inputmode: 'numeric', required: true });
    const button = h('button', { type: 'submit', class: 'primary', text: t('room.waitlistJoin') });
    const form = h('form', {
      class: 'inline-form',
      onsubmit: async (event) => {
        event.preventDefault();
        showError(error, null);
        button.disabled = true;
        try {
          await api(`/api/v1/shows/${encodeURIComponent(this.show.id)}/waitlist`, {
            method: 'POST', auth: true, body: { seats_wanted: Number(count.value) },
          });
          box.replaceChildren(h('p', { class: 'room-waitlisted', text: t('room.waitlisted') }));
          announce(t('room.waitlisted'));
        } catch (e) {
          button.disabled = false;
          showError(error, e);
        }
      },
    }, h('label', { for: 'waitlist-count', text: t('show.best.count') }), count, button);
    box.append(h('p', { text: t('room.waitlistWhy') }), form, error);
    return box;
  }
}
