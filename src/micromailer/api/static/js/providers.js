// The providers panel (live scores, outage switches in sandbox mode) and the captured messages.
// Cards are built once per provider and updated in place, so polling never steals the focus
// from a switch.

import { api, clock, h, PALETTE, providerName, replace, showAlert } from './dom.js';

const ORDINALS = ['1st', '2nd', '3rd', '4th', '5th'];

export class ProviderCards {
  constructor(list, { onToggled }) {
    this.list = list;
    this.onToggled = onToggled;
    this.cards = new Map();
  }

  /** Render GET /providers and, in sandbox mode, each fake's state from GET /sandbox, as read
   * by a poll that started at ``polledAt`` (``performance.now()``). */
  render(providers, sandbox, polledAt) {
    const names = providers.map((provider) => provider.name);
    if (names.join() !== [...this.cards.keys()].join()) {
      this.cards = new Map(names.map((name, index) => [name, this.card(name, index)]));
      replace(this.list, [...this.cards.values()].map((card) => card.item));
    }
    const fakes = new Map((sandbox?.providers || []).map((fake) => [fake.name, fake]));
    const ranked = [...providers].sort((a, b) => b.score - a.score).map((p) => p.name);
    for (const provider of providers) {
      const card = this.cards.get(provider.name);
      const rank = ranked.indexOf(provider.name);
      card.rank.textContent = `tried ${ORDINALS[rank] || `#${rank + 1}`}`;
      card.score.textContent = provider.score.toFixed(1);
      card.bar.style.width = `${Math.max(0, Math.min(100, provider.score))}%`;
      card.meta.textContent = `base ${provider.baseScore} · health ${provider.health.toFixed(3)}`;
      const fake = fakes.get(provider.name);
      card.outage.hidden = !fake;
      card.item.classList.toggle('in-outage', Boolean(fake?.outage));
      // A poll that started before the last switch flip would show the state before it.
      if (fake && polledAt >= card.flippedAt) this.showFake(card, fake);
    }
  }

  card(name, index) {
    const bar = h('span', { class: 'bar-fill' });
    bar.style.backgroundColor = PALETTE[index % PALETTE.length];
    const card = {
      rank: h('span', { class: 'rank', title: 'The order in which the next email tries it' }),
      score: h('span', { class: 'score', 'data-testid': `score-${name}` }),
      bar,
      meta: h('span', {}),
      counts: h('span', {}),
      switch: h('button', { type: 'button', role: 'switch', class: 'switch', 'aria-checked': 'false',
        'aria-label': `${providerName(name)} outage`, 'data-testid': `outage-${name}` },
        h('span', { class: 'switch-thumb' })),
      state: h('span', { class: 'outage-state' }),
      error: h('p', { class: 'field-error', role: 'alert', hidden: true }),
      flippedAt: -Infinity,
    };
    card.switch.addEventListener('click', () => this.toggle(name, card));
    card.outage = h('div', { class: 'outage', hidden: true },
      card.switch, h('span', { class: 'switch-label', 'aria-hidden': 'true' }, 'Outage'),
      card.state, card.error);
    card.item = h('li', { class: 'provider', 'data-provider': name },
      h('div', { class: 'provider-head' },
        h('span', { class: 'provider-name' }, providerName(name)), card.rank, card.score),
      h('div', { class: 'bar', 'aria-hidden': 'true' }, bar),
      h('div', { class: 'provider-meta' }, card.meta, card.counts),
      card.outage);
    return card;
  }

  showFake(card, fake) {
    if (!card.switch.disabled) card.switch.setAttribute('aria-checked', String(fake.outage));
    card.counts.textContent = `${fake.accepted} accepted · ${fake.rejected} refused`;
    card.state.textContent = fake.outage ? 'down: every request gets 503'
      : fake.failRate > 0 ? `failing ${Math.round(fake.failRate * 100)} % of requests`
        : 'working';
    card.state.classList.toggle('down', fake.outage);
  }

  async toggle(name, card) {
    const wanted = card.switch.getAttribute('aria-checked') !== 'true';
    card.switch.disabled = true;
    try {
      const fake = await api(`/sandbox/${encodeURIComponent(name)}/outage`,
        { method: 'PUT', body: { outage: wanted } });
      card.switch.disabled = false;
      card.flippedAt = performance.now();
      this.showFake(card, fake);
      card.item.classList.toggle('in-outage', fake.outage);
      showAlert(card.error, '');
      this.onToggled(fake);
    } catch (failure) {
      card.switch.disabled = false;
      showAlert(card.error, failure.message);
    }
  }
}

/** Show or hide everything that exists only in sandbox mode. */
export function renderMode(sandbox) {
  document.getElementById('admin-only').hidden = true;
  const chip = document.getElementById('mode-chip');
  chip.hidden = false;
  chip.textContent = sandbox.enabled ? 'Sandbox mode' : 'Live providers';
  chip.className = `chip ${sandbox.enabled ? 'chip-sandbox' : 'chip-live'}`;
  document.getElementById('sandbox-banner').hidden = !sandbox.enabled;
  document.getElementById('sandbox-url').textContent = sandbox.url || '';
  document.getElementById('captured-card').hidden = !sandbox.enabled;
  for (const item of document.querySelectorAll('.sandbox-only')) item.hidden = !sandbox.enabled;
}

/** A send key may not see the sandbox (403): hide its controls and say why. */
export function renderAdminOnly() {
  document.getElementById('admin-only').hidden = false;
  document.getElementById('mode-chip').hidden = true;
  document.getElementById('sandbox-banner').hidden = true;
  document.getElementById('captured-card').hidden = true;
  for (const item of document.querySelectorAll('.sandbox-only')) item.hidden = true;
}

/** The last messages each fake captured (GET /sandbox/{provider}/messages). */
export async function refreshCaptured(container, sandbox) {
  if (!sandbox.enabled) return;
  const columns = await Promise.all(sandbox.providers.map(async (fake) => {
    let body;
    try {
      const messages = await api(`/sandbox/${encodeURIComponent(fake.name)}/messages?limit=5`);
      body = messages.length
        ? h('ul', { class: 'messages' }, messages.map(messageItem))
        : h('p', { class: 'empty small' }, 'Nothing captured yet.');
    } catch (error) {
      body = h('p', { class: 'error-text' }, error.message);
    }
    return h('div', { class: 'captured-column', 'data-testid': `captured-${fake.name}` },
      h('h3', {}, providerName(fake.name), ' ',
        h('span', { class: 'count' }, `${fake.accepted} accepted`)),
      body);
  }));
  replace(container, columns);
}

function messageItem(message) {
  return h('li', {},
    h('span', { class: 'message-subject' }, message.subject ?? '(no subject)'),
    h('span', { class: 'message-meta' }, `to ${message.to} · ${clock(message.receivedAt)}`));
}
