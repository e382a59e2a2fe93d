import { describe, expect, it } from 'vitest';
import { checkTargetUrl, isPrivateAddress } from '../../src/platform/net/address-guard.js';
import { parseRetryAfter } from '../../src/platform/net/outbound.js';
import {
  attachmentsLine,
  buildPayload,
  coalescedPayload,
  contentLine,
  preview,
  reminderPayload,
} from '../../src/features/notifications/payload.js';
import { topicOf } from '../../src/features/notifications/push-sender.js';
import { backoffMs } from '../../src/features/notifications/worker.js';

describe('notification helpers', () => {
  it('a message of files alone is previewed by their names', () => {
    expect(
      attachmentsLine({
        attachments: [
          { id: 'a_1', name: 'leaflet.pdf' },
          { id: 'a_2', name: 'map.jpg' },
        ],
      }),
    ).toBe('📎 leaflet.pdf, map.jpg');
    expect(attachmentsLine({ mentions: [] })).toBeNull();
    expect(attachmentsLine(null)).toBeNull();
  });

  it('a poll or event alone is previewed by its question or title; a reminder keeps its body when coalesced', () => {
    expect(contentLine({ poll: { question: 'Which Saturday?' } })).toBe('📊 Which Saturday?');
    expect(contentLine({ event: { title: 'Clean-up' } })).toBe('📅 Clean-up');
    expect(contentLine({ mentions: [] })).toBeNull();
    const source = {
      senderId: 'u1',
      senderName: 'Asha',
      text: null,
      ts: new Date(),
      groupKind: 'group' as const,
      groupName: 'Crew',
      communityId: null,
    };
    const reminder = reminderPayload('g1', 7, source, { title: 'Clean-up', startsAt: '2099-01-01T09:00:00.000Z', location: 'Bridge' });
    expect(reminder).toMatchObject({
      kind: 'event_reminder',
      title: '📅 Clean-up',
      body: 'Crew: starts 2099-01-01T09:00:00.000Z · Bridge',
    });
    expect(coalescedPayload(reminder, 3)).toEqual({ ...reminder, count: 3 });
  });

  it('private addresses: loopback, RFC 1918, link-local, CGNAT, unique-local, mapped IPv4; public ones pass', () => {
    for (const a of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ])
      expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('target URLs: https only unless private targets are allowed; no credentials', () => {
    expect(() => checkTargetUrl('https://push.example.com/a', false, 'endpoint')).not.toThrow();
    expect(() => checkTargetUrl('http://push.example.com/a', false, 'endpoint')).toThrow();
    expect(() => checkTargetUrl('http://127.0.0.1:9/a', true, 'endpoint')).not.toThrow();
    expect(() => checkTargetUrl('https://a:b@push.example.com/', true, 'endpoint')).toThrow();
    expect(() => checkTargetUrl('not a url', true, 'endpoint')).toThrow();
  });

  it('Topic: the group id when it is base64url of ≤ 32 chars, else a 32-char hash', () => {
    expect(topicOf('g_abc-DEF_123')).toBe('g_abc-DEF_123');
    const hashed = topicOf('a group id with spaces and more than thirty-two characters');
    expect(hashed).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('payload: text cut to 180 characters without splitting emoji; ≤ 3 KB even for the longest names', () => {
    expect(preview('a'.repeat(200), 180)).toHaveLength(180);
    expect(Array.from(preview('😀'.repeat(200), 180))).toHaveLength(180);
    const payload = buildPayload(
      'g1',
      5,
      {
        senderId: 'u'.repeat(64),
        senderName: '名'.repeat(128),
        text: '😀'.repeat(4096),
        ts: new Date(),
        groupKind: 'group',
        groupName: 'グ'.repeat(128),
        communityId: 'c'.repeat(64),
      },
      false,
    );
    expect(Buffer.byteLength(JSON.stringify(coalescedPayload(payload, 99)))).toBeLessThanOrEqual(3072);
    expect(payload).toMatchObject({ group: 'g1', seq: 5, kind: 'message' });
  });

  it('Retry-After as seconds or a date; backoff grows, honours Retry-After, is capped', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(backoffMs(0)).toBeLessThan(1300);
    expect(backoffMs(3)).toBeGreaterThan(6000);
    expect(backoffMs(50)).toBeLessThanOrEqual(6 * 60_000);
    expect(backoffMs(0, 30_000)).toBe(30_000);
  });
});
