// The virtio-net driver's options, counters, and the per-queue state its parts share.
import type { RandomSource, ShmSignal } from '@vbus/core';
import type { FreeBuffers } from './free-buffers.js';
import type { NapiPoll } from '@vbus/net';
import type { VirtqueueDriver } from '../virtqueue/virtqueue.js';

/** Options of {@link VirtioNetDriver.open}. */
export interface VirtioNetDriverOptions {
  /** Ring layout: "split" (default) or "packed" (needs RING_PACKED from the device). */
  ring?: 'split' | 'packed';
  /** Queue size (default 256, capped by the device's maximum). */
  queueSize?: number;
  /** Feature mask the driver is willing to use (ANDed with what it supports and the device offers). */
  features?: bigint;
  /** Queue pairs to use with MQ (default 1). */
  queuePairs?: number;
  /** Bytes per rx buffer including the 12-byte header (default 2048). */
  rxBufferSize?: number;
  /** Bytes per tx buffer including the header (default 2048): larger frames are refused. */
  txBufferSize?: number;
  /** Frames per NAPI poll before yielding (default 64). */
  pollWeight?: number;
  /**
   * Empty rx polls, one per turn of the guest's loop, before rx interrupts are unmasked again
   * (0 to 1024, default 0: unmask as soon as the queue is drained). While it polls, the device
   * delivers without interrupting (`NapiPoll`).
   */
  rxPollTurns?: number;
  /**
   * Where the MAC comes from when the device offers none (no VIRTIO_NET_F_MAC): a random locally
   * administered one, as Linux's virtio_net. Give a seeded source for reproducible runs. Default: crypto.
   */
  random?: RandomSource;
}

/** Driver-side counters. */
export interface VirtioNetDriverCounters {
  sent: number;
  received: number;
  /** Bytes of the frames sent and received (without the net header). */
  txBytes: number;
  rxBytes: number;
  /** send() refused: the ring was full (the queue is "stopped" until a tx interrupt). */
  txBusy: number;
  /** send() refused: frame larger than a tx buffer. */
  txTooBig: number;
  /** Kicks (available-buffer notifications) that crossed / were suppressed by the shm-signal. */
  kicks: number;
  kicksSuppressed: number;
  /** Used-buffer notifications (rx + tx interrupts) received. */
  interrupts: number;
  polls: number;
  /** rx buffers returned shorter than a header, or with a bad num_buffers. */
  rxErrors: number;
  configChanges: number;
}

/** One virtqueue as the driver keeps it: ring, signal, its buffers and which are free. */
export interface DriverQueue {
  index: number;
  vq: VirtqueueDriver<number>;
  signal: ShmSignal;
  buffers: number[];
  bufferSize: number;
  /** Free buffer numbers (first in, first out). */
  free: FreeBuffers;
  /** rx: the queue's NAPI loop. */
  napi?: NapiPoll;
}

/** Every counter at zero. */
export function newDriverCounters(): VirtioNetDriverCounters {
  return { sent: 0, received: 0, txBytes: 0, rxBytes: 0, txBusy: 0, txTooBig: 0, kicks: 0, kicksSuppressed: 0, interrupts: 0, polls: 0, rxErrors: 0, configChanges: 0 };
}
