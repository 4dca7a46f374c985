/** Messages on the control port between a guest worker and the bus. @internal */
import type { DeviceInfo } from '../common/bus/bus.js';

export interface RegionMessage {
  address: number;
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

export type GuestToHost =
  | { t: 'hello'; guest: string; regions: RegionMessage[]; wake: SharedArrayBuffer | undefined }
  | { t: 'devices'; req: number }
  | { t: 'open'; req: number; name: string }
  | { t: 'call'; req: number; conn: number; func: number; data: Uint8Array }
  | { t: 'shm'; req: number; conn: number; id: number; address: number; length: number; signalAddress: number | undefined }
  | { t: 'close'; req: number; conn: number };

export type HostToGuest =
  | { t: 'reply'; req: number; ok: true; value: unknown }
  | { t: 'reply'; req: number; ok: false; error: { name: string; code: string; message: string } }
  | { t: 'closed'; conn: number; reason: string };

export interface OpenReply {
  conn: number;
  device: DeviceInfo;
  doorbell: SharedArrayBuffer;
}
