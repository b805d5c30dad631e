// The seat map page: a grid of seat buttons built once and then repainted seat by seat
// (live updates from the show's seat stream), keyboard operable as one Tab stop (arrow keys
// move, Enter/Space choose), "best N seats", and holding the chosen seats.

import { api, session, showDetail, serverNow } from './api.js';
import { h, announce, alertBox, showError, heading } from './dom.js';
import { t, lang, money, list, categoryName, showDateTime, languageName, locale } from './i18n.js';
import { waitingRoomPage } from './waitingroom.js';

const MAX_SEATS = 10;
const PENDING_KEY = 'marquee.pendingSeats';
const CATEGORY_ORDER = ['recliner', 'premium', 'regular'];

/**
 * Follows a show's seat stream: `handlers.snapshot / seats / reload / show-cancelled`
 * receive the parsed data. The browser reconnects by itself (sending Last-Event-ID); when
 * it gives up (the server answered with an error), we open a fresh stream a little later,
 * which starts with a snapshot. Returns a function that closes the stream.
 */
export function openSeatStream(showId, handlers) {
  const url = `/api/v1/shows/${encodeURIComponent(showId)}/seats/stream`;
  let source = null;
  let closed = false;
  let retry = null;
  let delay = 2000;
  const connect = () => {
    source = new EventSource(url);
    source.addEventListener('open', () => {
      delay = 2000;
      handlers.open?.();
    });
    for (const name of ['snapshot', 'seats', 'reload', 'show-cancelled']) {
      source.addEventListener(name, (event) => {
        let data = null;
        try { data = JSON.parse(event.data); } catch { return; }
        handlers[name]?.(data);
      });
    }
    source.addEventListener('error', () => {
      if (closed || source.readyState !== EventSource.CLOSED) return;
      source.close();
      retry = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  };
  connect();
  return () => {
    closed = true;
    clearTimeout(retry);
    source?.close();
  };
}

function fetchMap(showId) {
  return api(`/api/v1/shows/${encodeURIComponent(showId)}/seats`);
}

/** Seats chosen before signing in, kept for the way back. */
export function keepPendingSeats(showId, seats) {
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ showId, seats }));
}

function takePendingSeats(showId) {
  try {
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY));
    if (pending?.showId !== showId) return [];
    sessionStorage.removeItem(PENDING_KEY);
    return Array.isArray(pending.seats) ? pending.seats : [];
  } catch {
    return [];
  }
}

/** `nav.go(path)` navigates; `ctx.onLeave(fn)` runs `fn` when the page is left. */
export async function seatMapPage(ctx, showId, nav) {
  const show = await showDetail(showId);
  const open = async (admission) => {
    const [map, holds] = await Promise.all([fetchMap(showId), ownHolds(showId)]);
    const page = new SeatMap(ctx, show, map, nav, admission);
    if (holds.length) page.root.querySelector('.page-head').after(holdNotice(holds));
    return page.root;
  };
  // Sales through a waiting room: the seat map opens once the customer is admitted.
  if (show.waiting_room && show.status !== 'cancelled') return waitingRoomPage(ctx, show, nav, open);
  return open(null);
}

/** The customer's unpaid holds of this show (their seats show as taken on the map). */
async function ownHolds(showId) {
  if (!session.signedIn()) return [];
  try {
    const page = await api('/api/v1/bookings?limit=20', { auth: true });
    return page.items.filter((b) => b.show_id === showId && b.status === 'pending_payment'
      && Date.parse(b.expires_at) > serverNow());
  } catch {
    return [];
  }
}

function holdNotice(holds) {
  return h('div', { class: 'notice' }, holds.map((booking) => h('p', { class: 'hold-note' },
    t('show.yourHold', { n: booking.seats.length, seats: list(booking.seats) }), ' ',
    h('a', { href: `#/booking/${encodeURIComponent(booking.id)}`, text: t('show.continue') }))));
}

class SeatMap {
  /** `admission`: `{token, expiresAt}` from the show's waiting room, sent with the hold. */
  constructor(ctx, show, map, nav, admission = null) {
    this.show = show;
    this.admission = admission;
    this.maxSeats = Math.min(MAX_SEATS, show.waiting_room?.seats_per_account ?? MAX_SEATS);
    this.nav = nav;
    this.showId = show.id;
    this.onSale = map.on_sale && show.status !== 'cancelled';
    this.cancelled = show.status === 'cancelled';
    this.selected = new Set();
    this.seats = new Map();
    this.rows = [];
    this.holding = false;
    this.expiring = new Set();
    this.active = null;

    for (const view of map.seats) {
      this.seats.set(view.label, {
        label: view.label,
        row: view.row,
        number: view.label.startsWith(view.row) ? view.label.slice(view.row.length) : view.label,
        gridRow: view.grid_row,
        gridCol: view.grid_col,
        category: view.category,
        price: view.price,
        accessible: view.accessible,
        state: view.state,
        heldUntil: null,
        painted: '',
        el: null,
      });
    }

    this.root = h('div', { class: 'page seat-page' },
      this.header(),
      this.notice = h('p', { class: 'notice', role: 'status' }),
      h('div', { class: 'seat-layout' },
        h('div', { class: 'seat-main' },
          this.bestForm(map),
          this.legend(),
          this.scroller = h('div', { class: 'seat-scroll' },
            h('div', { class: 'screen', text: t('show.screen') }),
            this.grid = this.buildGrid(map))),
        this.selectionPanel()));

    for (const label of takePendingSeats(this.showId)) {
      const seat = this.seats.get(label);
      if (seat && this.isAvailable(seat) && this.selected.size < this.maxSeats) this.selected.add(label);
    }
    this.paintAll();
    this.setActive(this.firstFocusable()?.label, false);
    // A grid wider than the screen opens at its centre, in front of the screen.
    requestAnimationFrame(() => {
      const { scroller } = this;
      if (scroller.scrollWidth > scroller.clientWidth) scroller.scrollLeft = (scroller.scrollWidth - scroller.clientWidth) / 2;
    });
    this.renderSelection();
    this.renderNotice();

    // `data-stream` says whether live updates are flowing (the browser tests wait for it).
    ctx.onLeave(openSeatStream(this.showId, {
      open: () => { this.root.dataset.stream = 'open'; },
      snapshot: (data) => {
        this.applySnapshot(data);
        this.root.dataset.stream = 'live';
      },
      seats: (data) => this.applyDelta(data),
      reload: () => this.reload(),
      'show-cancelled': () => this.cancel(),
    }));
    const timer = setInterval(() => this.expireHolds(), 1000);
    ctx.onLeave(() => clearInterval(timer));
  }

  header() {
    const { show } = this;
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

  renderNotice() {
    const text = this.cancelled ? t('show.cancelled') : this.onSale ? '' : t('show.notOnSale');
    // The notice is a live region that stays in the page (empty and invisible when there
    // is nothing to say), so a cancellation arriving later is read out.
    this.notice.textContent = text;
    this.grid.classList.toggle('closed', !this.onSale);
  }

  categories() {
    const prices = new Map();
    for (const seat of this.seats.values()) if (!prices.has(seat.category)) prices.set(seat.category, seat.price);
    return CATEGORY_ORDER.filter((c) => prices.has(c)).map((c) => ({ category: c, price: prices.get(c) }));
  }

  bestForm() {
    this.bestCount = h('input', {
      id: 'best-count', type: 'number', min: 1, max: this.maxSeats, value: Math.min(2, this.maxSeats), inputmode: 'numeric', required: true,
    });
    this.bestCategory = h('select', { id: 'best-category' },
      h('option', { value: '', text: t('show.best.any') }),
      this.categories().map(({ category, price }) =>
        h('option', { value: category, text: `${categoryName(category)} (${money(price, { short: true })})` })));
    this.bestAccessible = h('input', { id: 'best-accessible', type: 'checkbox' });
    this.bestButton = h('button', { type: 'submit', class: 'secondary', text: t('show.best.submit') });
    this.bestError = alertBox();
    return h('form', { class: 'best-seats', 'aria-labelledby': 'best-title', onsubmit: (e) => { e.preventDefault(); this.best(); } },
      h('h2', { id: 'best-title', text: t('show.best.title') }),
      h('div', { class: 'best-fields' },
        h('div', { class: 'field narrow' }, h('label', { for: 'best-count', text: t('show.best.count') }), this.bestCount),
        h('div', { class: 'field' }, h('label', { for: 'best-category', text: t('show.best.category') }), this.bestCategory),
        h('div', { class: 'check' }, this.bestAccessible, h('label', { for: 'best-accessible', text: t('show.best.accessible') })),
        this.bestButton),
      this.bestError);
  }

  legend() {
    const item = (swatchClass, text) => h('li', {}, h('span', { class: `swatch ${swatchClass}`, 'aria-hidden': 'true' }), text);
    return h('div', { class: 'legend' },
      h('h2', { class: 'visually-hidden', text: t('show.legend') }),
      h('ul', { class: 'legend-list' },
        this.categories().map(({ category, price }) =>
          item(`cat-${category}`, h('span', {}, h('strong', { text: categoryName(category) }), ` ${money(price, { short: true })}`))),
        item('is-selected', t('show.selected')),
        item('is-taken', t('show.unavailable')),
        item('acc', t('show.accessible'))));
  }

  buildGrid(map) {
    const grid = h('div', { role: 'grid', class: 'seat-grid', 'aria-label': t('show.seats') });
    grid.style.setProperty('--cols', String(map.grid_cols));
    const byRow = new Map();
    for (const seat of this.seats.values()) {
      if (!byRow.has(seat.gridRow)) byRow.set(seat.gridRow, []);
      byRow.get(seat.gridRow).push(seat);
    }
    let lastCaption = null;
    for (let r = 0; r < map.grid_rows; r++) {
      const seats = byRow.get(r);
      if (!seats) {
        grid.append(h('div', { class: 'row-gap', 'aria-hidden': 'true' }));
        continue;
      }
      seats.sort((a, b) => a.gridCol - b.gridCol);
      // Where the category changes, a caption across the grid names it and its price
      // (each seat's accessible name says it too).
      const categories = CATEGORY_ORDER.filter((c) => seats.some((s) => s.category === c));
      const caption = categories.map((c) => {
        const price = seats.find((s) => s.category === c).price;
        return `${categoryName(c)} · ${money(price, { short: true })}`;
      }).join(' / ');
      if (caption !== lastCaption) {
        grid.append(h('div', { class: `cat-caption cat-${categories[0]}`, 'aria-hidden': 'true', text: caption }));
        lastCaption = caption;
      }
      const rowLabel = seats[0].row;
      const rowEl = h('div', { role: 'row', class: 'seat-row' },
        h('div', { role: 'rowheader', class: 'row-label', text: rowLabel }));
      const index = this.rows.length;
      seats.forEach((seat, i) => {
        seat.ri = index;
        seat.ci = i;
        seat.el = h('button', {
          type: 'button', class: `seat cat-${seat.category}${seat.accessible ? ' acc' : ''}`,
          tabindex: '-1', 'data-label': seat.label, text: seat.number,
        });
        const cell = h('div', { role: 'gridcell', class: 'seat-cell' }, seat.el);
        cell.style.gridColumn = String(seat.gridCol + 2);
        rowEl.append(cell);
      });
      const end = h('div', { class: 'row-label', 'aria-hidden': 'true', text: rowLabel });
      end.style.gridColumn = String(map.grid_cols + 2);
      rowEl.append(end);
      this.rows.push(seats);
      grid.append(rowEl);
    }
    grid.addEventListener('click', (event) => {
      const button = event.target.closest('button.seat');
      if (button) this.toggle(button.dataset.label);
    });
    grid.addEventListener('keydown', (event) => this.onKey(event));
    grid.addEventListener('focusin', (event) => {
      const button = event.target.closest('button.seat');
      if (button) this.setActive(button.dataset.label, false);
    });
    return grid;
  }

  selectionPanel() {
    this.selCount = h('p', { class: 'sel-count' });
    this.selList = h('ul', { class: 'sel-list' });
    this.selTotal = h('p', { class: 'sel-total' });
    this.holdButton = h('button', { type: 'button', class: 'primary', text: t('show.hold'), onclick: () => this.hold() });
    this.clearButton = h('button', { type: 'button', class: 'link-button', text: t('show.clear'), onclick: () => this.clear() });
    this.holdError = alertBox();
    return h('aside', { class: 'selection card', 'aria-labelledby': 'sel-title' },
      h('h2', { id: 'sel-title', text: t('show.your') }),
      this.selCount, this.selList, this.selTotal,
      h('div', { class: 'actions' }, this.holdButton, this.clearButton),
      this.holdError);
  }

  // --- seat states ---------------------------------------------------------------------

  isAvailable(seat) {
    if (seat.state === 'available') return true;
    return seat.state === 'held' && seat.heldUntil !== null && seat.heldUntil <= serverNow();
  }

  paint(seat) {
    const available = this.isAvailable(seat);
    const selected = this.selected.has(seat.label);
    const signature = `${available}|${selected}|${this.onSale}`;
    if (seat.painted === signature) return;
    seat.painted = signature;
    const b = seat.el;
    b.classList.toggle('is-taken', !available);
    b.classList.toggle('is-selected', selected);
    b.setAttribute('aria-pressed', selected ? 'true' : 'false');
    if (available && this.onSale) b.removeAttribute('aria-disabled');
    else b.setAttribute('aria-disabled', 'true');
    b.setAttribute('aria-label', t(seat.accessible ? 'seat.nameAccessible' : 'seat.name', {
      row: seat.row,
      number: seat.number,
      category: categoryName(seat.category).toLocaleLowerCase(locale),
      price: money(seat.price, { short: true }),
      state: t(available ? 'seat.available' : 'seat.unavailable'),
    }));
  }

  paintAll() {
    for (const seat of this.seats.values()) this.paint(seat);
  }

  setState(label, state, heldUntil) {
    const seat = this.seats.get(label);
    if (!seat) return;
    seat.state = state;
    seat.heldUntil = heldUntil ? Date.parse(heldUntil) : null;
    if (seat.state === 'held' && seat.heldUntil !== null) this.expiring.add(seat);
    else this.expiring.delete(seat);
    this.paint(seat);
  }

  applySnapshot(data) {
    if (!Array.isArray(data.seats)) return;
    if (data.on_sale === false && this.onSale) {
      this.onSale = false;
      this.renderNotice();
      this.renderSelection();
    }
    for (const seat of data.seats) this.setState(seat.label, seat.state, seat.held_until);
    if (!this.onSale) this.paintAll();
    this.dropLostSeats();
  }

  applyDelta(data) {
    if (!Array.isArray(data.seats)) return;
    for (const label of data.seats) this.setState(label, data.state, data.held_until);
    this.dropLostSeats();
  }

  async reload() {
    try {
      const map = await fetchMap(this.showId);
      for (const view of map.seats) {
        const seat = this.seats.get(view.label);
        if (seat && seat.price.amount !== view.price.amount) {
          seat.price = view.price;
          seat.painted = '';
        }
        this.setState(view.label, view.state, null);
      }
      this.onSale = this.onSale && map.on_sale;
      this.paintAll();
      this.renderNotice();
      this.renderSelection();
      return true;
    } catch (error) {
      showError(this.holdError, error);
      return false;
    }
  }

  /** Chosen seats someone else just took leave the selection, and the customer is told. */
  dropLostSeats() {
    if (this.holding) return;
    const lost = [...this.selected].filter((label) => !this.isAvailable(this.seats.get(label)));
    if (!lost.length) return;
    for (const label of lost) {
      this.selected.delete(label);
      this.paint(this.seats.get(label));
    }
    this.renderSelection();
    announce(t('show.lost', { n: lost.length, seats: list(lost) }));
  }

  expireHolds() {
    const now = serverNow();
    for (const seat of this.expiring) {
      if (seat.heldUntil <= now) {
        this.expiring.delete(seat);
        this.paint(seat);
      }
    }
  }

  cancel() {
    this.cancelled = true;
    this.onSale = false;
    this.selected.clear();
    this.paintAll();
    this.renderSelection();
    this.renderNotice();
  }

  // --- choosing ------------------------------------------------------------------------

  toggle(label) {
    const seat = this.seats.get(label);
    if (!seat) return;
    if (!this.onSale) {
      announce(this.cancelled ? t('show.cancelled') : t('show.notOnSale'));
      return;
    }
    if (this.selected.has(label)) {
      this.selected.delete(label);
    } else if (!this.isAvailable(seat)) {
      announce(t('show.isUnavailable', { seat: label }));
      return;
    } else if (this.selected.size >= this.maxSeats) {
      announce(t('show.max', { n: this.maxSeats }));
      return;
    } else {
      this.selected.add(label);
    }
    showError(this.holdError, null);
    this.paint(seat);
    this.renderSelection();
  }

  clear() {
    const labels = [...this.selected];
    this.selected.clear();
    for (const label of labels) this.paint(this.seats.get(label));
    this.renderSelection();
  }

  selectOnly(labels) {
    const before = [...this.selected];
    this.selected = new Set(labels.filter((l) => this.seats.has(l)));
    for (const label of [...before, ...this.selected]) this.paint(this.seats.get(label));
    this.renderSelection();
  }

  orderedSelection() {
    return [...this.selected].map((l) => this.seats.get(l))
      .sort((a, b) => a.gridRow - b.gridRow || a.gridCol - b.gridCol);
  }

  renderSelection() {
    const seats = this.orderedSelection();
    this.selCount.textContent = seats.length
      ? t('show.seatsSelected', { n: seats.length })
      : t('show.noneSelected');
    this.selList.replaceChildren(...seats.map((seat) =>
      h('li', {}, h('span', { class: `swatch small cat-${seat.category}`, 'aria-hidden': 'true' }),
        h('strong', { text: seat.label }), ` ${categoryName(seat.category)} · ${money(seat.price, { short: true })}`)));
    if (seats.length) {
      const total = { amount: seats.reduce((sum, s) => sum + s.price.amount, 0), currency: seats[0].price.currency };
      this.selTotal.replaceChildren(h('span', { text: t('show.total') }), ' ', h('strong', { text: money(total) }));
    } else {
      this.selTotal.replaceChildren();
    }
    this.holdButton.disabled = !seats.length || !this.onSale || this.holding;
    this.clearButton.hidden = !seats.length;
    this.bestButton.disabled = !this.onSale;
  }

  async best() {
    showError(this.bestError, null);
    const count = Number(this.bestCount.value);
    if (!Number.isInteger(count) || count < 1 || count > this.maxSeats) {
      showError(this.bestError, { title: t('show.max', { n: this.maxSeats }) });
      this.bestCount.focus();
      return;
    }
    const body = { count };
    if (this.bestCategory.value) body.category = this.bestCategory.value;
    if (this.bestAccessible.checked) body.accessible = true;
    this.bestButton.disabled = true;
    try {
      const proposal = await api(`/api/v1/shows/${encodeURIComponent(this.showId)}/best-available`, { method: 'POST', body });
      const labels = proposal.seats.map((s) => (typeof s === 'string' ? s : s.label));
      // What the server proposes is free now, whatever this page last heard.
      for (const label of labels) {
        const seat = this.seats.get(label);
        if (seat && !this.isAvailable(seat)) this.setState(label, 'available', null);
      }
      this.selectOnly(labels);
      this.setActive(labels[0], false);
      const ordered = this.orderedSelection().map((s) => s.label);
      let message = t('show.best.found', { n: ordered.length, seats: list(ordered) });
      if (proposal.together === false) message += ` ${t('show.best.apart')}`;
      announce(message);
    } catch (error) {
      showError(this.bestError, error);
    } finally {
      this.bestButton.disabled = !this.onSale;
    }
  }

  async hold() {
    showError(this.holdError, null);
    const seats = this.orderedSelection().map((s) => s.label);
    if (!seats.length) return;
    if (!session.signedIn()) {
      keepPendingSeats(this.showId, seats);
      this.nav.signIn(`/show/${this.showId}`, t('show.signinFirst'));
      return;
    }
    this.holding = true;
    this.holdButton.disabled = true;
    this.holdButton.textContent = t('show.holding');
    try {
      const booking = await api('/api/v1/bookings', {
        method: 'POST',
        auth: true,
        idempotent: true,
        body: this.admission
          ? { show_id: this.showId, seats, admission_token: this.admission.token }
          : { show_id: this.showId, seats },
      });
      this.nav.go(`/booking/${booking.id}`);
      return;
    } catch (error) {
      this.holding = false;
      if (error.code === 'unauthorized') {
        keepPendingSeats(this.showId, seats);
        this.nav.signIn(`/show/${this.showId}`, t('auth.expired'));
        return;
      }
      if (error.code === 'seat-unavailable') {
        const taken = Array.isArray(error.problem.seats) && error.problem.seats.length
          ? error.problem.seats.map(String)
          : seats;
        for (const label of taken) {
          this.selected.delete(label);
          const seat = this.seats.get(label);
          if (seat) this.setState(label, seat.state === 'available' ? 'held' : seat.state, null);
        }
        // Never keep showing what the server refused: the map is read again.
        await this.reload();
        this.dropLostSeats();
        this.renderSelection();
        showError(this.holdError, { title: t('show.taken', { n: taken.length, seats: list(taken) }) });
      } else {
        if (error.code === 'show-not-on-sale') {
          this.onSale = false;
          this.paintAll();
          this.renderNotice();
        }
        showError(this.holdError, error);
      }
    } finally {
      this.holdButton.textContent = t('show.hold');
      this.renderSelection();
    }
  }

  // --- keyboard ------------------------------------------------------------------------

  firstFocusable() {
    const selected = this.orderedSelection()[0];
    if (selected) return selected;
    for (const row of this.rows) for (const seat of row) if (this.isAvailable(seat)) return seat;
    return this.rows[0]?.[0];
  }

  setActive(label, focus) {
    const seat = label && this.seats.get(label);
    if (!seat) return;
    if (this.active && this.active !== seat) this.active.el.tabIndex = -1;
    this.active = seat;
    seat.el.tabIndex = 0;
    if (focus) seat.el.focus();
  }

  onKey(event) {
    const button = event.target.closest('button.seat');
    if (!button) return;
    const seat = this.seats.get(button.dataset.label);
    const row = this.rows[seat.ri];
    const nearest = (r) => {
      const seats = this.rows[r];
      if (!seats) return null;
      let best = seats[0];
      for (const s of seats) if (Math.abs(s.gridCol - seat.gridCol) < Math.abs(best.gridCol - seat.gridCol)) best = s;
      return best;
    };
    const last = this.rows.length - 1;
    let target;
    switch (event.key) {
      case 'ArrowRight': target = row[seat.ci + 1]; break;
      case 'ArrowLeft': target = row[seat.ci - 1]; break;
      case 'ArrowDown': target = nearest(seat.ri + 1); break;
      case 'ArrowUp': target = nearest(seat.ri - 1); break;
      case 'PageDown': target = nearest(Math.min(last, seat.ri + 5)); break;
      case 'PageUp': target = nearest(Math.max(0, seat.ri - 5)); break;
      case 'Home': target = event.ctrlKey ? this.rows[0][0] : row[0]; break;
      case 'End': target = event.ctrlKey ? this.rows[last].at(-1) : row.at(-1); break;
      default: return;
    }
    event.preventDefault();
    if (target) this.setActive(target.label, true);
  }
}
