import { BusError, VbusError, le, openDriverRing, type DriverRing, type GuestAllocator, type GuestConnection } from '@vbus/core';
import {
  BLOCK_CALL_GET_INFO,
  BLOCK_COMPLETE_BAD_HEADER,
  BLOCK_F_READ_ONLY,
  BLOCK_INFO_CAPACITY,
  BLOCK_INFO_FLAGS,
  BLOCK_INFO_MAX_SECTORS,
  BLOCK_INFO_QUEUE_MAX,
  BLOCK_INFO_SECTOR_SIZE,
  BLOCK_INFO_SIZE,
  BLOCK_QUEUE_REQ,
  BLOCK_REQ_COUNT,
  BLOCK_REQ_DATA,
  BLOCK_REQ_FLAGS,
  BLOCK_REQ_SECTOR,
  BLOCK_REQ_SIZE,
  BLOCK_REQ_STATUS,
  BLOCK_REQ_TYPE,
  BLOCK_S_INVALID,
  BLOCK_S_OK,
  BLOCK_T_DISCARD,
  BLOCK_T_FLUSH,
  BLOCK_T_READ,
  BLOCK_T_WRITE,
} from './block-abi.js';

/** What GET_INFO told the driver. */
export interface BlockInfo {
  /** Capacity in sectors. */
  readonly sectors: number;
  readonly sectorSize: number;
  /** Most sectors per read or write. */
  readonly maxSectors: number;
  readonly readOnly: boolean;
  /** Largest request ring the device accepts. */
  readonly queueMax: number;
}

/** Options of {@link BlockDriver.open}. */
export interface BlockDriverOptions {
  /** Request ring size (requests in flight); default 128, capped by the device's queueMax. */
  ringSize?: number;
  /** Completions handled per poll before yielding (NAPI weight); default 64. */
  pollWeight?: number;
}

/** Called for each finished request: the tag given to `submit`, a BLOCK_S_* status, data bytes moved. */
export type BlockCompletion = (tag: number, status: number, bytes: number) => void;

/** A request the device answered with a status other than OK. */
export class BlockRequestError extends VbusError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('block-request', message);
  }
}

const STATUS_NAME = ['OK', 'IOERR', 'UNSUPP', 'INVALID'];

/**
 * The guest half of the vbus-block device. Two ways to use it:
 *
 * - `submit(type, sector, count, data, tag, more)` and {@link onComplete}: no allocation per
 *   request; a burst submitted with `more` costs one kick, sent by the last request or {@link kick};
 * - `read`, `write`, `flush`, `discard`: one promise per request, queued when the ring is full.
 *
 * Completions arrive through the request ring's poll (the signal is masked while it drains).
 */
export class BlockDriver {
  /** Called for each request sent with {@link submit}. */
  onComplete: BlockCompletion = () => {};
  private readonly headers: number[] = [];
  private readonly free: number[] = [];
  private readonly tags: number[] = [];
  private readonly waiters: Array<((status: number, bytes: number) => void) | null> = [];
  /** Promise requests waiting for a free slot, oldest first. */
  private readonly backlog: Array<() => void> = [];
  private readonly statusWord = new Uint8Array(4);
  private readonly header = new Uint8Array(BLOCK_REQ_SIZE);

  private constructor(
    readonly conn: GuestConnection,
    readonly ring: DriverRing,
    readonly info: BlockInfo,
    allocator: GuestAllocator,
  ) {
    for (let i = 0; i < ring.count; i++) {
      this.headers.push(allocator.alloc(BLOCK_REQ_SIZE, BLOCK_REQ_SIZE));
      this.tags.push(0);
      this.waiters.push(null);
      this.free.push(ring.count - 1 - i);
    }
    ring.onComplete = (slot, len) => this.completed(slot, len);
    // requests submitted with `more` from onComplete (a closed loop) go out with one kick per poll
    ring.onPollEnd = () => {
      this.polling = false;
      ring.flush();
    };
  }

  /** Ask the device for its geometry, lay out the request ring and its headers, register it. */
  static async open(conn: GuestConnection, allocator: GuestAllocator, options: BlockDriverOptions = {}): Promise<BlockDriver> {
    const reply = await conn.call(BLOCK_CALL_GET_INFO);
    if (reply.length < BLOCK_INFO_SIZE) throw new BusError(`${conn.device.name}: GET_INFO replied ${reply.length} bytes, expected ${BLOCK_INFO_SIZE}`);
    const info: BlockInfo = {
      sectors: le.getU64(reply, BLOCK_INFO_CAPACITY),
      sectorSize: le.getU32(reply, BLOCK_INFO_SECTOR_SIZE),
      maxSectors: le.getU32(reply, BLOCK_INFO_MAX_SECTORS),
      readOnly: (le.getU32(reply, BLOCK_INFO_FLAGS) & BLOCK_F_READ_ONLY) !== 0,
      queueMax: le.getU32(reply, BLOCK_INFO_QUEUE_MAX),
    };
    const count = Math.min(options.ringSize ?? 128, info.queueMax);
    const ring = await openDriverRing(conn, { id: BLOCK_QUEUE_REQ, count, allocator, pollWeight: options.pollWeight, name: `${conn.device.name}.req` });
    return new BlockDriver(conn, ring, info, allocator);
  }

  /** Requests that can be submitted now. */
  get freeSlots(): number {
    return this.free.length;
  }
  /** Requests submitted and not finished. */
  get inFlight(): number {
    return this.ring.count - this.free.length;
  }

  /**
   * Send one request: BLOCK_T_* `type`, `count` sectors from `sector`, data at guest address
   * `data` (0 for flush and discard). `tag` comes back in {@link onComplete}. With `more`, the
   * kick waits for the last request of the burst (or {@link kick}). Returns false if every slot is
   * in flight.
   */
  submit(type: number, sector: number, count: number, data: number, tag: number, more = false): boolean {
    const slot = this.free.pop();
    if (slot === undefined) return false;
    this.tags[slot] = tag;
    this.post(slot, type, sector, count, data, more);
    return true;
  }

  /** Kick the device for requests submitted with `more`. */
  kick(): void {
    this.ring.flush();
  }

  /** Read `count` sectors from `sector` into guest memory at `address`; resolves with the bytes read. */
  read(sector: number, count: number, address: number): Promise<number> {
    return this.request(BLOCK_T_READ, sector, count, address);
  }
  /** Write `count` sectors at `sector` from guest memory at `address`; resolves with the bytes written. */
  write(sector: number, count: number, address: number): Promise<number> {
    return this.request(BLOCK_T_WRITE, sector, count, address);
  }
  /** Make every completed write durable. */
  async flush(): Promise<void> {
    await this.request(BLOCK_T_FLUSH, 0, 0, 0);
  }
  /** Discard `count` sectors from `sector` (they read back as zeros). */
  async discard(sector: number, count: number): Promise<void> {
    await this.request(BLOCK_T_DISCARD, sector, count, 0);
  }

  private request(type: number, sector: number, count: number, data: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const go = (): void => {
        const slot = this.free.pop()!;
        this.waiters[slot] = (status, bytes) => {
          if (status === BLOCK_S_OK) resolve(bytes);
          else
            reject(
              new BlockRequestError(status, `${this.conn.device.name}: request type ${type} at sector ${sector} (+${count}) failed with status ${STATUS_NAME[status] ?? status}`),
            );
        };
        // from inside a poll (the backlog) the kick waits for the poll's end
        this.post(slot, type, sector, count, data, this.polling);
      };
      if (this.conn.closed) reject(new BusError(`${this.conn.device.name}: connection is closed`));
      else if (this.free.length > 0) go();
      else this.backlog.push(go);
    });
  }

  private post(slot: number, type: number, sector: number, count: number, data: number, more: boolean): void {
    const h = this.header;
    le.setU32(h, BLOCK_REQ_TYPE, type);
    le.setU32(h, BLOCK_REQ_FLAGS, 0);
    le.setU64(h, BLOCK_REQ_SECTOR, sector);
    le.setU32(h, BLOCK_REQ_COUNT, count);
    le.setU32(h, BLOCK_REQ_STATUS, 0xff);
    le.setU64(h, BLOCK_REQ_DATA, data);
    const at = this.headers[slot]!;
    this.conn.memory.copyIn(at, h, 0, BLOCK_REQ_SIZE);
    this.ring.post(at, BLOCK_REQ_SIZE, slot, more);
  }

  /** True while completions are being handed out (the ring's poll). */
  private polling = false;

  private completed(slot: number, len: number): void {
    this.polling = true;
    let status: number;
    let bytes = len;
    if (len === BLOCK_COMPLETE_BAD_HEADER) {
      status = BLOCK_S_INVALID;
      bytes = 0;
    } else {
      this.conn.memory.copyOut(this.headers[slot]! + BLOCK_REQ_STATUS, this.statusWord, 0, 4);
      status = le.getU32(this.statusWord, 0);
    }
    const waiter = this.waiters[slot];
    this.free.push(slot);
    if (waiter) {
      this.waiters[slot] = null;
      waiter(status, bytes);
    } else this.onComplete(this.tags[slot]!, status, bytes);
    const next = this.backlog.shift();
    if (next) next();
  }
}
