import { ConfigError, checkPollTurns, type RandomSource } from '@vbus/core';
import { configMac, type NetBackend } from '@vbus/net';
import { VIRTQ_MAX_SIZE } from '../virtqueue/layout.js';
import { VIRTIO_NET_IMPLEMENTED_FEATURES } from './features.js';

/** Features this device implements (VERSION_1 is always offered by the transport). */
export const VIRTIO_NET_SUPPORTED_FEATURES: bigint = VIRTIO_NET_IMPLEMENTED_FEATURES;

/** Largest frame (without the header) the device accepts on tx: a 64 KiB IP packet plus link headers. */
export const VIRTIO_NET_MAX_FRAME = 4096 + 65536;

/** Configuration of a virtio-net device (as given to `createDevice`, after validation). */
export interface VirtioNetConfig {
  /** MAC address (6 bytes, or text "52:54:00:12:34:56"). */
  mac: Uint8Array;
  /** MTU reported in config space (68..65535). Default 1500. */
  mtu: number;
  /** Number of rx/tx queue pairs (1..16). Default 1. */
  queuePairs: number;
  /** Host backend (switch, loopback, socket); without one every tx frame is a drop. */
  backend: NetBackend | undefined;
  /** Features offered: a subset of {@link VIRTIO_NET_SUPPORTED_FEATURES}. Default all. */
  features: bigint;
  /** Largest queue size (1..32768). Default 1024. */
  maxQueueSize: number;
  /** Link state at creation. Default up. */
  link: boolean;
  /**
   * Turns of the bus's loop the device keeps polling a tx queue, notifications off, after it
   * drained it (TurnPoller), before it turns them on: a streaming driver then rarely kicks.
   * Default 16; 0 turns them on at once.
   */
  pollTurns: number;
}

/**
 * Check and fill in a virtio-net configuration (as venet-config.ts does for venet); throws
 * {@link ConfigError} naming the option. `random` feeds the default MAC (`configMac`).
 */
export function validateVirtioNetConfig(config: unknown, random?: RandomSource): VirtioNetConfig {
  const c = (config ?? {}) as Partial<Omit<VirtioNetConfig, 'mac'>> & { mac?: unknown };
  const mac = configMac(c.mac, random);
  const mtu = c.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new ConfigError('mtu', mtu, 'must be an integer 68..65535');
  const queuePairs = c.queuePairs ?? 1;
  if (!Number.isInteger(queuePairs) || queuePairs < 1 || queuePairs > 16) throw new ConfigError('queuePairs', queuePairs, 'must be an integer 1..16');
  const features = c.features ?? VIRTIO_NET_SUPPORTED_FEATURES;
  if (typeof features !== 'bigint' || (features & ~VIRTIO_NET_SUPPORTED_FEATURES) !== 0n)
    throw new ConfigError('features', String(features), `must be a bigint subset of 0x${VIRTIO_NET_SUPPORTED_FEATURES.toString(16)}`);
  const maxQueueSize = c.maxQueueSize ?? 1024;
  if (!Number.isInteger(maxQueueSize) || maxQueueSize < 1 || maxQueueSize > VIRTQ_MAX_SIZE)
    throw new ConfigError('maxQueueSize', maxQueueSize, `must be an integer 1..${VIRTQ_MAX_SIZE}`);
  const backend = c.backend;
  if (backend !== undefined && (typeof backend !== 'object' || typeof (backend as NetBackend).attach !== 'function'))
    throw new ConfigError('backend', '[object]', 'must be a NetBackend');
  const pollTurns = checkPollTurns(c.pollTurns);
  return { mac, mtu, queuePairs, backend, features, maxQueueSize, link: c.link ?? true, pollTurns };
}
