// `vbus vhost-user`: the command listens, answers a front end, and on SIGTERM prints its counts,
// removes its socket and exits 0.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { VhostUserRequest as R, encodeRequest } from '@vbus/vhost-user';
import { native, POLL_READABLE } from '@vbus/vhost-user/node';

import { VBUS_ARGS } from './fixtures/vbus-command.js';

it('vbus vhost-user serves a front end and stops on SIGTERM with its counts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vbus-vhost-cli-'));
  const socket = join(dir, 'vhost.sock');
  const child = spawn(process.execPath, [...VBUS_ARGS, 'vhost-user', '--socket', socket, '--ip', '192.0.2.1/24', '--no-event-idx']);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  try {
    for (let i = 0; i < 400 && !out.includes('vbus vhost-user: listening on'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(out).toContain(`listening on ${socket}`);
    expect(out).toContain('-netdev vhost-user,id=n0,chardev=c0');
    const n = native();
    const fd = n.connect(socket);
    n.sendmsg(fd, encodeRequest(R.GET_FEATURES));
    const features = await new Promise<bigint>((resolve) => {
      const id = n.poll(fd, POLL_READABLE, () => {
        const buf = new Uint8Array(20);
        if (n.recvmsg(fd, buf).bytes !== 20) return;
        n.pollStop(id);
        resolve(new DataView(buf.buffer).getBigUint64(12, true));
      });
    });
    // --no-event-idx: EVENT_IDX (bit 29) is not offered
    expect(features & (1n << 29n)).toBe(0n);
    expect(features & (1n << 32n)).toBe(1n << 32n);
    n.close(fd);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toMatch(/sessions 1; kicks 0 \(wakeups 0\); calls 0/);
    expect(existsSync(socket)).toBe(false);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
