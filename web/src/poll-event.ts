import type { BanyanClient } from '../../src/client/client.js';
import type { RsvpAnswer, TimelineEvent, TimelinePoll } from '../../src/client/timeline.js';
import { h } from './dom.js';
import { describeError } from './errors.js';
import { formatNumber, language, t } from './i18n/index.js';

// Polls and events in a conversation (docs/protocol.md §8 "Polls and events"): drawn inside their message's row, and the
// composer's forms that create them. Counts come with the message (history), from `tally` and
// `poll_closed` events, or are fetched again when a `vote` or `rsvp` event says they changed.

/** A poll and an event as the SDK's timeline keeps them (src/client/timeline.ts). */
export type PollState = TimelinePoll;
export type EventState = TimelineEvent;
export type Answer = RsvpAnswer;

/** A time in the viewer's own zone, with the zone named ("Sat, 5 Dec, 9:00 am IST"). */
export const eventTime = (iso: string) =>
  new Intl.DateTimeFormat(language(), {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(iso));

export function pollView(poll: PollState, vote: (options: number[]) => void): HTMLElement {
  const total = poll.counts.reduce((a, b) => a + b, 0);
  return h(
    'fieldset',
    { class: 'poll', 'data-testid': 'poll' },
    h('legend', { dir: 'auto' }, `📊 ${poll.question}`),
    poll.options.map((option, i) => {
      const chosen = poll.mine.includes(i);
      const count = poll.counts[i] ?? 0;
      const share = total ? Math.round((count / total) * 100) : 0;
      return h(
        'button',
        {
          type: 'button',
          class: `poll-option${chosen ? ' on' : ''}`,
          'aria-pressed': String(chosen),
          disabled: poll.closed,
          style: `--share: ${share}%`,
          'data-testid': 'poll-option',
          onclick: () => {
            const next = poll.multiple ? (chosen ? poll.mine.filter((x) => x !== i) : [...poll.mine, i].sort()) : chosen ? [] : [i];
            vote(next);
          },
        },
        h('span', { dir: 'auto' }, option),
        h('span', { class: 'count' }, formatNumber(count)),
      );
    }),
    h(
      'p',
      { class: 'hint' },
      poll.closed ? t('poll.closed', { count: total }) : t(poll.multiple ? 'poll.votesMany' : 'poll.votes', { count: total }),
    ),
  );
}

export function eventView(event: EventState, answer: (a: Answer | null) => void): HTMLElement {
  const over = Date.parse(event.endsAt ?? event.startsAt) < Date.now();
  return h(
    'div',
    { class: 'event-card', 'data-testid': 'event' },
    h('strong', { dir: 'auto' }, `📅 ${event.title}`),
    h('time', { datetime: event.startsAt, 'data-testid': 'event-time' }, eventTime(event.startsAt)),
    event.location ? h('span', { dir: 'auto' }, `📍 ${event.location}`) : null,
    h(
      'div',
      { class: 'buttons', role: 'group', 'aria-label': t('event.answer') },
      (['going', 'maybe', 'no'] as const).map((a) =>
        h(
          'button',
          {
            type: 'button',
            class: `small${event.mine === a ? ' on' : ''}`,
            'aria-pressed': String(event.mine === a),
            disabled: over,
            'data-testid': `rsvp-${a}`,
            onclick: () => answer(a),
          },
          `${t(`event.${a}`)} · ${formatNumber(event.counts[a])}`,
        ),
      ),
    ),
  );
}

/** The composer's 📊 and 📅 forms: a poll (question, one option a line) or an event (title, time, place). */
export function createForms(client: BanyanClient, groupId: string, fail: (message: string) => void) {
  const panel = h('div', { class: 'create-panel', hidden: true, 'data-testid': 'create-panel' });
  const close = () => {
    panel.hidden = true;
    panel.replaceChildren();
  };
  const send = (p: Promise<unknown>) => p.then(close, (err: unknown) => fail(describeError(err)));
  const pollForm = () => {
    const question = h('input', { required: true, maxlength: 300, dir: 'auto', 'data-testid': 'poll-question' });
    const options = h('textarea', { rows: 3, required: true, dir: 'auto', 'data-testid': 'poll-options' });
    const multiple = h('input', { type: 'checkbox' });
    return h(
      'form',
      {
        class: 'card',
        onsubmit: (e: SubmitEvent) => {
          e.preventDefault();
          const list = options.value
            .split('\n')
            .map((o) => o.trim())
            .filter(Boolean);
          send(client.sendPoll(groupId, { question: question.value.trim(), options: list, multiple: multiple.checked }));
        },
      },
      h('label', {}, t('poll.question'), question),
      h('label', {}, t('poll.options'), options),
      h('label', { class: 'inline' }, multiple, t('poll.multiple')),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'submit', class: 'primary' }, t('poll.create')),
        h('button', { type: 'button', onclick: close }, t('common.cancel')),
      ),
    );
  };
  const eventForm = () => {
    const title = h('input', { required: true, maxlength: 300, dir: 'auto', 'data-testid': 'event-title' });
    const starts = h('input', { type: 'datetime-local', required: true, 'data-testid': 'event-start' });
    const location = h('input', { maxlength: 300, dir: 'auto', 'data-testid': 'event-location' });
    return h(
      'form',
      {
        class: 'card',
        onsubmit: (e: SubmitEvent) => {
          e.preventDefault();
          // datetime-local is the viewer's own wall time: sent as the instant it is.
          const startsAt = new Date(starts.value).toISOString();
          send(
            client.sendEvent(groupId, {
              title: title.value.trim(),
              startsAt,
              ...(location.value.trim() ? { location: location.value.trim() } : {}),
            }),
          );
        },
      },
      h('label', {}, t('event.title'), title),
      h('label', {}, t('event.starts'), starts),
      h('label', {}, t('event.location'), location),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'submit', class: 'primary' }, t('event.create')),
        h('button', { type: 'button', onclick: close }, t('common.cancel')),
      ),
    );
  };
  const open = (form: () => HTMLElement) => {
    panel.replaceChildren(form());
    panel.hidden = false;
    panel.querySelector('input')?.focus();
  };
  const buttons = [
    h(
      'button',
      {
        type: 'button',
        class: 'icon',
        'aria-label': t('poll.new'),
        title: t('poll.new'),
        'data-testid': 'new-poll',
        onclick: () => open(pollForm),
      },
      '📊',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'icon',
        'aria-label': t('event.new'),
        title: t('event.new'),
        'data-testid': 'new-event',
        onclick: () => open(eventForm),
      },
      '📅',
    ),
  ];
  return { panel, buttons };
}
