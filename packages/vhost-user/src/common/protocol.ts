import { VbusError } from '@vbus/core';

/**
 * The vhost-user wire format (QEMU docs/interop/vhost-user.rst): a 12-byte header
 * `{request u32, flags u32, size u32}` then `size` payload bytes, all little-endian, on a unix
 * stream socket; fds travel as SCM_RIGHTS ancillary data with the message they belong to.
 * This module only parses and encodes: every length, count and index is checked here, before
 * the session sees a message.
 */

/** Header: request u32 + flags u32 + size u32. */
export const VHOST_USER_HDR_SIZE = 12;
/** Largest payload we accept: SET_MEM_TABLE with 8 regions is 8 + 8·32 = 264 bytes; the rest are smaller. */
export const VHOST_USER_MAX_PAYLOAD = 4096;
/** flags: protocol version (bits 0..1), always 1. */
export const VHOST_USER_VERSION = 0x1;
/** Bits of the header flags that hold the protocol version. */
export const VHOST_USER_VERSION_MASK = 0x3;
/** flags: this message is a reply. */
export const VHOST_USER_REPLY_MASK = 0x1 << 2;
/** flags: the front end wants a REPLY_ACK reply (with VHOST_USER_PROTOCOL_F_REPLY_ACK). */
export const VHOST_USER_NEED_REPLY_MASK = 0x1 << 3;
/** The flags bits defined by the spec; anything else is refused. */
export const VHOST_USER_KNOWN_FLAGS = VHOST_USER_VERSION_MASK | VHOST_USER_REPLY_MASK | VHOST_USER_NEED_REPLY_MASK;

/** Front-end requests (vhost-user.rst "Front-end message types"). */
export const VhostUserRequest = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  RESET_DEVICE: 34,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
} as const;

/** Name of a request number, for errors and logs. */
export function requestName(request: number): string {
  for (const [k, v] of Object.entries(VhostUserRequest)) if (v === request) return k;
  return `request ${request}`;
}

/** Virtio feature bit 30: the back end speaks protocol features (GET/SET_PROTOCOL_FEATURES). */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;
/** Protocol feature bits (vhost-user.rst "Protocol features"). */
export const VHOST_USER_PROTOCOL_F_MQ = 0;
/** Protocol feature REPLY_ACK: the front end may ask for an ack of any request. */
export const VHOST_USER_PROTOCOL_F_REPLY_ACK = 3;
/** vhost feature bit 26: dirty-page logging for live migration (not offered). */
export const VHOST_F_LOG_ALL = 26;

/** Most memory regions in one SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS). */
export const VHOST_USER_MAX_REGIONS = 8;
/** memory region: guest_phys_addr u64 + memory_size u64 + userspace_addr u64 + mmap_offset u64. */
export const VHOST_USER_REGION_SIZE = 32;
/** memory table: nregions u32 + padding u32, then the regions. */
export const VHOST_USER_MEM_HDR_SIZE = 8;
/** vring state: index u32 + num u32. */
export const VHOST_USER_VRING_STATE_SIZE = 8;
/** vring address: index u32 + flags u32 + desc u64 + used u64 + avail u64 + log u64 (note: used before avail). */
export const VHOST_USER_VRING_ADDR_SIZE = 40;
/** SET_VRING_KICK/CALL/ERR u64: bits 0..7 the queue index, bit 8 "no fd" (poll / no notification). */
export const VHOST_USER_VRING_IDX_MASK = 0xff;
/** Set in a SET_VRING_KICK/CALL/ERR payload when no file descriptor comes with it. */
export const VHOST_USER_VRING_NOFD_MASK = 0x1 << 8;
/** vring address flags: bit 0 VHOST_VRING_F_LOG (log writes to the used ring; needs LOG_ALL). */
export const VHOST_VRING_F_LOG = 0;

/** A protocol error: the front end broke the wire format or the protocol. The connection is closed. */
export class VhostUserError extends VbusError {
  override readonly name: string = 'VhostUserError';
  constructor(
    /** The request it concerns (0 if the header itself is bad). */
    readonly request: number,
    /** What was wrong. */
    readonly rule: string,
  ) {
    super('vhost-user', `vhost-user ${request === 0 ? 'message' : requestName(request)}: ${rule}`);
  }
  /** True for a VhostUserError (code `"vhost-user"`), even one made by another copy of the package or in another realm; use it, not `instanceof`. */
  static override is(value: unknown): value is VhostUserError {
    return VbusError.is(value) && value.code === 'vhost-user';
  }
}

/** A message header. */
export interface VhostUserHeader {
  readonly request: number;
  readonly flags: number;
  readonly size: number;
}

/** One memory region of SET_MEM_TABLE, as the front end sent it (numbers: exact below 2^53). */
export interface VhostUserMemoryRegion {
  readonly guestAddress: number;
  readonly size: number;
  readonly userAddress: number;
  readonly mmapOffset: number;
}

/** A parsed message: the request's fields, already checked for shape. */
export type VhostUserMessage =
  | { readonly request: number; readonly kind: 'none' }
  | { readonly request: number; readonly kind: 'u64'; readonly value: bigint }
  | { readonly request: number; readonly kind: 'state'; readonly index: number; readonly num: number }
  | {
      readonly request: number;
      readonly kind: 'addr';
      readonly index: number;
      readonly flags: number;
      readonly desc: number;
      readonly used: number;
      readonly avail: number;
      readonly log: number;
    }
  | { readonly request: number; readonly kind: 'fd'; readonly index: number; readonly noFd: boolean }
  | { readonly request: number; readonly kind: 'mem'; readonly regions: readonly VhostUserMemoryRegion[] };

/** Parse and check a header. Throws {@link VhostUserError}. */
export function parseHeader(bytes: Uint8Array): VhostUserHeader {
  if (bytes.length < VHOST_USER_HDR_SIZE) throw new VhostUserError(0, `header needs ${VHOST_USER_HDR_SIZE} bytes, got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, VHOST_USER_HDR_SIZE);
  const request = dv.getUint32(0, true);
  const flags = dv.getUint32(4, true);
  const size = dv.getUint32(8, true);
  if ((flags & VHOST_USER_VERSION_MASK) !== VHOST_USER_VERSION)
    throw new VhostUserError(request, `version ${flags & VHOST_USER_VERSION_MASK} in flags 0x${flags.toString(16)}; only version 1 exists`);
  if ((flags & ~VHOST_USER_KNOWN_FLAGS) !== 0) throw new VhostUserError(request, `unknown flags 0x${(flags & ~VHOST_USER_KNOWN_FLAGS).toString(16)}`);
  if ((flags & VHOST_USER_REPLY_MASK) !== 0) throw new VhostUserError(request, 'a front-end message must not have the REPLY flag');
  if (size > VHOST_USER_MAX_PAYLOAD) throw new VhostUserError(request, `payload size ${size} exceeds ${VHOST_USER_MAX_PAYLOAD}`);
  return { request, flags, size };
}

/** Largest u64 we keep as a JavaScript number; above it an address is out of every region anyway. */
const U64_AS_NUMBER_LIMIT = 2 ** 53;

function u64Number(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  // an address that a number cannot hold exactly is outside every region: keep it out of range
  return v >= BigInt(U64_AS_NUMBER_LIMIT) ? U64_AS_NUMBER_LIMIT : Number(v);
}

function expectSize(request: number, payload: Uint8Array, size: number): DataView {
  if (payload.length !== size) throw new VhostUserError(request, `payload must be ${size} bytes, got ${payload.length}`);
  return new DataView(payload.buffer, payload.byteOffset, payload.length);
}

/**
 * Parse a payload for `request`. The shape (sizes, counts, reserved bits) is checked here;
 * whether the values make sense for the device (queue index in range, addresses in the memory
 * table) is the session's job. Unknown requests parse as 'none' with their payload ignored; the
 * session refuses them.
 */
export function parsePayload(request: number, payload: Uint8Array): VhostUserMessage {
  const R = VhostUserRequest;
  switch (request) {
    case R.GET_FEATURES:
    case R.GET_PROTOCOL_FEATURES:
    case R.SET_OWNER:
    case R.RESET_OWNER:
    case R.GET_QUEUE_NUM:
    case R.RESET_DEVICE:
      // these carry no payload; QEMU sends size 0 (some front ends send a zero u64: allowed)
      if (payload.length !== 0 && payload.length !== 8) throw new VhostUserError(request, `payload must be empty, got ${payload.length} bytes`);
      return { request, kind: 'none' };
    case R.SET_FEATURES:
    case R.SET_PROTOCOL_FEATURES: {
      const dv = expectSize(request, payload, 8);
      return { request, kind: 'u64', value: dv.getBigUint64(0, true) };
    }
    case R.SET_VRING_NUM:
    case R.SET_VRING_BASE:
    case R.GET_VRING_BASE:
    case R.SET_VRING_ENABLE: {
      const dv = expectSize(request, payload, VHOST_USER_VRING_STATE_SIZE);
      return { request, kind: 'state', index: dv.getUint32(0, true), num: dv.getUint32(4, true) };
    }
    case R.SET_VRING_ADDR: {
      const dv = expectSize(request, payload, VHOST_USER_VRING_ADDR_SIZE);
      return {
        request,
        kind: 'addr',
        index: dv.getUint32(0, true),
        flags: dv.getUint32(4, true),
        desc: u64Number(dv, 8),
        used: u64Number(dv, 16),
        avail: u64Number(dv, 24),
        log: u64Number(dv, 32),
      };
    }
    case R.SET_VRING_KICK:
    case R.SET_VRING_CALL:
    case R.SET_VRING_ERR: {
      const dv = expectSize(request, payload, 8);
      const v = dv.getBigUint64(0, true);
      if ((v & ~BigInt(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) !== 0n)
        throw new VhostUserError(request, `reserved bits set in 0x${v.toString(16)} (only index bits 0..7 and the no-fd bit 8 are defined)`);
      const n = Number(v);
      return { request, kind: 'fd', index: n & VHOST_USER_VRING_IDX_MASK, noFd: (n & VHOST_USER_VRING_NOFD_MASK) !== 0 };
    }
    case R.SET_MEM_TABLE: {
      if (payload.length < VHOST_USER_MEM_HDR_SIZE) throw new VhostUserError(request, `payload needs at least ${VHOST_USER_MEM_HDR_SIZE} bytes, got ${payload.length}`);
      const dv = new DataView(payload.buffer, payload.byteOffset, payload.length);
      const n = dv.getUint32(0, true);
      if (n < 1 || n > VHOST_USER_MAX_REGIONS) throw new VhostUserError(request, `region count ${n} is not in 1..${VHOST_USER_MAX_REGIONS}`);
      // QEMU sends the whole fixed-size table (8 regions); fewer bytes than the count needs is an error
      const need = VHOST_USER_MEM_HDR_SIZE + n * VHOST_USER_REGION_SIZE;
      if (payload.length < need) throw new VhostUserError(request, `${n} regions need ${need} bytes, got ${payload.length}`);
      const regions: VhostUserMemoryRegion[] = [];
      for (let i = 0; i < n; i++) {
        const o = VHOST_USER_MEM_HDR_SIZE + i * VHOST_USER_REGION_SIZE;
        regions.push({ guestAddress: u64Number(dv, o), size: u64Number(dv, o + 8), userAddress: u64Number(dv, o + 16), mmapOffset: u64Number(dv, o + 24) });
      }
      return { request, kind: 'mem', regions };
    }
    default:
      return { request, kind: 'none' };
  }
}

/** Encode a reply: the request's number, version 1 with the REPLY flag, and `payload`. */
export function encodeReply(request: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(VHOST_USER_HDR_SIZE + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, request, true);
  dv.setUint32(4, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, true);
  dv.setUint32(8, payload.length, true);
  out.set(payload, VHOST_USER_HDR_SIZE);
  return out;
}

/** Encode a front-end message (for tests and tools that play the front end). */
export function encodeRequest(request: number, payload: Uint8Array = new Uint8Array(0), flags = VHOST_USER_VERSION): Uint8Array {
  const out = new Uint8Array(VHOST_USER_HDR_SIZE + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, request, true);
  dv.setUint32(4, flags, true);
  dv.setUint32(8, payload.length, true);
  out.set(payload, VHOST_USER_HDR_SIZE);
  return out;
}

/** A u64 payload. */
export function u64Payload(v: bigint | number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(v), true);
  return out;
}

/** A vring state payload `{index u32, num u32}`. */
export function statePayload(index: number, num: number): Uint8Array {
  const out = new Uint8Array(VHOST_USER_VRING_STATE_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, index, true);
  dv.setUint32(4, num, true);
  return out;
}

/**
 * Splits a byte stream into messages. The socket side asks {@link wanted} and reads at most that
 * many bytes, so one read never spans two messages, and the fds that came with a read belong to
 * the message being read (QEMU sends each message, fds included, with one sendmsg).
 */
export class MessageReader {
  private readonly buf = new Uint8Array(VHOST_USER_HDR_SIZE + VHOST_USER_MAX_PAYLOAD);
  private len = 0;
  private header: VhostUserHeader | null = null;
  private fds: number[] = [];

  /** Bytes to read next: the rest of the header, then the rest of the payload. Never 0. */
  wanted(): number {
    return this.header === null ? VHOST_USER_HDR_SIZE - this.len : VHOST_USER_HDR_SIZE + this.header.size - this.len;
  }

  /**
   * Append received bytes (at most {@link wanted}) and the fds received with them. Throws
   * {@link VhostUserError} as soon as a header is complete and bad, before its payload is read.
   */
  push(bytes: Uint8Array, fds: readonly number[] = []): void {
    this.fds.push(...fds);
    if (bytes.length > this.wanted()) throw new VhostUserError(0, `internal: ${bytes.length} bytes pushed, ${this.wanted()} wanted`);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    if (this.header === null && this.len === VHOST_USER_HDR_SIZE) this.header = parseHeader(this.buf.subarray(0, VHOST_USER_HDR_SIZE));
  }

  /** fds received and not yet handed out with a message (the owner closes them on teardown). */
  pendingFds(): number[] {
    return this.fds.slice();
  }

  /** The next complete message with its fds (the caller owns them), or null if more bytes are needed. */
  next(): { header: VhostUserHeader; message: VhostUserMessage; fds: number[] } | null {
    const header = this.header;
    if (header === null || this.len < VHOST_USER_HDR_SIZE + header.size) return null;
    const payload = this.buf.slice(VHOST_USER_HDR_SIZE, VHOST_USER_HDR_SIZE + header.size);
    this.header = null;
    this.len = 0;
    // parse before handing out the fds: on a bad payload the reader still owns them
    const message = parsePayload(header.request, payload);
    const fds = this.fds;
    this.fds = [];
    return { header, message, fds };
  }
}
