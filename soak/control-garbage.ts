// What the soak's control-garbage fault sends: shared by the soak (which counts the refusals) and
// its guest worker (which sends them).

/**
 * Control messages no guest library sends, for the soak's control-garbage fault: each is refused
 * and counted by the host (request numbers far from the library's, so no reply reaches it).
 */
export const CONTROL_GARBAGE: readonly unknown[] = [
  null,
  42,
  [1, 2, 3],
  { length: 2 ** 30 },
  { t: 'frobnicate', req: 1e9 },
  { t: 'call', req: 1e9 + 1, conn: { length: 2 ** 30 }, func: 0, data: new Uint8Array(1) },
  { t: 'shm', req: 1e9 + 2, conn: 1, id: 0, address: 2 ** 64, length: -1 },
  { t: 'open', req: -1 },
];
