// The recent emails table (GET /emails); picking a subject follows that email.

import { clock, h, pill, providerName, replace } from './dom.js';

export class RecentEmails {
  constructor(body, { onPick }) {
    this.body = body;
    this.onPick = onPick;
    this.shown = '';
  }

  render(emails) {
    const key = JSON.stringify(emails);
    if (key === this.shown) return;  // unchanged: leave the rows (and the focus) alone
    this.shown = key;
    const focused = document.activeElement?.dataset?.emailId;
    replace(this.body, emails.map((email) => this.row(email)));
    document.getElementById('recent-empty').hidden = emails.length > 0;
    if (focused) this.body.querySelector(`[data-email-id="${CSS.escape(focused)}"]`)?.focus();
  }

  row(email) {
    const pick = h('button', { type: 'button', class: 'linklike', 'data-email-id': email.emailId,
      title: 'Follow this email' }, email.subject);
    pick.addEventListener('click', () => this.onPick(email.emailId));
    return h('tr', { 'data-email-id': email.emailId },
      h('td', {}, pill(email.status)),
      h('td', { class: 'col-subject' }, pick),
      h('td', { class: 'col-to' }, email.to),
      h('td', {}, email.provider ? providerName(email.provider) : '—'),
      h('td', { class: 'col-time' }, clock(email.createdAt)));
  }
}
