// The page's entry point: wires the form, the followed email, the panels that poll, and the
// API key the page asks for when authentication is on.

import { api, showAlert } from './dom.js';
import { drawScoreChart } from './chart.js';
import { KeyForm } from './keyform.js';
import { ProviderCards, refreshCaptured, renderAdminOnly, renderMode } from './providers.js';
import { RecentEmails } from './recent.js';
import { initSendForm } from './send.js';
import { EmailFollower } from './status.js';

const REFRESH_MS = 2000;

const $ = (id) => document.getElementById(id);
let timer = null;
let lastHistory = null;

const follower = new EmailFollower({ onChange: () => refreshSoon() });
const keyForm = new KeyForm({ onKey: () => {
  follower.resume();
  refreshSoon();
} });
const cards = new ProviderCards($('provider-list'), { onToggled: () => refreshSoon() });
const recent = new RecentEmails($('recent-body'), { onPick: (id) => {
  follower.follow(id);
  bringIntoView($('email-card'));
} });

initSendForm($('send-form'), { onAccepted: (id) => {
  follower.follow(id);
  refreshSoon();
  bringIntoView($('email-card'));
} });

/** Scroll to ``element`` when its top is out of sight (on a phone: below the form). */
function bringIntoView(element) {
  const top = element.getBoundingClientRect().top;
  if (top >= 0 && top < window.innerHeight - 160) return;
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  element.scrollIntoView({ block: 'start', behavior: smooth ? 'smooth' : 'auto' });
}

/** What a panel says of a failed call: nothing for a 401, which the key form explains. */
function problem(error) {
  return error.status === 401 ? '' : error.message;
}

async function refreshProviders() {
  const polledAt = performance.now();
  // Each part fails alone: a sandbox that does not answer still leaves the scores and chart.
  const [providers, history, sandbox] = await Promise.allSettled([
    api('/providers'), api('/providers/history?seconds=300'), api('/sandbox'),
  ]);
  const errors = new Set();
  const fake = sandbox.status === 'fulfilled' ? sandbox.value : null;
  if (fake) renderMode(fake);
  else if (sandbox.reason.status === 403) renderAdminOnly();  // a send key: no sandbox controls
  else errors.add(problem(sandbox.reason));
  if (providers.status === 'fulfilled') cards.render(providers.value, fake, polledAt);
  else errors.add(problem(providers.reason));
  if (history.status === 'fulfilled') {
    lastHistory = history.value;
    drawScoreChart($('score-chart'), $('chart-legend'), lastHistory);
  } else {
    errors.add(problem(history.reason));
  }
  showAlert($('providers-error'), [...errors].filter(Boolean).join(' '));
  if (fake) await refreshCaptured($('captured'), fake);
}

async function refreshRecent() {
  try {
    recent.render(await api('/emails?limit=15'));
    showAlert($('recent-error'), '');
  } catch (error) {
    if (error.status === 401) $('recent-empty').hidden = true;
    showAlert($('recent-error'), problem(error));
  }
}

let running = false;
let again = false;

async function refresh() {
  clearTimeout(timer);
  if (running) {  // let the refresh in flight finish, then go again at once
    again = true;
    return;
  }
  running = true;
  try {
    await Promise.all([refreshProviders(), refreshRecent()]);
  } finally {
    running = false;
  }
  document.body.dataset.loaded = 'true';
  const delay = again ? 50 : REFRESH_MS;
  again = false;
  // Waiting for a key, every call would be refused: the key form's onKey starts again.
  if (!document.hidden && !keyForm.waiting) timer = setTimeout(refresh, delay);
}

/** Refresh now rather than at the next tick (after a send or a switch). */
function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 50);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refreshSoon();
});
window.addEventListener('resize', () => {
  if (lastHistory) drawScoreChart($('score-chart'), $('chart-legend'), lastHistory);
});

refresh();
