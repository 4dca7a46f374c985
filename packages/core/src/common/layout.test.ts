/**
 * Pins every shm-signal and IOQ layout constant against docs/architecture.md section 3. A change here is an
 * ABI change: both halves of every connection must agree on these numbers.
 */
import { describe, expect, it } from 'vitest';
import * as sig from './signal/layout.js';
import * as ioq from './ioq/layout.js';

describe('shm-signal layout (docs/architecture.md 3.1)', () => {
  it('magic and version', () => {
    expect(sig.SHM_SIGNAL_MAGIC).toBe(0x58fa39df);
    expect(sig.SHM_SIGNAL_VERSION).toBe(1);
  });

  it('magic, version, then side[0] = north, side[1] = south', () => {
    expect(sig.SHM_SIGNAL_OFF_MAGIC).toBe(0);
    expect(sig.SHM_SIGNAL_OFF_VERSION).toBe(4);
    expect(sig.SHM_SIGNAL_OFF_SIDES).toBe(8);
    expect(sig.Side.North).toBe(0);
    expect(sig.Side.South).toBe(1);
  });

  it('each side is {enabled, pending, dirty} in that order, one Int32 word each (Atomics)', () => {
    expect(sig.SHM_SIGNAL_SIDE_ENABLED).toBe(0);
    expect(sig.SHM_SIGNAL_SIDE_PENDING).toBe(4);
    expect(sig.SHM_SIGNAL_SIDE_DIRTY).toBe(8);
    expect(sig.SHM_SIGNAL_SIDE_SIZE).toBe(12);
    expect(sig.SHM_SIGNAL_SIZE).toBe(32);
  });

  it('signalCell maps (side, field) to the Int32 cell of the descriptor', () => {
    expect(sig.signalCell(sig.Side.North, sig.SHM_SIGNAL_SIDE_ENABLED)).toBe(2);
    expect(sig.signalCell(sig.Side.North, sig.SHM_SIGNAL_SIDE_PENDING)).toBe(3);
    expect(sig.signalCell(sig.Side.North, sig.SHM_SIGNAL_SIDE_DIRTY)).toBe(4);
    expect(sig.signalCell(sig.Side.South, sig.SHM_SIGNAL_SIDE_ENABLED)).toBe(5);
    expect(sig.signalCell(sig.Side.South, sig.SHM_SIGNAL_SIDE_PENDING)).toBe(6);
    expect(sig.signalCell(sig.Side.South, sig.SHM_SIGNAL_SIDE_DIRTY)).toBe(7);
  });
});

describe('IOQ layout (docs/architecture.md 3.2, IOQ version 4)', () => {
  it('magic and version', () => {
    expect(ioq.IOQ_MAGIC).toBe(0x47fa2fe4);
    expect(ioq.IOQ_VERSION).toBe(4);
  });

  it('header: magic, version, signal, idx[0] valid, idx[1] inuse, count, in that order', () => {
    expect(ioq.IOQ_OFF_MAGIC).toBe(0);
    expect(ioq.IOQ_OFF_VERSION).toBe(4);
    expect(ioq.IOQ_OFF_SIGNAL).toBe(8);
    expect(ioq.IOQ_OFF_IDX_VALID).toBe(ioq.IOQ_OFF_SIGNAL + sig.SHM_SIGNAL_SIZE);
    expect(ioq.IOQ_OFF_IDX_VALID).toBe(40);
    expect(ioq.IOQ_OFF_IDX_INUSE).toBe(52);
    expect(ioq.IOQ_OFF_COUNT).toBe(64);
    // count u32 + reserved u32 keeps the descriptor array 8-aligned
    expect(ioq.IOQ_HEADER_SIZE).toBe(72);
    expect(ioq.IOQ_HEADER_SIZE % 8).toBe(0);
    const order = [ioq.IOQ_OFF_MAGIC, ioq.IOQ_OFF_VERSION, ioq.IOQ_OFF_SIGNAL, ioq.IOQ_OFF_IDX_VALID, ioq.IOQ_OFF_IDX_INUSE, ioq.IOQ_OFF_COUNT];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('index record: head, tail, full (one word each, so both sides use Atomics)', () => {
    expect(ioq.IOQ_IDX_HEAD).toBe(0);
    expect(ioq.IOQ_IDX_TAIL).toBe(4);
    expect(ioq.IOQ_IDX_FULL).toBe(8);
    expect(ioq.IOQ_OFF_IDX_INUSE - ioq.IOQ_OFF_IDX_VALID).toBe(12);
    expect(ioq.IoqIndex.Valid).toBe(0);
    expect(ioq.IoqIndex.Inuse).toBe(1);
  });

  it('descriptor: cookie u64, ptr u64, len u64, valid u8, sown u8', () => {
    expect(ioq.IOQ_DESC_COOKIE).toBe(0);
    expect(ioq.IOQ_DESC_PTR).toBe(8);
    expect(ioq.IOQ_DESC_LEN).toBe(16);
    expect(ioq.IOQ_DESC_VALID).toBe(24);
    expect(ioq.IOQ_DESC_SOWN).toBe(25);
    expect(ioq.IOQ_DESC_SIZE).toBe(32);
  });

  it('byte length of a ring and the iterator flags', () => {
    expect(ioq.ioqByteLength(1)).toBe(72 + 32);
    expect(ioq.ioqByteLength(256)).toBe(72 + 256 * 32);
    expect(ioq.IOQ_MAX_COUNT).toBe(65536);
    expect(ioq.IOQ_ITER_AUTOUPDATE).toBe(1);
    expect(ioq.IOQ_ITER_NOFLIPOWNER).toBe(2);
    expect(ioq.IOQ_ITER_AUTOUPDATE & ioq.IOQ_ITER_NOFLIPOWNER).toBe(0);
    expect([ioq.IoqSeek.Head, ioq.IoqSeek.Tail, ioq.IoqSeek.Next, ioq.IoqSeek.Set]).toEqual([0, 1, 2, 3]);
  });
});
