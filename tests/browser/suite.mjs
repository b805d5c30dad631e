// Browser tests of the customer web app, against a running `marquee serve --demo` on a
// fresh database: MARQUEE_URL=http://127.0.0.1:8080 node --test tests/browser/suite.mjs
// Every step saves a full-page screenshot to MARQUEE_SCREENSHOTS (default ./screenshots).
// Chromium is the system's (CHROMIUM, default /usr/bin/chromium), driven by playwright-core.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.MARQUEE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const SHOTS = process.env.MARQUEE_SCREENSHOTS || path.join(here, 'screenshots');
const AXE = path.join(here, 'node_modules', 'axe-core', 'axe.min.js');
const DEMO = { email: 'customer@demo.test', password: 'demo-password' };
const PARTNER = { email: 'partner@demo.test', password: 'demo-password' };
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };
const SEAT_STREAM = '**/api/v1/shows/*/seats/stream';

let browser;
let fixtures;

// --- helpers ---------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `probe` until it returns something truthy; fails with `what` after `timeout`. */
async function poll(what, probe, { timeout = 5000, interval = 25 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) assert.fail(`${what}: not within ${timeout} ms (last: ${last})`);
    await sleep(interval);
  }
}

let shotNumber = 0;
async function shot(page, name) {
  const file = `${String(++shotNumber).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path: path.join(SHOTS, file), fullPage: true });
}

async function call(method, url, { token, body, key } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers['Idempotency-Key'] = key;
  const response = await fetch(`${BASE}${url}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, body: json ?? text };
}

async function ok(method, url, options) {
  const response = await call(method, url, options);
  assert.ok(response.status >= 200 && response.status < 300,
    `${method} ${url} → ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function login(email, password) {
  const pair = await ok('POST', '/api/v1/auth/login', { body: { email, password } });
  return { email, access_token: pair.access_token, refresh_token: pair.refresh_token };
}

let registered = 0;
/** A new customer account, signed in through the API. */
async function newCustomer(name) {
  const email = `${name}-${Date.now()}-${++registered}-${Math.random().toString(36).slice(2, 8)}@browser.test`;
  const password = 'browser-test-password';
  await ok('POST', '/api/v1/auth/register', { body: { email, password, display_name: name } });
  return { ...(await login(email, password)), name, password };
}

/** A browser context whose tab starts signed in as `customer` (tokens in sessionStorage). */
async function contextFor(customer, options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-IN', ...options });
  if (customer) {
    const value = JSON.stringify({
      access_token: customer.access_token, refresh_token: customer.refresh_token,
      email: customer.email, name: customer.name,
    });
    await context.addInitScript((v) => {
      if (!sessionStorage.getItem('marquee.session')) sessionStorage.setItem('marquee.session', v);
    }, value);
  }
  return context;
}

/** A page that fails the test on uncaught errors and CSP violations. */
async function newPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/.test(message.text())) {
      page.problems.push(`CSP: ${message.text()}`);
    }
  });
  return page;
}

function assertClean(page) {
  assert.deepEqual(page.problems, [], 'no script errors or CSP violations');
}

async function open(page, hash) {
  await page.goto(`${BASE}/${hash}`);
  await page.locator('main h1').first().waitFor();
}

/** The seat map is drawn; with `live`, its seat stream has delivered the first snapshot. */
async function seatMapReady(page, { live = false } = {}) {
  await page.getByRole('grid', { name: /Seats/ }).waitFor();
  if (live) await page.locator('.seat-page[data-stream="live"]').waitFor({ timeout: 10000 });
}

const seat = (page, label) => page.locator(`button.seat[data-label="${label}"]`);

async function seatName(page, label) {
  return seat(page, label).getAttribute('aria-label');
}

async function bestSeats(showId, count) {
  const proposal = await ok('POST', `/api/v1/shows/${showId}/best-available`, { body: { count } });
  return proposal.seats.map((s) => (typeof s === 'string' ? s : s.label));
}

async function hold(customer, showId, seats) {
  return ok('POST', '/api/v1/bookings', {
    token: customer.access_token, key: crypto.randomUUID(), body: { show_id: showId, seats },
  });
}

async function holdAndPay(customer, showId, seats) {
  const booking = await hold(customer, showId, seats);
  await ok('POST', `/api/v1/bookings/${booking.id}/payments`, {
    token: customer.access_token, key: crypto.randomUUID(), body: { card_token: 'tok_visa' },
  });
  return poll('booking confirmed', async () => {
    const now = await ok('GET', `/api/v1/bookings/${booking.id}?wait_ms=3000`, { token: customer.access_token });
    return now.status === 'confirmed' && now;
  }, { timeout: 15000 });
}

/** Elements of the page that stick out of the viewport, other than the seat grid's own scroller. */
async function overflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > width) out.push(`page scrollWidth ${document.documentElement.scrollWidth} > ${width}`);
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('.seat-scroll') && !el.classList.contains('seat-scroll')) continue;
      if (el.closest('.visually-hidden, .skip-link, dialog:not([open])')) continue;
      const box = el.getBoundingClientRect();
      if (box.width && box.right > width + 0.5) {
        out.push(`${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).split(' ').join('.')}` : ''} right=${Math.round(box.right)}`);
      }
    }
    return out;
  });
}

async function axe(page, name) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  const described = result.violations.map((v) => [
    `  ${v.id} (${v.impact}): ${v.help}`,
    `    ${v.helpUrl}`,
    ...v.nodes.slice(0, 5).map((n) => `    - ${n.target.join(' ')}\n      ${n.failureSummary.replace(/\n/g, '\n      ')}`),
  ].join('\n'));
  return described.length ? [`${name}:\n${described.join('\n')}`] : [];
}

// --- fixtures ----------------------------------------------------------------------------

function todayIn(timeZone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

function addDays(ymd, days) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  // Tests other than the walk through the pages (which starts in the first city) each get
  // a show of their own in the last city, tomorrow, so that none sees another's seats.
  const cities = (await ok('GET', '/api/v1/cities?limit=100')).items;
  const city = cities.at(-1);
  const date = addDays(todayIn(city.timezone), 1);
  const movies = (await ok('GET', `/api/v1/cities/${city.id}/movies?date=${date}&limit=100`)).items;
  const shows = [];
  for (const movie of movies) {
    const listing = await ok('GET', `/api/v1/cities/${city.id}/movies/${movie.id}/shows?date=${date}&limit=100`);
    for (const item of listing.items) for (const show of item.shows) shows.push({ id: show.id, movie, city });
  }
  assert.ok(shows.length >= 8, `enough shows tomorrow in ${city.name}: ${shows.length}`);
  const [first, second] = [await newCustomer('Asha'), await newCustomer('Ben')];
  fixtures = { cities, city, date, shows, first, second };
});

after(async () => {
  await browser?.close();
});

// --- tests -------------------------------------------------------------------------------

test('a customer walks from a city to a paid ticket and finds it in My bookings', { timeout: 90000 }, async () => {
  const context = await contextFor(null);
  const page = await newPage(context);
  await open(page, '#/');
  await shot(page, 'walk-cities');

  const city = fixtures.cities[0];
  await page.getByRole('link', { name: city.name, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: `Movies in ${city.name}` }).waitFor();
  await page.getByRole('link', { name: /^Tomorrow/ }).click();
  await page.waitForURL(/date=\d{4}-\d{2}-\d{2}/);
  await page.locator('.movie-list h2 a').first().waitFor();
  await shot(page, 'walk-movies');

  const movieLink = page.locator('.movie-list').getByRole('heading', { level: 2 }).getByRole('link').first();
  const movieTitle = (await movieLink.textContent()).trim();
  await movieLink.click();
  await page.getByRole('heading', { level: 1, name: movieTitle }).waitFor();
  await page.getByRole('heading', { name: 'Show times' }).waitFor();
  await shot(page, 'walk-showtimes');

  await page.locator('a.showtime').first().click();
  await seatMapReady(page);
  await shot(page, 'walk-seat-map');

  await page.getByLabel('Number of seats').fill('3');
  await page.getByRole('button', { name: 'Find best seats' }).click();
  await poll('three seats chosen', async () => (await page.getByRole('button', { pressed: true }).count()) === 3);
  const chosen = await page.locator('button.seat[aria-pressed="true"]').evaluateAll((els) => els.map((e) => e.dataset.label));
  await shot(page, 'walk-best-three');

  // Holding needs an account: sign in, come back to the same seats, hold them.
  await page.getByRole('button', { name: 'Hold seats' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.getByLabel('E-mail').fill(DEMO.email);
  await page.getByLabel('Password').fill(DEMO.password);
  await shot(page, 'walk-sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await seatMapReady(page);
  await poll('the chosen seats are kept over the sign-in', async () => (await page.getByRole('button', { pressed: true }).count()) === 3);
  await page.getByRole('button', { name: 'Hold seats' }).click();

  await page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
  const timer = page.getByRole('timer');
  const first = await timer.textContent();
  assert.match(first, /^0[0-5]:[0-5]\d$/, 'a mm:ss countdown');
  const seconds = (text) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3));
  assert.ok(seconds(first) > 200 && seconds(first) <= 300, `about five minutes to pay: ${first}`);
  await poll('the countdown ticks', async () => seconds(await timer.textContent()) < seconds(first), { timeout: 3000 });
  const quote = page.getByRole('table', { name: 'Price' });
  for (const label of chosen) await quote.getByRole('rowheader', { name: new RegExp(`^Seat ${label} `) }).waitFor();
  const total = quote.getByRole('row', { name: /^Total/ });
  assert.match(await total.textContent(), /₹\s?[\d,]+\.\d{2}/);
  await shot(page, 'walk-checkout');

  await page.getByLabel('Test Visa card (pays)').check();
  await page.getByRole('button', { name: /^Pay / }).click();
  await page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor({ timeout: 20000 });
  const qr = page.getByRole('img', { name: /^Ticket QR code for / });
  await poll('the QR code image loaded', () => qr.evaluate((img) => img.complete && img.naturalWidth > 0));
  assert.match(await qr.getAttribute('src'), /^blob:/);
  assert.match(await page.locator('code.code').textContent(), /^MQ1\./);
  await page.getByText(movieTitle).first().waitFor();
  for (const label of chosen) assert.match(await page.locator('.ticket').innerText(), new RegExp(`\\b${label}\\b`));
  await shot(page, 'walk-ticket');
  // The tickets again by email: the API queues the message and the page says so.
  await page.getByRole('button', { name: 'Email me my tickets' }).click();
  await page.getByRole('status').filter({ hasText: 'Your tickets are on their way to your email.' }).waitFor();

  await page.getByRole('link', { name: 'My bookings' }).first().click();
  await page.getByRole('heading', { level: 1, name: 'My bookings' }).waitFor();
  const item = page.locator('.booking').filter({ hasText: chosen[0] }).first();
  await item.getByText('Confirmed', { exact: true }).waitFor();
  assert.match(await item.textContent(), new RegExp(movieTitle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await shot(page, 'walk-my-bookings');

  // Cancelling asks first (a <dialog>), then shows the refund: the total less the fees.
  await item.getByRole('button', { name: /^Cancel booking for / }).click();
  const dialog = page.getByRole('dialog', { name: 'Cancel this booking?' });
  await dialog.waitFor();
  const promised = (await dialog.textContent()).match(/You get (₹[\d,]+\.\d{2}) back/)?.[1];
  assert.ok(promised, 'the dialog says what comes back');
  await shot(page, 'walk-cancel-dialog');
  await dialog.getByRole('button', { name: 'Yes, cancel' }).click();
  await item.getByText('Cancelled', { exact: true }).waitFor();
  assert.match(await item.textContent(), new RegExp(`Refund: ${promised.replace('.', '\\.')}`));
  assert.equal(await dialog.isVisible(), false);
  await shot(page, 'walk-cancelled');
  assertClean(page);
  await context.close();
});

test('a declined card shows an error and another card then pays', { timeout: 60000 }, async () => {
  const customer = fixtures.first;
  const show = fixtures.shows[0];
  const booking = await hold(customer, show.id, await bestSeats(show.id, 2));
  const context = await contextFor(customer);
  const page = await newPage(context);
  await open(page, `#/booking/${booking.id}`);
  await page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();

  await page.getByLabel('Test card that is declined').check();
  await page.getByRole('button', { name: /^Pay / }).click();
  const alert = page.locator('.pay [role="alert"]');
  await poll('the decline is shown', async () => /declined/i.test(await alert.textContent()), { timeout: 15000 });
  assert.match(await alert.textContent(), /Choose another card/);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Checkout');
  await shot(page, 'declined');

  await page.getByLabel('Test Visa card (pays)').check();
  await page.getByRole('button', { name: /^Pay / }).click();
  await page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor({ timeout: 20000 });
  const qr = page.getByRole('img', { name: /^Ticket QR code for / });
  await poll('the QR code image loaded', () => qr.evaluate((img) => img.complete && img.naturalWidth > 0));
  await shot(page, 'declined-then-paid');
  assertClean(page);
  await context.close();
});

test('a seat another customer holds turns unavailable on an open map within a second', { timeout: 60000 }, async () => {
  const show = fixtures.shows[1];
  const [label] = await bestSeats(show.id, 1);
  const contextA = await contextFor(fixtures.first);
  const contextB = await contextFor(fixtures.second);
  const [pageA, pageB] = [await newPage(contextA), await newPage(contextB)];
  await open(pageA, `#/show/${show.id}`);
  await open(pageB, `#/show/${show.id}`);
  await seatMapReady(pageA, { live: true });
  await seatMapReady(pageB, { live: true });
  await pageA.evaluate(() => { window.neverReloaded = true; });

  // A has the seat chosen; B takes it.
  await seat(pageA, label).click();
  assert.equal(await seat(pageA, label).getAttribute('aria-pressed'), 'true');
  assert.match(await seatName(pageA, label), /, available$/);
  await seat(pageB, label).click();
  const held = pageB.waitForResponse((r) => r.url().endsWith('/api/v1/bookings') && r.request().method() === 'POST');
  await pageB.getByRole('button', { name: 'Hold seats' }).click();
  const response = await held;
  const answered = Date.now();
  assert.equal(response.status(), 201);

  await poll('A sees the seat unavailable', async () => /, unavailable$/.test(await seatName(pageA, label)), { timeout: 1000, interval: 10 });
  const elapsed = Date.now() - answered;
  console.log(`    seat ${label} unavailable on the other map ${elapsed} ms after the hold answered`);
  assert.ok(elapsed < 1000, `within 1 s (${elapsed} ms)`);
  assert.equal(await seat(pageA, label).getAttribute('aria-pressed'), 'false', "A's choice is dropped");
  assert.equal(await seat(pageA, label).getAttribute('aria-disabled'), 'true');
  await poll('A is told politely', async () => /just taken/.test(await pageA.locator('#status').textContent()));
  assert.equal(await pageA.evaluate(() => window.neverReloaded), true, 'A never reloaded');
  await pageB.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
  await shot(pageA, 'live-other-map');
  await shot(pageB, 'live-holder-checkout');
  assertClean(pageA);
  assertClean(pageB);
  await contextA.close();
  await contextB.close();
});

test('the seat grid works with the keyboard alone', { timeout: 60000 }, async () => {
  const show = fixtures.shows[2];
  const context = await contextFor(null);
  const page = await newPage(context);
  await open(page, `#/show/${show.id}`);
  await seatMapReady(page);

  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return el?.matches('button.seat') ? el.dataset.label : el?.tagName.toLowerCase() + (el?.textContent ? `:${el.textContent.trim().slice(0, 20)}` : '');
  });
  const isSeat = (value) => /^[A-Z]+\d+$/.test(value);
  let at = await focused();
  for (let i = 0; i < 40 && !isSeat(at); i++) {
    await page.keyboard.press('Tab');
    at = await focused();
  }
  assert.ok(isSeat(at), `Tab reaches the seat grid (at ${at})`);
  assert.equal(await page.locator('button.seat[tabindex="0"]').count(), 1, 'one Tab stop for the whole grid');
  const start = at;
  const [row, number] = [start.match(/^[A-Z]+/)[0], Number(start.match(/\d+$/)[0])];

  await page.keyboard.press('ArrowRight');
  const right = await focused();
  assert.equal(right, `${row}${number + 1}`, 'ArrowRight moves to the next seat');
  await page.keyboard.press('ArrowDown');
  const down = await focused();
  assert.ok(isSeat(down) && !down.startsWith(row), `ArrowDown moves to the next row (${down})`);
  await page.keyboard.press('ArrowUp');
  assert.equal(await focused(), right, 'ArrowUp comes back');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await focused(), start, 'ArrowLeft comes back');
  assert.equal(await page.locator('button.seat[tabindex="0"]').count(), 1);

  await page.keyboard.press('Space');
  assert.equal(await seat(page, start).getAttribute('aria-pressed'), 'true', 'Space selects');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  assert.equal(await seat(page, right).getAttribute('aria-pressed'), 'true', 'Enter selects');
  await page.keyboard.press('ArrowRight');
  const third = await focused();
  await page.keyboard.press('Enter');
  assert.equal(await seat(page, third).getAttribute('aria-pressed'), 'true');
  await page.keyboard.press('Space');
  assert.equal(await seat(page, third).getAttribute('aria-pressed'), 'false', 'pressing again deselects');
  assert.deepEqual(
    await page.locator('button.seat[aria-pressed="true"]').evaluateAll((els) => els.map((e) => e.dataset.label)),
    [start, right]);
  assert.match(await page.locator('.selection').textContent(), /2 seats selected/);
  assert.match(await seatName(page, start), new RegExp(`^Row ${row}, seat ${number}, \\w+, ₹[\\d,]+, (wheelchair accessible, )?available$`));
  await shot(page, 'keyboard-selected');

  await page.keyboard.press('Tab');
  assert.match(await focused(), /^button:Hold seats/, 'Tab leaves the grid for the next control');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focused(), third, 'Shift+Tab returns to the seat last focused');
  assertClean(page);
  await context.close();
});

test('seats taken before the hold: the 409 names them and the map is read again', { timeout: 60000 }, async () => {
  const show = fixtures.shows[3];
  const wanted = await bestSeats(show.id, 2);
  const context = await contextFor(fixtures.first);
  // No live stream for this page, so the map cannot learn of the other hold by itself.
  await context.route(SEAT_STREAM, (route) => route.abort());
  const page = await newPage(context);
  await open(page, `#/show/${show.id}`);
  await seatMapReady(page);
  for (const label of wanted) await seat(page, label).click();
  assert.equal(await page.getByRole('button', { pressed: true }).count(), 2);

  await hold(fixtures.second, show.id, wanted);
  for (const label of wanted) assert.match(await seatName(page, label), /, available$/, 'the page has not heard');
  await shot(page, 'conflict-before-hold');

  await page.getByRole('button', { name: 'Hold seats' }).click();
  const alert = page.locator('.selection [role="alert"]');
  await poll('the taken seats are named', async () => /just taken/.test(await alert.textContent()));
  for (const label of wanted) assert.match(await alert.textContent(), new RegExp(`\\b${label}\\b`));
  for (const label of wanted) {
    await poll(`seat ${label} shows unavailable`, async () => /, unavailable$/.test(await seatName(page, label)));
    assert.equal(await seat(page, label).getAttribute('aria-pressed'), 'false');
  }
  assert.equal(await page.getByRole('button', { name: 'Hold seats' }).isDisabled(), true);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), show.movie.title);
  await shot(page, 'conflict-after-hold');
  assertClean(page);
  await context.close();
});

test('every page has no axe violations on desktop and on a phone', { timeout: 120000 }, async () => {
  const customer = fixtures.first;
  const show = fixtures.shows[4];
  const [paidSeat, heldSeat] = await bestSeats(show.id, 2);
  const paid = await holdAndPay(customer, show.id, [paidSeat]);
  const pending = await hold(customer, show.id, [heldSeat]);
  const { city, date } = fixtures;
  const pages = [
    ['cities', '#/'],
    ['movies', `#/city/${city.id}?date=${date}`],
    ['showtimes', `#/movie/${show.movie.id}?city=${city.id}&date=${date}`],
    ['seat-map', `#/show/${show.id}`],
    ['sign-in', '#/signin'],
    ['register', '#/register'],
    ['checkout', `#/booking/${pending.id}`],
    ['confirmation', `#/booking/${paid.id}`],
    ['not-found', '#/show/shw_0000000000000000000000000'],
    ['my-bookings', '#/bookings'],
  ];
  const findings = [];
  for (const [viewport, size] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    // axe is injected as a script of the page's own, which the app's CSP would refuse.
    const context = await contextFor(customer, { viewport: size, bypassCSP: true });
    const page = await newPage(context);
    for (const [name, hash] of pages) {
      await open(page, hash);
      if (name === 'seat-map') await seatMapReady(page);
      if (name === 'confirmation') {
        await poll('QR loaded', () => page.getByRole('img', { name: /QR/ }).evaluate((img) => img.naturalWidth > 0));
      }
      if (name === 'my-bookings') await page.locator('.booking').first().waitFor();
      findings.push(...await axe(page, `${name} (${viewport})`));
      await shot(page, `axe-${viewport}-${name}`);
    }
    // The cancellation dialog, open.
    await page.getByRole('button', { name: /^Cancel booking for / }).first().click();
    await page.getByRole('dialog', { name: 'Cancel this booking?' }).waitFor();
    findings.push(...await axe(page, `cancel dialog (${viewport})`));
    await shot(page, `axe-${viewport}-cancel-dialog`);
    await page.getByRole('button', { name: 'Keep booking' }).click();
    assertClean(page);
    await context.close();
  }
  assert.equal(findings.length, 0, `axe violations:\n${findings.join('\n')}`);
});

test('on a phone the seat map, sign-up and checkout fit the screen', { timeout: 90000 }, async () => {
  const show = fixtures.shows[5];
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-IN' });
  const page = await newPage(context);
  await open(page, `#/show/${show.id}`);
  await seatMapReady(page);
  assert.deepEqual(await overflow(page), [], 'nothing but the seat grid scrolls sideways');
  const scroller = await page.locator('.seat-scroll').evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
  assert.ok(scroller.client <= PHONE.width, 'the grid scroller fits the screen');
  await shot(page, 'phone-seat-map');

  await page.getByLabel('Number of seats').fill('2');
  await page.getByRole('button', { name: 'Find best seats' }).tap();
  await poll('two seats chosen', async () => (await page.getByRole('button', { pressed: true }).count()) === 2);
  await page.getByRole('button', { name: 'Hold seats' }).tap();

  // A new customer signs up on the way.
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.getByRole('link', { name: 'Create an account' }).tap();
  await page.getByRole('heading', { level: 1, name: 'Create an account' }).waitFor();
  assert.deepEqual(await overflow(page), []);
  await page.getByLabel('Your name').fill('Chitra');
  await page.getByLabel('E-mail').fill(`chitra-${Date.now()}@browser.test`);
  await page.getByLabel('Password').fill('phone-test-password');
  await shot(page, 'phone-register');
  await page.getByRole('button', { name: 'Create account' }).tap();
  await seatMapReady(page);
  await poll('the chosen seats are kept', async () => (await page.getByRole('button', { pressed: true }).count()) === 2);
  await page.getByRole('button', { name: 'Hold seats' }).tap();

  await page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
  assert.deepEqual(await overflow(page), [], 'the checkout fits');
  await shot(page, 'phone-checkout');
  await page.getByRole('button', { name: /^Pay / }).tap();
  await page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor({ timeout: 20000 });
  await poll('QR loaded', () => page.getByRole('img', { name: /QR/ }).evaluate((img) => img.naturalWidth > 0));
  assert.deepEqual(await overflow(page), [], 'the ticket fits');
  await shot(page, 'phone-ticket');
  assertClean(page);
  await context.close();
});

test('a show cancelled by its theatre stops sales on the open pages', { timeout: 60000 }, async () => {
  const show = fixtures.shows[6];
  const [label, heldSeat] = await bestSeats(show.id, 2);
  const booking = await hold(fixtures.second, show.id, [heldSeat]);
  const contextA = await contextFor(fixtures.first);
  const contextB = await contextFor(fixtures.second);
  const [map, checkout] = [await newPage(contextA), await newPage(contextB)];
  await open(map, `#/show/${show.id}`);
  await seatMapReady(map, { live: true });
  await open(checkout, `#/booking/${booking.id}`);
  await checkout.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
  await map.evaluate(() => { window.neverReloaded = true; });
  await seat(map, label).click();

  const partner = await login(PARTNER.email, PARTNER.password);
  await ok('POST', `/api/v1/partner/shows/${show.id}/cancel`, { token: partner.access_token });

  await map.getByText('This show has been cancelled').first().waitFor({ timeout: 5000 });
  assert.equal(await map.getByRole('button', { name: 'Hold seats' }).isDisabled(), true);
  assert.equal(await seat(map, label).getAttribute('aria-disabled'), 'true');
  assert.equal(await map.getByRole('button', { pressed: true }).count(), 0);
  assert.equal(await map.evaluate(() => window.neverReloaded), true);
  await shot(map, 'cancelled-show-map');
  await checkout.getByRole('heading', { level: 1, name: 'Booking cancelled' }).waitFor({ timeout: 10000 });
  await shot(checkout, 'cancelled-show-checkout');
  assertClean(map);
  assertClean(checkout);
  await contextA.close();
  await contextB.close();
});

test('a waiting room queues two customers and opens the seat map on each one\'s turn', { timeout: 90000 }, async () => {
  // The server admits one buyer at a time (MARQUEE_WAITING_ROOM__MAX_WINDOW=1 in browser.rs).
  const show = fixtures.shows[7];
  const partner = await login(PARTNER.email, PARTNER.password);
  const onSale = new Date(Date.now() + 8000).toISOString();
  const room = await ok('PUT', `/api/v1/partner/shows/${show.id}/waiting-room`, {
    token: partner.access_token, body: { on_sale_at: onSale, seats_per_account: 4 },
  });
  const [chitra, dev] = [await newCustomer('Chitra'), await newCustomer('Dev')];
  // axe is injected as a script of the page's own, which the app's CSP would refuse.
  const contexts = [await contextFor(chitra, { bypassCSP: true }), await contextFor(dev, { bypassCSP: true }), await contextFor(null)];
  const [pageA, pageB, signedOut] = await Promise.all(contexts.map((c) => newPage(c)));

  await open(signedOut, `#/show/${show.id}`);
  await signedOut.getByText('Sign in to join it.', { exact: false }).waitFor();
  assert.equal(await signedOut.getByRole('grid', { name: /Seats/ }).count(), 0, 'no seat map before admission');
  await shot(signedOut, 'room-signed-out');

  const roomState = (page) => page.locator('main').evaluate((m) => `${m.querySelector('[data-room]')?.dataset.room}: ${m.textContent}`);
  for (const page of [pageA, pageB]) {
    await open(page, `#/show/${show.id}`);
    await poll('in the pre-queue', async () => {
      const state = await roomState(page);
      if (state.startsWith('pre-queue')) return true;
      throw new Error(state);
    });
  }
  await pageA.getByText('Sales open in').waitFor();
  assert.match(await pageA.locator('.room-countdown .timer').textContent(), /^\d+ s$|^any moment now$/);
  const violations = await axe(pageA, 'waiting room, pre-queue');
  await shot(pageA, 'room-pre-queue');

  // At the on-sale the two are drawn into an order: the first is admitted, the second waits.
  const first = await poll('one of the two is admitted', async () => {
    for (const page of [pageA, pageB]) if (await page.locator('.seat-page[data-room="admitted"]').count()) return page;
    return null;
  }, { timeout: 20000 });
  const second = first === pageA ? pageB : pageA;
  await second.locator('[data-room="waiting"]').waitFor({ timeout: 5000 });
  assert.equal(await second.locator('.room-status').textContent(), 'You are number 2 in line.');
  assert.equal(await second.locator('.room-ahead').textContent(), 'You are next: those ahead of you are choosing their seats.');
  violations.push(...await axe(second, 'waiting room, in line'));
  await shot(second, 'room-in-line');
  await first.locator('.room-turn').getByText('It is your turn!').waitFor();
  await seatMapReady(first);
  violations.push(...await axe(first, 'waiting room, admitted'));
  await shot(first, 'room-your-turn');
  assert.deepEqual(violations, []);

  // The first holds (the page sends the admission token); the second's page moves on by
  // itself, without a reload.
  await second.evaluate(() => { window.neverReloaded = true; });
  await first.getByRole('button', { name: 'Find best seats' }).click();
  await poll('two seats chosen', async () => (await first.getByRole('button', { pressed: true }).count()) === 2);
  await first.getByRole('button', { name: 'Hold seats' }).click();
  await first.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
  await second.locator('.seat-page[data-room="admitted"]').waitFor({ timeout: 10000 });
  await second.locator('.room-turn').getByText('It is your turn!').waitFor();
  assert.equal(await second.evaluate(() => window.neverReloaded), true);

  // The draw can be checked: the revealed seed hashes to the published fingerprint.
  const audit = await ok('GET', `/api/v1/shows/${show.id}/waiting-room/audit`);
  assert.equal(createHash('sha256').update(Buffer.from(audit.seed, 'hex')).digest('hex'), room.seed_hash);
  assert.equal(audit.order.length, 2);
  for (const page of [pageA, pageB, signedOut]) assertClean(page);
  await Promise.all(contexts.map((c) => c.close()));
});

test('a Hindi browser gets the Hindi app', { timeout: 30000 }, async () => {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'hi-IN' });
  const page = await newPage(context);
  await open(page, '#/');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'hi');
  await page.getByRole('heading', { level: 1, name: 'अपना शहर चुनें' }).waitFor();
  await page.getByRole('link', { name: 'मेरी बुकिंग' }).waitFor();
  await shot(page, 'hindi-cities');
  assertClean(page);
  await context.close();
});
