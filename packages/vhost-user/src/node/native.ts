import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The native addon (native/vbus_native.cc): the Linux calls Node lacks. Every function checks its
 * arguments in C and throws a TypeError/RangeError naming the function and the argument, or an
 * Error with `code` (e.g. `"EBADF"`) for a failed system call. Every fd it creates is
 * non-blocking and close-on-exec.
 */
export interface VbusNative {
  /** A listening unix stream socket bound to `path` (which must not exist). */
  listen(path: string, backlog: number): number;
  /** A connected unix stream socket (a front end's side, for tests and tools). */
  connect(path: string): number;
  /** A waiting connection, or -1. */
  accept(fd: number): number;
  /**
   * Receive into `buffer`: `bytes` is -1 when nothing waits, 0 at end of stream; `fds` are the
   * SCM_RIGHTS fds that came with it (the caller owns them). `truncated`: the kernel dropped fds
   * (too many); those that arrived were closed.
   */
  recvmsg(fd: number, buffer: Uint8Array): { bytes: number; fds: number[]; truncated: boolean };
  /** Send `bytes` with `fds` as SCM_RIGHTS; the count sent, or -1 if the socket would block. */
  sendmsg(fd: number, bytes: Uint8Array, fds?: readonly number[]): number;
  /** Close a file descriptor. */
  close(fd: number): void;
  /**
   * A SharedArrayBuffer over a shared read-write mapping of the first `length` bytes of `fd` (a
   * memfd or regular file at least that long). The mapping is unmapped when the last
   * SharedArrayBuffer sharing it, in any thread, is garbage collected; there is no explicit unmap
   * (a view over an unmapped page would crash the process). Closing `fd` afterwards is fine.
   */
  mmap(fd: number, length: number): SharedArrayBuffer;
  /** The memfd's seals (F_SEAL_*), or -1 if the file cannot be sealed. */
  seals(fd: number): number;
  /** Create an eventfd (non-blocking); returns its file descriptor. */
  eventfd(): number;
  /** Events counted since the last read (0 when none). */
  eventfdRead(fd: number): number;
  /** Add `value` to the counter; false if it would overflow. */
  eventfdWrite(fd: number, value: number): boolean;
  /** True if the eventfd's counter is not zero (written, not yet read by its consumer); reads nothing. */
  eventfdPending(fd: number): boolean;
  /** Set O_NONBLOCK on a file descriptor. */
  setNonblocking(fd: number): void;
  /** Bytes read, -1 when nothing waits, 0 at end of file. */
  read(fd: number, buffer: Uint8Array): number;
  /** Bytes written, -1 when the fd would block. */
  write(fd: number, bytes: Uint8Array): number;
  /** Open /dev/net/tun as TAP interface `name` (IFF_TAP | IFF_NO_PI, and IFF_VNET_HDR if asked). */
  tapOpen(name: string, vnetHdr: boolean): { fd: number; name: string };
  /** Set the virtio-net header size a TAP with IFF_VNET_HDR reads and writes (TUNSETVNETHDRSZ). */
  tapSetVnetHdrSize(fd: number, size: number): void;
  /** TUNSETOFFLOAD with TUN_F_* bits (CSUM 1, TSO4 2, TSO6 4, TSO_ECN 8, UFO 16). */
  tapSetOffload(fd: number, flags: number): void;
  /**
   * Watch `fd` in this thread's event loop: `callback(events)` runs when it is readable (1) or
   * writable (2) as asked. Returns an id for {@link pollStop}. Stop the poll before closing the fd.
   */
  poll(fd: number, events: number, callback: (events: number, error: string | null) => void): number;
  /** Stop watching; false if the id is not polling. */
  pollStop(id: number): boolean;
  /** Let (true) or stop (false) the poll keep the process alive. */
  pollRef(id: number, ref: boolean): boolean;
}

/** Poll events. */
export const POLL_READABLE = 1;
/** Poll event: the descriptor is writable. */
export const POLL_WRITABLE = 2;

let loaded: VbusNative | undefined;

/**
 * The addon, built first if this clone has not built it yet (npm test's pretest step builds it;
 * the CLI on a fresh clone builds it here, synchronously, once).
 */
export function native(): VbusNative {
  if (loaded) return loaded;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const addon = join(root, 'native', 'build', 'vbus_native.node');
  const require = createRequire(import.meta.url);
  if (!existsSync(addon)) {
    // the build script is ESM (shared with npm test's pretest step): run it as a child, once
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`@vbus/vhost-user: the native addon is not built and building it failed:\n${r.stderr}${r.stdout}`);
  }
  loaded = require(addon) as VbusNative;
  return loaded;
}
