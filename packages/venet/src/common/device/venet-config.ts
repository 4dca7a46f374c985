import { ConfigError, checkPollTurns } from '@vbus/core';
import type { NetBackend } from '@vbus/net';
import type { RandomSource } from '@vbus/core';
import { configMac } from '@vbus/net';
import { VENET_DEFAULT_MTU, VENET_DEFAULT_TX_COMPLETE_EVERY, VENET_MAX_RING_SIZE } from '../abi/venet-abi.js';

/** Configuration of a venet device as given to `bus.createDevice`. */
export interface VenetConfigInput {
  /** `"52:54:00:12:34:56"` or 6 bytes; default: a random locally administered unicast address (`configMac`). */
  mac?: string | Uint8Array;
  /** Default 1500. */
  mtu?: number;
  /** Largest ring the guest may register (default and max 2048). */
  ringSize?: number;
  /** Signal tx-complete every N frames, and when the ring drains (default 10). */
  txCompleteEvery?: number;
  /** If set (µs): rx frames arriving closer together than this are delivered from context.defer. */
  burstThresholdUs?: number;
  /**
   * Turns of the bus's loop the device keeps polling the tx ring, kick masked, after it drained
   * it (TurnPoller), before it unmasks: a streaming guest then rarely pays for a kick. Default
   * 16; 0 unmasks at once.
   */
  pollTurns?: number;
  /** Backend to attach to; without one, transmitted frames are dropped and counted. */
  backend?: NetBackend;
}

/** A checked venet configuration. */
export interface VenetConfig {
  mac: Uint8Array;
  mtu: number;
  ringSize: number;
  txCompleteEvery: number;
  burstThresholdUs: number | undefined;
  pollTurns: number;
  backend: NetBackend | undefined;
}

/** Check and fill in a venet configuration; throws {@link ConfigError} naming the option. `random` feeds the default MAC. */
export function validateVenetConfig(config: unknown, random?: RandomSource): VenetConfig {
  const c = (config ?? {}) as VenetConfigInput;
  if (typeof c !== 'object') throw new ConfigError('config', c, 'must be an object');
  const mac = configMac(c.mac, random);
  const mtu = c.mtu ?? VENET_DEFAULT_MTU;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new ConfigError('mtu', mtu, 'must be an integer in [68, 65535]');
  const ringSize = c.ringSize ?? VENET_MAX_RING_SIZE;
  if (!Number.isInteger(ringSize) || ringSize < 1 || ringSize > VENET_MAX_RING_SIZE)
    throw new ConfigError('ringSize', ringSize, `must be an integer in [1, ${VENET_MAX_RING_SIZE}]`);
  const n = c.txCompleteEvery ?? VENET_DEFAULT_TX_COMPLETE_EVERY;
  if (!Number.isInteger(n) || n < 1 || n > VENET_MAX_RING_SIZE) throw new ConfigError('txCompleteEvery', n, `must be an integer in [1, ${VENET_MAX_RING_SIZE}]`);
  const b = c.burstThresholdUs;
  if (b !== undefined && !(typeof b === 'number' && b > 0 && Number.isFinite(b))) throw new ConfigError('burstThresholdUs', b, 'must be a positive number of microseconds');
  const pollTurns = checkPollTurns(c.pollTurns);
  const backend = c.backend;
  if (backend !== undefined && (typeof backend !== 'object' || backend === null || typeof (backend as { attach?: unknown }).attach !== 'function'))
    throw new ConfigError('backend', '[not a NetBackend]', 'must be a NetBackend (an object with attach())');
  return { mac, mtu, ringSize, txCompleteEvery: n, burstThresholdUs: b, pollTurns, backend };
}
