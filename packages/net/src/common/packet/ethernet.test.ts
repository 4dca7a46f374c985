import { describe, expect, it } from 'vitest';
import { ConfigError } from '@vbus/core';
import type { RandomSource } from '@vbus/core';
import { configMac, formatMac, parseMac, randomLocalMac } from './ethernet.js';

/** A seeded source: the same seed gives the same bytes. */
function seeded(seed: number): RandomSource {
  let x = seed;
  return (into) => {
    for (let i = 0; i < into.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      into[i] = x >>> 24;
    }
  };
}

describe('MAC addresses', () => {
  it('parse and format round trip, with : or -', () => {
    expect(formatMac(parseMac('52:54:00:AB:cd:0e'))).toBe('52:54:00:ab:cd:0e');
    expect(formatMac(parseMac('52-54-00-ab-cd-0e'))).toBe('52:54:00:ab:cd:0e');
    expect(() => parseMac('52:54:00:ab:cd')).toThrow(TypeError);
  });

  it('the default MAC is locally administered unicast, and deterministic with an injected source', () => {
    const a = randomLocalMac(seeded(7));
    expect(a[0]! & 0x03).toBe(0x02);
    expect(randomLocalMac(seeded(7))).toEqual(a);
    expect(configMac(undefined, seeded(7))).toEqual(a);
    expect(randomLocalMac(seeded(8))).not.toEqual(a);
  });

  it('configMac takes text or 6 bytes and refuses group addresses and garbage with a ConfigError', () => {
    expect(formatMac(configMac('52:54:00:00:00:01'))).toBe('52:54:00:00:00:01');
    expect(formatMac(configMac(Uint8Array.of(0x52, 0x54, 0, 0, 0, 2)))).toBe('52:54:00:00:00:02');
    for (const bad of ['01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', 'nope', 42, Uint8Array.of(1, 2, 3)]) expect(() => configMac(bad), String(bad)).toThrow(ConfigError);
  });
});
