// Following one email: GET /email/{id} until it is settled, with its timeline of tries and of
// what the providers reported after accepting it (delivered, opened, bounced…).

import {
  api, ApiError, clock, fileSize, h, providerName, replace, showAlert,
} from './dom.js';

// No event moves these further; ``sent`` and ``delivered`` may still hear of a bounce or a
// complaint, so they are polled slower, for a while.
const FINAL = new Set(['failed', 'bounced', 'complained']);
const SETTLING = new Set(['sent', 'delivered']);
const POLL_MS = 500;
const SETTLING_POLL_MS = 2000;
const SETTLING_POLLS = 90;

const EVENTS = {
  delivered: 'delivered',
  deferred: 'deferred',
  bounced: 'bounced',
  dropped: 'dropped',
  complained: 'marked as spam',
  opened: 'opened',
  clicked: 'clicked',
  unsubscribed: 'unsubscribed',
  unknown: 'reported',
};

const OUTCOMES = {
  sent: 'sent',
  failed: 'failed',
  rejected: 'rejected as malformed',
  recipient_rejected: 'recipient refused',
};

export class EmailFollower {
  constructor({ onChange } = {}) {
    this.onChange = onChange || (() => {});
    this.emailId = null;
    this.timer = null;
    this.lastStatus = null;
  }

  /** Poll again after a pause (a new API key): unless the email reached a final status. */
  resume() {
    if (!this.emailId || FINAL.has(this.lastStatus)) return;
    clearTimeout(this.timer);
    this.poll();
  }

  /** Show ``emailId`` and poll it until it reaches a final status. */
  follow(emailId) {
    clearTimeout(this.timer);
    this.emailId = emailId;
    this.lastStatus = null;
    this.settlingPolls = 0;
    document.getElementById('email-empty').hidden = true;
    document.getElementById('email-body').hidden = false;
    document.getElementById('email-id').textContent = emailId;
    // Nothing of the previous email may stand beside the new id until the first answer.
    const status = document.getElementById('email-status');
    status.textContent = '…';
    status.className = 'pill';
    document.getElementById('email-test').hidden = true;
    for (const row of ['cc', 'bcc', 'reply-to', 'attachments']) {
      document.getElementById(`email-${row}-row`).hidden = true;
    }
    replace(document.getElementById('timeline'), []);
    this.poll();
  }

  async poll() {
    const emailId = this.emailId;
    let email;
    try {
      email = await api(`/email/${encodeURIComponent(emailId)}`);
    } catch (error) {
      if (emailId !== this.emailId) return;
      const gone = error instanceof ApiError && error.status === 404;
      if (error.status === 401) return;  // the key form asks; resume() polls again
      showAlert(document.getElementById('email-error'),
        gone ? `No email has the id ${emailId}.` : error.message);
      if (!gone) this.timer = setTimeout(() => this.poll(), POLL_MS * 4);
      return;
    }
    if (emailId !== this.emailId) return;  // the visitor picked another email meanwhile
    showAlert(document.getElementById('email-error'), '');
    render(email);
    if (email.status !== this.lastStatus) {
      this.lastStatus = email.status;
      this.onChange(email);
    }
    if (SETTLING.has(email.status)) {
      this.settlingPolls += 1;
      if (this.settlingPolls <= SETTLING_POLLS) {
        this.timer = setTimeout(() => this.poll(), SETTLING_POLL_MS);
      }
    } else if (!FINAL.has(email.status)) {
      this.timer = setTimeout(() => this.poll(), POLL_MS);
    }
  }
}

function render(email) {
  const status = document.getElementById('email-status');
  status.textContent = email.status;
  status.className = `pill pill-${email.status}`;
  document.getElementById('email-test').hidden = !email.test;
  renderPeople(email);
  document.getElementById('email-subject').textContent = email.subject;
  renderAttachments(email.attachments);
  document.getElementById('email-summary').textContent = summary(email);
  const events = Array.isArray(email.events) ? email.events : [];
  replace(document.getElementById('timeline'),
    [...email.attempts.map(attemptItem), ...events.map(eventItem)]);
  document.getElementById('timeline-empty').hidden = email.attempts.length + events.length > 0;
}

/** Every recipient, by field, and the reply-to addresses. An API without ``recipients``
 * gives only ``to`` and ``toName``: one recipient. */
function renderPeople(email) {
  const recipients = email.recipients || {};
  const to = Array.isArray(recipients.to) && recipients.to.length
    ? recipients.to : [{ email: email.to, name: email.toName }];
  document.getElementById('email-to').textContent = addresses(to);
  const rows = { cc: recipients.cc, bcc: recipients.bcc, 'reply-to': email.replyTo };
  for (const [field, list] of Object.entries(rows)) {
    const shown = Array.isArray(list) ? list : [];
    document.getElementById(`email-${field}`).textContent = addresses(shown);
    document.getElementById(`email-${field}-row`).hidden = shown.length === 0;
  }
}

/** ``Name <address>, address``: text only, never markup. */
function addresses(list) {
  return list.map((person) => (typeof person === 'string' ? person
    : person.name ? `${person.name} <${person.email}>` : String(person.email))).join(', ');
}

/** The files' names and sizes; their content is never shown (nor sent by the API). */
function renderAttachments(attachments) {
  const files = Array.isArray(attachments) ? attachments : [];
  replace(document.getElementById('email-attachments'), files.map((file) => h('li', {},
    h('span', { class: 'file-name' },
      file.contentId ? `${file.filename} (inline, cid:${file.contentId})` : file.filename),
    h('span', { class: 'file-size' }, fileSize(file.size)))));
  document.getElementById('email-attachments-row').hidden = files.length === 0;
}

/** One sentence that says what happened, for a newcomer. */
function summary(email) {
  const failedTries = email.attempts.filter((a) => a.outcome !== 'sent').length;
  const tries = failedTries === 1 ? '1 failed try' : `${failedTries} failed tries`;
  switch (email.status) {
    case 'queued':
      return email.attemptCount > 0
        ? `Every provider failed on attempt ${email.attemptCount}; a retry is scheduled.`
        : 'Stored and queued: a worker will pick it up.';
    case 'sending':
      return `A worker is sending it (attempt ${email.attemptCount}).`;
    case 'sent':
      return failedTries
        ? `Accepted by ${providerName(email.provider)} after ${tries}: failover at work.`
        : `Accepted by ${providerName(email.provider)} on the first try.`;
    case 'failed':
      return `Not delivered: ${email.error || 'every provider refused it.'}`;
    case 'delivered':
      return `${providerName(email.provider)} delivered it to the recipient's mail server.`;
    case 'bounced':
      return 'The recipient\'s mail server refused it (bounced); see the events below.';
    case 'complained':
      return 'The recipient marked it as spam: the address is now suppressed.';
    default:
      return '';
  }
}

function attemptItem(attempt) {
  const took = Math.max(0, Date.parse(attempt.finishedAt) - Date.parse(attempt.startedAt));
  const code = attempt.statusCode ? ` · HTTP ${attempt.statusCode}` : '';
  return h('li', { class: `try try-${attempt.outcome}`, 'data-provider': attempt.provider,
    'data-outcome': attempt.outcome },
    h('div', { class: 'try-head' },
      h('span', { class: 'try-provider' }, providerName(attempt.provider)),
      h('span', { class: `outcome outcome-${attempt.outcome}` },
        OUTCOMES[attempt.outcome] || attempt.outcome),
      h('span', { class: 'try-meta' },
        `attempt ${attempt.attempt} · ${clock(attempt.startedAt)} · ${took} ms${code}`)),
    attempt.error ? h('p', { class: 'try-error' }, attempt.error) : null);
}

/** A provider's report after accepting the email: what, when, and the provider's words. */
function eventItem(event) {
  const kind = event.bounce ? `${EVENTS[event.type] || event.type} (${event.bounce})`
    : EVENTS[event.type] || event.type;
  const who = event.recipient ? ` · ${event.recipient}` : '';
  return h('li', { class: `try event event-${event.type}`, 'data-provider': event.provider,
    'data-event': event.type },
    h('div', { class: 'try-head' },
      h('span', { class: 'try-provider' }, providerName(event.provider)),
      h('span', { class: `outcome event-type-${event.type}` }, kind),
      h('span', { class: 'try-meta' }, `event · ${clock(event.at)}${who}`)),
    event.detail ? h('p', { class: 'try-detail' }, event.detail) : null);
}
