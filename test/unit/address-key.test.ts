import { describe, expect, it } from 'vitest';
import { addressKey } from '../../src/gateway/address-key.js';

// Every per-address limit counts by this key (docs/protocol.md §9): IPv6 by /64, so the 2^64
// addresses one subscriber holds count once.

describe('addressKey', () => {
  it('keeps IPv4 addresses, also written as IPv6 maps them', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::FFFF:192.0.2.7')).toBe('192.0.2.7');
  });

  it('counts every address of one /64 as one, however it is written', () => {
    const keys = [
      '2001:db8:1:2:3:4:5:6',
      '2001:db8:1:2::1',
      '2001:0DB8:0001:0002:ffff:ffff:ffff:ffff',
      '2001:db8:1:2::',
      '[2001:db8:1:2::9]',
      '2001:db8:1:2::9%eth0',
      '2001:db8:1:2:ffff::192.0.2.7',
    ].map(addressKey);
    expect(new Set(keys)).toEqual(new Set(['2001:db8:1:2::/64']));
  });

  it('keeps different /64s apart, and does not take an IPv6 address with an IPv4 tail for that IPv4 address', () => {
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('2001:db8:1:2::192.0.2.7')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:5::192.0.2.7')).not.toBe(addressKey('2001:db8:1:6::192.0.2.7'));
  });

  it('bounds whatever else it is given', () => {
    expect(addressKey('x'.repeat(500))).toHaveLength(64);
  });
});
