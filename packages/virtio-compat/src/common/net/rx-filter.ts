/**
 * The receive filter of a virtio-net connection (§5.1.6.5.1, §5.1.6.5.6): promiscuous until the
 * driver sets a mode (QEMU's reset default), else its own MAC, broadcast, and multicast with
 * allmulti; and, with MQ, which rx queue pair a frame's flow goes to.
 */
export class RxFilter {
  promisc = true;
  allmulti = false;
  /** Queue pairs the driver enabled with VQ_PAIRS_SET (1 until it does). */
  pairsInUse = 1;

  constructor(public mac: Uint8Array) {}

  /** Whether a frame for the guest passes the filter. */
  accepts(frame: Uint8Array): boolean {
    if (frame.length < 14) return false;
    if (this.promisc) return true;
    if ((frame[0]! & 1) === 0) {
      for (let i = 0; i < 6; i++) if (frame[i] !== this.mac[i]) return false;
      return true;
    }
    let bcast = true;
    for (let i = 0; i < 6; i++) if (frame[i] !== 0xff) bcast = false;
    return bcast || this.allmulti;
  }

  /** The rx queue pair of a frame's flow: a hash of the IPv4 addresses over the pairs in use. */
  pairOf(frame: Uint8Array): number {
    if (this.pairsInUse === 1 || frame.length < 34 || frame[12] !== 0x08 || frame[13] !== 0x00) return 0;
    let h = 0;
    for (let i = 26; i < 34; i++) h = (h * 31 + frame[i]!) >>> 0;
    return h % this.pairsInUse;
  }

  /** A copy of the state (for tests and introspection). */
  snapshot(): { promisc: boolean; allmulti: boolean; mac: Uint8Array; pairs: number } {
    return { promisc: this.promisc, allmulti: this.allmulti, mac: Uint8Array.from(this.mac), pairs: this.pairsInUse };
  }
}
