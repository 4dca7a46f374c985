/**
 * The free buffers of one driver queue, handed out in the order they were given back (first in,
 * first out). The device returns buffers in ring order, so a queue that reuses them in that order
 * posts buffer k in the same ring slot and descriptor lap after lap: with VIRTIO_F_IN_ORDER the
 * ring then leaves those descriptors and avail entries unwritten. No allocation after construction.
 */
export class FreeBuffers {
  private readonly ring: Uint32Array;
  private readonly mask: number;
  private first = 0;
  private count: number;

  /** `n` buffers, numbered 0..n-1, all free. */
  constructor(n: number) {
    let cap = 1;
    while (cap < n) cap *= 2;
    this.ring = new Uint32Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < n; i++) this.ring[i] = i;
    this.count = n;
  }

  /** Free buffers. */
  get length(): number {
    return this.count;
  }

  /** The buffer free longest, or undefined when none is. */
  take(): number | undefined {
    if (this.count === 0) return undefined;
    const i = this.ring[this.first]!;
    this.first = (this.first + 1) & this.mask;
    this.count--;
    return i;
  }

  /** Buffer `i` is free again. Throws when more buffers are given back than the queue has. */
  push(i: number): void {
    if (this.count === this.ring.length) throw new RangeError(`free buffers: ${i} given back to a full list of ${this.count}`);
    this.ring[(this.first + this.count) & this.mask] = i;
    this.count++;
  }
}
