/* global document, crypto, URLSearchParams */
/**
 * The demo page, built on the typed browser client only: everything it shows
 * comes through `createMilesClient()`. Upstream text is put in the page with
 * `textContent`, never as HTML.
 */
import {
  createMilesClient,
  fetchMilesEndpoints,
  MilesBusinessError,
  MilesNetworkError,
  MilesNotConnectedError,
  MilesProblemError,
} from './client/index.js';

const miles = createMilesClient();

const byId = (id) => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`demo page: #${id} is missing`);
  return found;
};

const ui = {
  lang: byId('lang'),
  status: byId('status'),
  error: byId('error'),
  errorText: byId('error-text'),
  errorDismiss: byId('error-dismiss'),
  programName: byId('program-name'),
  programSection: byId('program-section'),
  programSummary: byId('program-summary'),
  programActions: byId('program-actions'),
  programGifts: byId('program-gifts'),
  connectSection: byId('connect-section'),
  signInSection: byId('signin-section'),
  signIn: byId('signin'),
  connectForm: byId('connect-form'),
  partnerClientId: byId('partner-client-id'),
  email: byId('email'),
  firstName: byId('first-name'),
  accountSection: byId('account-section'),
  userId: byId('user-id'),
  balance: byId('balance'),
  currency: byId('currency'),
  refresh: byId('refresh'),
  logout: byId('logout'),
  earnSection: byId('earn-section'),
  earnActions: byId('earn-actions'),
  giftsSection: byId('gifts-section'),
  giftList: byId('gift-list'),
  historySection: byId('history-section'),
  earns: byId('earns'),
  earnsTotal: byId('earns-total'),
  burns: byId('burns'),
  burnsTotal: byId('burns-total'),
  adsSection: byId('ads-section'),
  ads: { bonus: byId('ads-bonus'), specials: byId('ads-specials'), news: byId('ads-news') },
};

const connectedOnly = [ui.accountSection, ui.earnSection, ui.giftsSection, ui.historySection, ui.adsSection];

const state = {
  /** The program's `data`, in the current language. */
  program: undefined,
  connected: false,
  /** The service runs the OpenID Connect sign-in (IDENTITY_MODE=oidc): a Sign in button instead of the form. */
  oidc: false,
};

/** Builds an element; children are strings (as text) or nodes. */
function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'className') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return node;
}

function lang() {
  return ui.lang.value;
}

function currency() {
  return state.program ? state.program.program.currency : 'points';
}

function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(lang(), { dateStyle: 'medium', timeStyle: 'short' });
}

function newOrderId() {
  return `ORDER-${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
}

// Messages.

function say(text) {
  ui.status.textContent = text;
}

function clearError() {
  ui.error.hidden = true;
  ui.errorText.textContent = '';
}

const BUSINESS_MEANING = {
  2: 'a parameter is missing or invalid',
  4: 'not enough points',
  5: 'this gift is unknown or out of stock',
  6: 'unknown action',
  7: 'already stored (same order id) or over its per-user limit',
  11: 'unknown user',
};

/** One clear sentence per kind of failure, with what to quote when reporting it. */
function describe(err) {
  const ref = err instanceof Error && err.requestId ? ` Request id: ${err.requestId}.` : '';
  if (err instanceof MilesBusinessError) {
    const meaning = BUSINESS_MEANING[err.errorCode] ?? err.errorMsg;
    return `Refused: ${meaning} (errorCode ${err.errorCode}, “${err.errorMsg}”, HTTP ${err.status}).${ref}`;
  }
  if (err instanceof MilesNotConnectedError) {
    return `You are not connected: the session has ended (logged out elsewhere, or expired). Connect again.${ref}`;
  }
  if (err instanceof MilesProblemError) {
    const retry = err.retryAfter !== undefined ? ` Retry in ${err.retryAfter} s.` : '';
    return `${err.title} (HTTP ${err.status})${err.detail ? `: ${err.detail}` : ''}.${retry}${ref}`;
  }
  if (err instanceof MilesNetworkError) {
    return 'The service did not answer. Check your connection and try again.';
  }
  return err instanceof Error ? err.message : String(err);
}

function showError(err) {
  ui.errorText.textContent = describe(err);
  ui.error.hidden = false;
  if (err instanceof MilesNotConnectedError) showDisconnected();
}

/** Runs one user action: the button is busy meanwhile, a failure is shown, never thrown. */
async function act(button, work) {
  clearError();
  const buttons = button ? [button] : [];
  for (const b of buttons) {
    b.disabled = true;
    b.setAttribute('aria-busy', 'true');
  }
  try {
    await work();
  } catch (err) {
    showError(err);
  } finally {
    for (const b of buttons) {
      b.disabled = false;
      b.removeAttribute('aria-busy');
    }
  }
}

// Views.

function showConnected(user) {
  state.connected = true;
  ui.userId.textContent = user.partnerClientId;
  ui.connectSection.hidden = true;
  ui.signInSection.hidden = true;
  // The earn and gift lists now show the program, with the user's own state.
  ui.programSection.hidden = true;
  for (const section of connectedOnly) section.hidden = false;
}

function showDisconnected() {
  state.connected = false;
  ui.connectSection.hidden = state.oidc;
  ui.signInSection.hidden = !state.oidc;
  ui.programSection.hidden = false;
  for (const section of connectedOnly) section.hidden = true;
  ui.balance.textContent = '–';
}

function renderProgram(data) {
  state.program = data;
  ui.programName.textContent = data.program.name;
  ui.programSummary.textContent = `Collect ${data.program.currency} and spend them on gifts.`;
  ui.currency.textContent = data.program.currency;
  ui.programActions.replaceChildren(
    ...data.actions.map((a) =>
      h('li', {}, h('span', {}, a.name), ' ', h('span', { className: 'points' }, `+${a.points} ${data.program.currency}`),
        a.maxPerUser !== undefined ? h('span', { className: 'hint' }, ` (up to ${a.maxPerUser}×)`) : ''),
    ),
  );
  ui.programGifts.replaceChildren(
    ...data.gifts.map((g) =>
      h('li', {}, h('span', {}, g.name), ' ', h('span', { className: 'points' }, `${g.cost} ${data.program.currency}`),
        g.stock > 0 ? '' : h('span', { className: 'hint' }, ' (out of stock)')),
    ),
  );
  renderEarnActions(data.actions);
}

function renderEarnActions(actions) {
  ui.earnActions.replaceChildren(
    ...actions.map((a) => {
      const perOrder = a.maxPerUser === undefined;
      const button = h('button', { type: 'button', 'data-action': a.action }, `Earn ${a.points}`);
      const label = h('span', { className: 'grow' }, a.name);
      let orderInput;
      if (perOrder) {
        const inputId = `param1-${a.action}`;
        orderInput = h('input', { id: inputId, value: newOrderId(), maxlength: 256, spellcheck: 'false', autocomplete: 'off' });
        label.append(h('span', { className: 'order' }, h('label', { for: inputId }, 'Order id'), ' ', orderInput));
      }
      button.setAttribute('aria-label', `Earn ${a.points} ${currency()}: ${a.name}`);
      button.addEventListener('click', () =>
        act(button, async () => {
          const param1 = orderInput ? orderInput.value.trim() || undefined : undefined;
          const { data } = await miles.store(a.action, { param1, lang: lang(), idempotencyKey: true });
          // A retry after an unknown outcome may learn that the first call stored it: no earn or balance then.
          if (data.alreadyApplied) say(`Already earned for “${a.name}”${param1 ? ` (order ${param1})` : ''}.`);
          else say(`Earned ${data.earn.points} ${currency()} for “${a.name}”${param1 ? ` (order ${param1})` : ''}. Balance: ${data.points}.`);
          if (orderInput) orderInput.value = newOrderId();
          await refreshAccount();
        }),
      );
      return h('li', {}, label, button);
    }),
  );
}

function renderGifts(gifts) {
  ui.giftList.replaceChildren(
    ...gifts.map((g) => {
      const note = g.stock <= 0 ? 'out of stock' : g.affordable ? `${g.stock} left` : 'not enough points yet';
      const button = h('button', { type: 'button', 'data-gift': g.giftId, 'aria-label': `Buy ${g.name} for ${g.cost} ${currency()}` }, 'Buy');
      button.addEventListener('click', () =>
        act(button, async () => {
          const { data, idempotencyKey } = await miles.buyGift(g.giftId, { idempotencyKey: true });
          say(`Bought “${data.burn.name}” for ${data.burn.cost} ${currency()}. Balance: ${data.points}. (Idempotency-Key ${idempotencyKey})`);
          await refreshAccount();
        }),
      );
      return h(
        'li',
        { className: g.affordable && g.stock > 0 ? '' : 'muted' },
        h('span', { className: 'grow' }, h('span', {}, g.name), ' ', h('span', { className: 'points' }, `${g.cost} ${currency()}`), ' ', h('span', { className: 'hint' }, `(${note})`)),
        button,
      );
    }),
  );
}

function renderHistories(earns, burns) {
  const actionName = (code) => state.program?.actions.find((a) => a.action === code)?.name ?? code;
  ui.earns.replaceChildren(
    ...(earns.earns.length
      ? earns.earns.map((e) => h('tr', {}, h('td', {}, formatDate(e.date)), h('td', {}, actionName(e.action)), h('td', {}, e.param1 ?? '–'), h('td', { className: 'num' }, `+${e.points}`)))
      : [h('tr', {}, h('td', { colspan: 4, className: 'hint' }, 'Nothing earned yet.'))]),
  );
  ui.earnsTotal.textContent = earns.total > earns.earns.length ? `Latest ${earns.earns.length} of ${earns.total}.` : '';
  ui.burns.replaceChildren(
    ...(burns.burns.length
      ? burns.burns.map((b) => h('tr', {}, h('td', {}, formatDate(b.date)), h('td', {}, b.name), h('td', { className: 'num' }, `−${b.cost}`)))
      : [h('tr', {}, h('td', { colspan: 3, className: 'hint' }, 'No gift bought yet.'))]),
  );
  ui.burnsTotal.textContent = burns.total > burns.burns.length ? `Latest ${burns.burns.length} of ${burns.total}.` : '';
}

/** Ads link out; their images are not shown (the page's CSP allows images from this origin only). */
function renderAds(kind, data) {
  ui.ads[kind].replaceChildren(
    ...(data.ads.length
      ? data.ads.map((ad) => h('li', { 'data-ad': ad.adId }, h('a', { href: ad.url, rel: 'noopener noreferrer' }, ad.title), h('p', {}, ad.body)))
      : [h('li', { className: 'hint' }, 'Nothing at the moment.')]),
  );
}

// Loading.

async function loadProgram() {
  const { data } = await miles.getProgram({ lang: lang() });
  renderProgram(data);
}

/** Everything a connected user sees, in one round of parallel reads. */
async function refreshAccount() {
  const l = lang();
  const [store, gifts, earns, burns, bonus, specials, news] = await Promise.all([
    miles.initialCheckStore({ lang: l }),
    miles.giftList({ lang: l }),
    miles.historyEarns({ limit: 10 }),
    miles.historyBurns({ limit: 10 }),
    miles.ads('bonus', l),
    miles.ads('specials', l),
    miles.ads('news', l),
  ]);
  ui.balance.textContent = String(store.data.user.points);
  renderGifts(gifts.data.gifts);
  renderHistories(earns.data, burns.data);
  renderAds('bonus', bonus.data);
  renderAds('specials', specials.data);
  renderAds('news', news.data);
}

async function checkSession() {
  const { data } = await miles.session();
  if (data.connected) {
    showConnected(data.user);
    await refreshAccount();
  } else if (state.connected) {
    showDisconnected();
    say('Your session has ended. Connect again.');
  } else {
    showDisconnected();
  }
}

// Wiring.

ui.partnerClientId.value = `demo-${crypto.randomUUID().slice(0, 8)}`;

ui.connectForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const button = byId('connect');
  act(button, async () => {
    const partnerClientId = ui.partnerClientId.value.trim();
    if (!partnerClientId) {
      ui.partnerClientId.focus();
      throw new Error('Enter a partner client id.');
    }
    const email = ui.email.value.trim() || undefined;
    const firstName = ui.firstName.value.trim() || undefined;
    const { data } = await miles.connect({ partnerClientId, email, firstName, lang: lang() });
    // The cookie is invisible to this page: ask the service whether it arrived. It does not when a
    // Secure cookie (COOKIE_SECURE on, the default) is answered over plain HTTP.
    const check = await miles.session();
    if (!check.data.connected) {
      throw new Error(
        'Connected, but no session cookie came back: the service sends Secure cookies (COOKIE_SECURE is on) and this page is served over plain HTTP. ' +
          'Open it over HTTPS, or set COOKIE_SECURE=false for local development.',
      );
    }
    showConnected(data.user);
    say(`Connected as ${data.user.partnerClientId}: ${data.user.points} ${currency()}.`);
    await refreshAccount();
    byId('account-heading').focus();
  });
});

ui.refresh.addEventListener('click', () =>
  act(ui.refresh, async () => {
    await refreshAccount();
    say('Up to date.');
  }),
);

ui.signIn.addEventListener('click', () => miles.signIn('/'));

ui.logout.addEventListener('click', () =>
  act(ui.logout, async () => {
    // Signed in at the identity provider: sign out there too (the page is left for it).
    if (state.oidc) {
      miles.signOut();
      return;
    }
    await miles.logout();
    showDisconnected();
    say('Logged out on every device.');
  }),
);

ui.lang.addEventListener('change', () =>
  act(undefined, async () => {
    document.documentElement.lang = lang();
    await loadProgram();
    if (state.connected) await refreshAccount();
  }),
);

ui.errorDismiss.addEventListener('click', clearError);

// Back to the tab after a logout elsewhere: say so at once rather than at the next click.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.connected) act(undefined, checkSession);
});

/** A sign-in that came back refused names its reason in the address (`/?signin_error=…`). */
function signInError() {
  const params = new URLSearchParams(document.location.search);
  const reason = params.get('signin_error');
  if (!reason) return undefined;
  document.defaultView?.history.replaceState(null, '', document.location.pathname);
  return reason;
}

act(undefined, async () => {
  const refused = signInError();
  const table = await fetchMilesEndpoints().catch(() => undefined);
  state.oidc = Boolean(table?.signIn);
  await loadProgram();
  await checkSession();
  if (refused) throw new Error(`The sign-in did not complete (${refused}). Sign in again.`);
}).finally(() => {
  // Tests and slow readers alike: the first load is over.
  document.body.dataset.ready = 'true';
});
