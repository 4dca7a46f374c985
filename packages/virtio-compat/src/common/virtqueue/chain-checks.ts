import { ConfigError, type GuestMemory } from '@vbus/core';
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_SIZE, VIRTQ_MAX_SIZE } from './layout.js';

/**
 * The checks both ring layouts make alike (split §2.7, packed §2.8): a device checking the
 * descriptors it copies out of a chain, a driver checking the arguments of `add`. Each takes the
 * spec section to cite, which differs between the layouts. Internal to the virtqueue module.
 */

/** How a device half reports a broken rule: it records the {@link RingError} (failing the queue) and throws it. */
export type Fail = (index: number, value: number | bigint, rule: string) => never;

/**
 * Check descriptor `i` that sets INDIRECT (its fields already copied): negotiated, not also NEXT,
 * a table of whole descriptors, at most VIRTQ_MAX_SIZE of them, inside guest memory.
 */
export function checkIndirectDescriptor(fail: Fail, memory: GuestMemory, i: number, flags: number, addr: number, len: number, negotiated: boolean, section: string): void {
  if (!negotiated) fail(i, flags, `descriptor ${i} sets INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated (${section})`);
  if ((flags & VIRTQ_DESC_F_NEXT) !== 0) fail(i, flags, `descriptor ${i} sets both INDIRECT and NEXT (${section})`);
  if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) fail(i, len, `indirect table length ${len} of descriptor ${i} is not a non-zero multiple of 16 (${section})`);
  if (len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SIZE) fail(i, len, `indirect table of descriptor ${i} has more than ${VIRTQ_MAX_SIZE} entries`);
  if (!memory.contains(addr, len)) fail(i, addr, `indirect table [0x${addr.toString(16)}, +${len}) of descriptor ${i} is outside guest memory`);
}

/**
 * Check one buffer descriptor of a chain (`where` names it in errors: "descriptor", "indirect
 * descriptor"): not device-readable after a device-writable one (`order`: the section that says
 * so), inside guest memory, the chain's total still a u32. Returns the new total.
 */
export function checkBuffer(
  fail: Fail,
  memory: GuestMemory,
  i: number,
  where: string,
  addr: number,
  len: number,
  flags: number,
  seenWritable: boolean,
  total: number,
  order: string,
): number {
  if ((flags & VIRTQ_DESC_F_WRITE) === 0 && seenWritable) fail(i, flags, `${where} ${i} is device-readable after a device-writable one (${order})`);
  if (len !== 0 && !memory.contains(addr, len)) fail(i, addr, `${where} ${i} buffer [0x${addr.toString(16)}, +${len}) is outside guest memory`);
  total += len;
  if (total > 0xffff_ffff) fail(i, total, `chain total length ${total} exceeds 2^32 - 1`);
  return total;
}

/** The checks of a driver's `add` on its arguments: `total` segments, at least one; indirect only if negotiated and if they fit a table. */
export function checkAdd(name: string, negotiated: boolean, total: number, useIndirect: boolean): void {
  if (total === 0) throw new ConfigError(`${name}.add`, 0, 'a buffer needs at least one segment');
  if (useIndirect && !negotiated) throw new ConfigError(`${name}.add.indirect`, true, 'VIRTIO_F_INDIRECT_DESC was not negotiated');
  if (useIndirect && total > VIRTQ_MAX_SIZE) throw new ConfigError(`${name}.add`, total, `an indirect table holds at most ${VIRTQ_MAX_SIZE} segments`);
}
