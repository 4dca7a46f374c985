/**
 * The virtio-net control queue (§5.1.6.5): each chain carries `{class u8, cmd u8}` + data
 * (device-readable) and an ack u8 (device-writable). Commands change the receive filter, the MAC,
 * the queue pairs in use, or acknowledge an announcement.
 */
import type { DescriptorChain } from '../virtqueue/descriptor-chain.js';
import type { QueueSlot } from '../transport/queue-slot.js';
import {
  VIRTIO_NET_CTRL_ANNOUNCE,
  VIRTIO_NET_CTRL_ANNOUNCE_ACK,
  VIRTIO_NET_CTRL_HDR_SIZE,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MAC_TABLE_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_RX_ALLMULTI,
  VIRTIO_NET_CTRL_RX_PROMISC,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_OK,
} from './virtio-net-abi.js';
import type { RxFilter } from './rx-filter.js';

/** What control commands act on. */
export interface ControlTarget {
  /** Whether feature `bit` was negotiated. */
  has(bit: number): boolean;
  readonly filter: RxFilter;
  /** Queue pairs the device has. */
  readonly pairs: number;
  /** Whether the driver set up both queues of pair `k`. */
  pairReady(k: number): boolean;
  /** The driver acknowledged an announcement. */
  clearAnnounce(): void;
}

/** Run every chain on the control queue, acking each; one used-buffer notification at the end. */
export function processControlQueue(slot: QueueSlot, target: ControlTarget, interrupt: () => void): void {
  const q = slot.queue!;
  const cmd = new Uint8Array(VIRTIO_NET_CTRL_HDR_SIZE + 64);
  let done = 0;
  let chain: DescriptorChain | null;
  while (done < q.size && (chain = q.popChain()) !== null) {
    const r = chain.reader();
    const len = Math.min(r.remaining, cmd.length);
    r.read(cmd, 0, len);
    const ack = len < VIRTIO_NET_CTRL_HDR_SIZE ? VIRTIO_NET_ERR : controlCommand(cmd[0]!, cmd[1]!, cmd.subarray(VIRTIO_NET_CTRL_HDR_SIZE, len), target);
    const w = chain.writer();
    const wrote = w.remaining >= 1 ? w.write(Uint8Array.of(ack)) : 0;
    q.addUsed(chain.id, wrote);
    slot.counters.frames++;
    done++;
  }
  if (done > 0) interrupt();
}

/** Run one control command; returns the ack (VIRTIO_NET_OK / VIRTIO_NET_ERR). */
export function controlCommand(cls: number, cmd: number, data: Uint8Array, t: ControlTarget): number {
  const f = t.filter;
  if (cls === VIRTIO_NET_CTRL_RX && t.has(VIRTIO_NET_F_CTRL_RX) && data.length >= 1) {
    if (cmd === VIRTIO_NET_CTRL_RX_PROMISC) f.promisc = data[0] !== 0;
    else if (cmd === VIRTIO_NET_CTRL_RX_ALLMULTI) f.allmulti = data[0] !== 0;
    else return VIRTIO_NET_ERR;
    return VIRTIO_NET_OK;
  }
  if (cls === VIRTIO_NET_CTRL_MAC) {
    if (cmd === VIRTIO_NET_CTRL_MAC_ADDR_SET && t.has(VIRTIO_NET_F_CTRL_MAC_ADDR) && data.length >= 6 && (data[0]! & 1) === 0) {
      f.mac = Uint8Array.from(data.subarray(0, 6));
      return VIRTIO_NET_OK;
    }
    // MAC tables are accepted but not used for filtering (promisc/allmulti only)
    if (cmd === VIRTIO_NET_CTRL_MAC_TABLE_SET && t.has(VIRTIO_NET_F_CTRL_RX)) return VIRTIO_NET_OK;
    return VIRTIO_NET_ERR;
  }
  if (cls === VIRTIO_NET_CTRL_MQ && cmd === VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && t.has(VIRTIO_NET_F_MQ) && data.length >= 2) {
    const n = data[0]! | (data[1]! << 8);
    if (n < 1 || n > t.pairs) return VIRTIO_NET_ERR;
    for (let k = 0; k < n; k++) if (!t.pairReady(k)) return VIRTIO_NET_ERR;
    f.pairsInUse = n;
    return VIRTIO_NET_OK;
  }
  if (cls === VIRTIO_NET_CTRL_ANNOUNCE && cmd === VIRTIO_NET_CTRL_ANNOUNCE_ACK) {
    t.clearAnnounce();
    return VIRTIO_NET_OK;
  }
  return VIRTIO_NET_ERR;
}
