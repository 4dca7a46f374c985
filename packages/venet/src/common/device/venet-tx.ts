/**
 * venet's transmit path: on a kick, mask the tx signal, drain at most a ring's worth of frames
 * (checking each descriptor on a private copy), hand them to the backend port, signal
 * tx-complete every N frames (or as TXC events) and when the ring drains, then unmask.
 */
import { FrameCopy, MemoryAccessError, TurnPoller, le } from '@vbus/core';
import { GSO_NONE, PortBurst, gsoRefusal, type FrameOffload } from '@vbus/net';
import * as abi from '../abi/venet-abi.js';
import type { DeviceRing } from './device-ring.js';
import { VENET_SG_MAX_DESC, checkSgDescriptor, gatherSg, newSgFrame, type SgLimits } from './sg-descriptor.js';
import type { VenetPathHost } from './venet-context.js';

/** A TXC event with its constant fields filled in (the cookie is set per frame). */
function newTxcEvent(): Uint8Array {
  const ev = new Uint8Array(abi.VENET_EVENT_TXC_SIZE);
  le.setU32(ev, abi.VENET_EVENT_OFF_SIZE, abi.VENET_EVENT_TXC_SIZE);
  le.setU32(ev, abi.VENET_EVENT_OFF_ID, abi.VENET_EVENT_TXC);
  le.setU32(ev, abi.VENET_EVENT_TXC_OFF_TXQID, abi.VENET_QUEUE_TX);
  return ev;
}

export class VenetTxPath {
  /** The host's copy of a plain frame (valid only during deliver). */
  private readonly plainCopy: FrameCopy;
  /** The host's copy of a frame gathered from SG (valid only during deliver). */
  private scratch: Uint8Array | undefined;
  /** Private copy of the SG descriptor being checked (copied out of guest memory, then checked). */
  private readonly sgCopy = new Uint8Array(VENET_SG_MAX_DESC);
  private readonly sgFrame = newSgFrame();
  private readonly limits: SgLimits;
  private readonly violation: (value: number | bigint, rule: string) => Error;
  /** The TXC event, rewritten per frame (only the cookie changes). */
  private readonly txcEvent = newTxcEvent();
  private continueScheduled = false;
  /** Polls the ring for a few turns, kick still masked, before unmasking. */
  private readonly poller: TurnPoller;
  /** The drain pass's frames go to the backend port as one burst, ended when the pass ends. */
  private readonly burst = new PortBurst();

  constructor(
    private readonly host: VenetPathHost,
    readonly ring: DeviceRing,
  ) {
    const mtu = host.ctx.config.mtu;
    this.limits = { maxPlain: mtu + abi.VENET_FRAME_OVERHEAD, sgCaps: 0, memory: ring.reg.memory };
    this.plainCopy = new FrameCopy(this.limits.maxPlain);
    this.poller = new TurnPoller(host.ctx, host.ctx.config.pollTurns, {
      hasWork: () => host.live && ring.next(),
      // false: failed, or more than a ring was queued and the deferred pass continues
      drain: () => host.live && host.guard('tx', () => this.drain()) && !this.continueScheduled,
      unmask: () => {
        if (host.live) ring.signal.enable();
      },
    });
    this.violation = (value, rule) => ring.violation(value, rule);
  }

  /** The tx signal's handler. */
  onKick(): void {
    const host = this.host;
    if (!host.live) return;
    const tx = this.ring;
    host.ctx.stats.tx.kicks++;
    tx.signal.disable();
    if (!host.guard('tx', () => this.drain())) return;
    if (this.continueScheduled) return; // stays masked until the deferred pass finishes
    this.poller.idle(); // polls a few turns, then unmasks
  }

  /**
   * Move up to one ring's worth of frames; if more remain, finish in a deferred pass (bounded
   * work per wakeup). The frames of a pass go to the backend as one burst (`more`), ended when
   * the pass ends however it ends, so a socket backend writes them with one call.
   */
  private drain(): void {
    try {
      this.drainPass();
    } finally {
      this.burst.end();
    }
  }

  private drainPass(): void {
    const host = this.host;
    const tx = this.ring;
    const every = host.ctx.config.txCompleteEvery;
    const evq = host.evq;
    const useTxc = evq !== undefined && (host.caps(abi.VENET_CAP_GROUP_EVENTQ) & abi.VENET_CAP_EVQ_TXC) !== 0;
    this.limits.sgCaps = host.caps(abi.VENET_CAP_GROUP_SG);
    let since = 0;
    let done = 0;
    let txcLost = false;
    // completions are published in batches (IoqDeviceQueue): every frame kept back is followed,
    // in this pass, by a tx-complete notify(), which publishes first, or by settleDeferred().
    // With TXC events each is published at once, before its event, which names the buffer
    const more = !useTxc;
    const count = tx.count;
    while (done < count && tx.next()) {
      const cookie = this.transmitOne(tx);
      tx.complete(0, more);
      done++;
      since++;
      if (useTxc) {
        const ev = this.txcEvent;
        le.setU64(ev, abi.VENET_EVENT_TXC_OFF_COOKIE, cookie);
        if (!host.pushEvent(ev)) txcLost = true;
      }
      if (since >= every) {
        if (useTxc) evq!.notify();
        else tx.notifyInPass();
        since = 0;
      }
    }
    if (done === count && tx.next()) {
      // more work than one ring: continue later, keeping the kick masked
      if (since > 0) (useTxc ? evq! : tx).notify();
      else tx.settleDeferred();
      if (txcLost) tx.notify();
      this.continueScheduled = true;
      host.ctx.defer(() => {
        this.continueScheduled = false;
        if (!host.live) return;
        if (host.guard('tx', () => this.drain()) && !this.continueScheduled) this.poller.idle();
      });
      return;
    }
    if (since > 0) (useTxc ? evq! : tx).notify();
    else tx.settleDeferred();
    if (txcLost) tx.notify();
  }

  /** The RingError of a plain frame that is not inside guest memory. */
  private outside(tx: DeviceRing, ptr: number, len: number): Error {
    return tx.violation(ptr, `frame at 0x${ptr.toString(16)}+${len} is outside guest memory`);
  }

  /** Check and send the frame under the TX cursor. Returns its cookie. Throws RingError on an ABI violation. */
  private transmitOne(tx: DeviceRing): number {
    const ptr = tx.q.ptr;
    const len = tx.q.len;
    const mem = tx.reg.memory;
    const ctx = this.host.ctx;
    const maxPlain = this.limits.maxPlain;
    const port = ctx.port;
    let frame: Uint8Array | undefined;
    let frameLen: number;
    let offload: FrameOffload | undefined;
    let cookie = tx.q.cookie;
    if ((this.limits.sgCaps & abi.VENET_CAP_SG) === 0) {
      if (len < 14 || len > maxPlain) throw tx.violation(len, `frame length must be in [14, ${maxPlain}] (MTU ${ctx.config.mtu} + 18)`);
      frameLen = len;
      // copied out, never a view: the switch checks the source MAC and a backend reads the frame
      // after that, while the guest (another thread) may rewrite the bytes in between; the copy
      // keeps the guest's alignment and hands out one reused view (FrameCopy). The copy checks
      // the range (one region lookup, not two); without a port only the check is made
      if (!port) {
        if (!mem.contains(ptr, len)) throw this.outside(tx, ptr, len);
      } else {
        try {
          frame = this.plainCopy.copyFrom(mem, ptr, len);
        } catch (e) {
          if (MemoryAccessError.is(e)) throw this.outside(tx, ptr, len);
          throw e;
        }
      }
    } else {
      // SG: copy the descriptor out of shared memory first, then check the copy.
      if (len < abi.venetSgSize(1) || len > VENET_SG_MAX_DESC) throw tx.violation(len, `SG descriptor length must be in [${abi.venetSgSize(1)}, ${VENET_SG_MAX_DESC}]`);
      const pmtd = this.host.pmtd;
      if (pmtd && (ptr < pmtd.pool || ptr + len > pmtd.pool + pmtd.len))
        throw tx.violation(ptr, `SG descriptor at 0x${ptr.toString(16)}+${len} is outside the pre-mapped pool 0x${pmtd.pool.toString(16)}+${pmtd.len}`);
      if (!mem.contains(ptr, len)) throw tx.violation(ptr, `SG descriptor at 0x${ptr.toString(16)}+${len} is outside guest memory`);
      const sg = this.sgCopy;
      mem.copyOut(ptr, sg, 0, len);
      const f = checkSgDescriptor(sg, len, this.limits, this.violation, this.sgFrame);
      cookie = f.cookie;
      frameLen = f.total;
      offload = f.offload;
      // gather only for a backend to read; with none the frame is a counted drop
      if (port) {
        if (!this.scratch || this.scratch.length < f.total) this.scratch = new Uint8Array(Math.max(f.total, maxPlain));
        frame = gatherSg(sg, f, mem, this.scratch);
      }
    }
    const stats = ctx.stats.tx;
    // GSO metadata over the limits (size below the minimum MSS, too many segments) is a counted
    // drop, as Linux drops such a virtio_net_hdr: the frame never reaches the backend
    const gsoRefused = offload !== undefined && offload.gsoType !== GSO_NONE ? gsoRefusal(frameLen, offload.gsoType, offload.gsoSize) : undefined;
    if (gsoRefused !== undefined) {
      ctx.txDrops.gso++;
      ctx.txDrops.lastReason = gsoRefused;
      stats.drops++;
    } else if (port && frame && this.burst.deliver(port, frame, offload)) {
      stats.frames++;
      stats.bytes += frameLen;
    } else stats.drops++;
    return cookie;
  }
}
