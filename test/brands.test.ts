// Cross-copy safety: a plugin may bring its own copy of @vbus/core (another version in its
// node_modules, or another realm). Errors and signal endpoints are recognised by brands shared
// through Symbol.for, never by `instanceof`; test/consumer.test.ts runs a real second copy.
import { expect, it } from 'vitest';
import { BusError, ConfigError, LimitError, MemoryAccessError, ProtocolError, RingError, ShmSignal, VbusError } from '@vbus/core';

/** An object shaped as another copy of @vbus/core makes it: same brand, a different class. */
function foreignError(code: string): Error {
  const e = new Error('from another copy');
  Object.defineProperty(e, Symbol.for('vbus-ts.error'), { value: true });
  return Object.assign(e, { code });
}

it('each error class recognises its own code from another copy, and nothing else', () => {
  const classes = [
    [MemoryAccessError, 'memory'],
    [RingError, 'ring'],
    [BusError, 'bus'],
    [ConfigError, 'config'],
    [LimitError, 'limit'],
    [ProtocolError, 'protocol'],
  ] as const;
  for (const [cls, code] of classes) {
    expect(cls.is(foreignError(code))).toBe(true);
    expect(foreignError(code) instanceof cls).toBe(false);
    for (const [, other] of classes) if (other !== code) expect(cls.is(foreignError(other))).toBe(false);
    expect(cls.is(new Error(code))).toBe(false);
    expect(VbusError.is(foreignError(code))).toBe(true);
  }
  expect(RingError.is(new RingError('q', 3, 9, 'rule'))).toBe(true);
  expect(RingError.is(new BusError('x'))).toBe(false);
});

it('ShmSignal.is takes an endpoint from another copy and refuses a plain wake function', () => {
  const foreign = Object.create(null) as object;
  Object.defineProperty(foreign, Symbol.for('vbus-ts.shm-signal'), { value: true });
  expect(ShmSignal.is(foreign)).toBe(true);
  expect(ShmSignal.is(() => {})).toBe(false);
  expect(ShmSignal.is({ wake: () => {} })).toBe(false);
  expect(ShmSignal.is(null)).toBe(false);
});

it("the plugins' error classes recognise their own code from another copy", async () => {
  const { NetError } = await import('@vbus/net');
  const { VhostUserError } = await import('@vbus/vhost-user');
  expect(NetError.is(foreignError('net'))).toBe(true);
  expect(NetError.is(foreignError('vhost-user'))).toBe(false);
  expect(VhostUserError.is(foreignError('vhost-user'))).toBe(true);
  expect(VhostUserError.is(foreignError('ring'))).toBe(false);
  expect(VhostUserError.is(new VhostUserError(1, 'rule'))).toBe(true);
});
