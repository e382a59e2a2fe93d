import { describe, expect, it } from 'vitest';
import { parseRange, RangeNotSatisfiable } from '../../src/features/attachments/attachments.js';
import { snippetOf } from '../../src/features/search/search.js';
import { parseContentType, servedInline, settleType } from '../../src/features/attachments/content-types.js';
import { dispositionName } from '../../src/features/attachments/routes.js';

describe('settleType: the declared type against the sniffed one', () => {
  it.each([
    ['image/jpeg', 'image/jpeg', 'image/jpeg'],
    ['image/jpg', 'image/jpeg', 'image/jpeg'],
    ['audio/webm', 'video/webm', 'audio/webm'],
    ['application/octet-stream', 'image/png', 'image/png'],
    ['application/octet-stream', undefined, 'application/octet-stream'],
    ['text/plain', undefined, 'text/plain'],
    ['image/svg+xml', undefined, 'image/svg+xml'],
    ['image/svg+xml', 'application/xml', 'image/svg+xml'],
  ])('%s with bytes of %s is stored as %s', (declared, sniffed, stored) => {
    expect(settleType(declared, sniffed)).toEqual({ ok: true, type: stored });
  });

  it.each([
    ['image/jpeg', 'image/png'],
    ['text/html', 'image/jpeg'],
    ['text/plain', 'application/pdf'],
    ['image/png', undefined],
    ['application/pdf', undefined],
    ['video/mp4', undefined],
    ['application/zip', undefined],
  ])('%s with bytes of %s is refused', (declared, sniffed) => {
    expect(settleType(declared, sniffed).ok).toBe(false);
  });
});

describe('serving', () => {
  it('inline only for images it re-encodes, audio, video and PDF', () => {
    for (const t of ['image/jpeg', 'image/png', 'audio/mpeg', 'video/mp4', 'application/pdf']) expect(servedInline(t)).toBe(true);
    for (const t of ['image/svg+xml', 'image/heic', 'text/html', 'text/plain', 'application/octet-stream'])
      expect(servedInline(t)).toBe(false);
  });

  it('content-type parsing drops parameters and refuses junk', () => {
    expect(parseContentType('Text/Plain; charset=utf-8')).toBe('text/plain');
    expect(parseContentType('nonsense')).toBeUndefined();
    expect(parseContentType('text/plain\r\nx: y')).toBeUndefined();
  });

  it('content-disposition names are quoted safely, with the UTF-8 name beside', () => {
    expect(dispositionName('a"b\\c.pdf')).toBe(`filename="a_b_c.pdf"; filename*=UTF-8''a%22b%5Cc.pdf`);
    expect(dispositionName('मासिक.pdf')).toMatch(/^filename="_____\.pdf"; filename\*=UTF-8''%E0%A4/);
  });
});

describe('parseRange', () => {
  it('reads one range, clamps its end, and ignores what it cannot use', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=90-500', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange('', 100)).toBeUndefined();
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRange('bytes=9-3', 100)).toBeUndefined();
    expect(() => parseRange('bytes=100-', 100)).toThrow(RangeNotSatisfiable);
  });
});

describe('snippetOf', () => {
  it('keeps short text whole and cuts long text around the first match', () => {
    expect(snippetOf('short text', 'text')).toBe('short text');
    const long = `${'a '.repeat(100)}needle ${'b '.repeat(100)}`;
    const s = snippetOf(long, 'needle');
    expect(s).toContain('needle');
    expect(s.startsWith('…') && s.endsWith('…')).toBe(true);
  });
});
