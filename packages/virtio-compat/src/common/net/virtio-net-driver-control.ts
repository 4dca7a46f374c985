// The virtio-net driver's control-queue client (§5.1.6.5) and the commands built on it.
import { BusError, type GuestMemory } from '@vbus/core';
import { VIRTIO_NET_CTRL_HDR_SIZE, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, VIRTIO_NET_CTRL_RX_PROMISC, VIRTIO_NET_OK } from './virtio-net-abi.js';
import type { DriverQueue } from './virtio-net-driver-types.js';

/**
 * The control-queue client (§5.1.6.5): one command per buffer, `{class, cmd}` + data readable,
 * the ack byte writable; each command's promise resolves with the ack when its buffer comes back.
 */
export class ControlClient {
  private readonly waiters = new Map<number, (ack: number) => void>();
  /** Where each in-flight buffer's ack byte is (the data length varies). */
  private readonly ackOffset = new Map<number, number>();

  constructor(
    private readonly name: string,
    private readonly memory: GuestMemory,
    private readonly q: DriverQueue,
    private readonly kick: (q: DriverQueue) => void,
  ) {}

  /** Answer every waiting command with ERR (the queue is going away). */
  cancelAll(): void {
    for (const w of this.waiters.values()) w(1);
    this.waiters.clear();
  }

  /** Send a control command `{class, cmd}` + data; resolves to the device's ack (VIRTIO_NET_OK / ERR). */
  command(cls: number, cmd: number, data: Uint8Array = new Uint8Array(0)): Promise<number> {
    const q = this.q;
    const i = q.free.take();
    if (i === undefined) return Promise.reject(new BusError(`${this.name}: control queue full`));
    const addr = q.buffers[i]!;
    const mem = this.memory;
    const n = VIRTIO_NET_CTRL_HDR_SIZE + data.length;
    if (n + 1 > q.bufferSize) return Promise.reject(new BusError(`${this.name}: control data too long`));
    mem.view(addr, 2).set([cls, cmd]);
    mem.view(addr + 2, data.length).set(data);
    mem.view(addr + n, 1)[0] = 0xff;
    this.ackOffset.set(i, n);
    const p = new Promise<number>((resolve) => this.waiters.set(i, resolve));
    q.vq.add([{ addr, len: n }], [{ addr: addr + n, len: 1 }], i);
    if (q.vq.needsKick()) this.kick(q);
    return p;
  }

  /** Take the used buffers back and resolve their commands. */
  reap(): void {
    const q = this.q;
    let u;
    while ((u = q.vq.getUsed()) !== null) {
      const i = u.token;
      const addr = q.buffers[i]!;
      const ackAt = this.ackOffset.get(i) ?? 0;
      const ack = u.len >= 1 ? this.memory.view(addr + ackAt, 1)[0]! : 1;
      q.free.push(i);
      const w = this.waiters.get(i);
      this.waiters.delete(i);
      w?.(ack);
    }
  }

  /** Receive mode (CTRL_RX): one command per flag given; true when every one was acknowledged. */
  async setRxMode(mode: { promisc?: boolean; allmulti?: boolean }): Promise<boolean> {
    let ok = true;
    if (mode.promisc !== undefined) ok &&= (await this.command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, Uint8Array.of(mode.promisc ? 1 : 0))) === VIRTIO_NET_OK;
    if (mode.allmulti !== undefined) ok &&= (await this.command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, Uint8Array.of(mode.allmulti ? 1 : 0))) === VIRTIO_NET_OK;
    return ok;
  }
}
