import { describe, expect, it } from 'vitest';
import type { FrameOffload, FrameSink } from './net-backend.js';
import { PortBurst } from './port-burst.js';

/** A sink that logs frames (their first byte, `+` for more) and flushes. */
function logSink(name: string, log: string[]): FrameSink {
  return {
    deliver: (f: Uint8Array, _o?: FrameOffload, more?: boolean) => (log.push(`${name}:${f[0]}${more ? '+' : ''}`), true),
    flush: () => log.push(`${name}:flush`),
  };
}

describe('PortBurst', () => {
  it('hands every frame over with more and flushes the port once when the burst ends', () => {
    const log: string[] = [];
    const a = logSink('a', log);
    const burst = new PortBurst();
    for (let i = 0; i < 3; i++) expect(burst.deliver(a, Uint8Array.of(i), undefined)).toBe(true);
    burst.end();
    burst.end(); // nothing open: no second flush
    expect(log).toEqual(['a:0+', 'a:1+', 'a:2+', 'a:flush']);
  });

  it('ends the burst of a port that is replaced mid-pass before the new port takes a frame', () => {
    const log: string[] = [];
    const a = logSink('a', log);
    const b = logSink('b', log);
    const burst = new PortBurst();
    burst.deliver(a, Uint8Array.of(1), undefined);
    burst.deliver(b, Uint8Array.of(2), undefined);
    burst.end();
    expect(log).toEqual(['a:1+', 'a:flush', 'b:2+', 'b:flush']);
  });

  it('a port without flush just takes the frames', () => {
    const got: boolean[] = [];
    const burst = new PortBurst();
    burst.deliver({ deliver: (_f, _o, more) => (got.push(more === true), false) }, new Uint8Array(1), undefined);
    expect(() => burst.end()).not.toThrow();
    expect(got).toEqual([true]);
  });
});
