import type { GuestAllocator, GuestConnection } from '@vbus/core';
import type { GuestNic } from '@vbus/net';
import { VenetDriver } from '@vbus/venet';
import { VirtioNetDriver } from '@vbus/virtio-compat';

/** The NIC kinds a guest can open: venet, and virtio-net with a split or packed ring. */
export type GuestNicKind = 'venet' | 'virtio-net' | 'virtio-net-packed';

/** Open the guest driver of `kind` on a connection; both drivers are a {@link GuestNic}. */
export async function openGuestNic(kind: string, conn: GuestConnection, allocator: GuestAllocator): Promise<GuestNic> {
  if (kind === 'venet') return VenetDriver.open(conn, allocator);
  if (kind === 'virtio-net' || kind === 'virtio-net-packed') return VirtioNetDriver.open(conn, allocator, { ring: kind === 'virtio-net-packed' ? 'packed' : 'split' });
  throw new Error(`no guest driver for NIC kind "${kind}"`);
}
