import { createWriteStream, type WriteStream } from 'node:fs';
import type { FrameSink } from '../common/backend/net-backend.js';
import { ConfigError } from '@vbus/core';
import { NetError } from '../common/backend/net-error.js';
import { PcapTap, type PcapTapOptions } from '../common/backend/pcap.js';

/** Options of {@link PcapFile.open}. */
export interface PcapFileOptions extends PcapTapOptions {
  /**
   * Bytes queued to the file beyond which new records are dropped (counted in `tap.dropped`)
   * until the disk catches up, so a slow disk never makes the host buffer without bound.
   * Default 16 MiB.
   */
  maxQueuedBytes?: number;
}

/**
 * A pcap file on disk fed by a {@link PcapTap}. Frames are queued to an fs write stream as they
 * come, up to `maxQueuedBytes` behind the disk (then records are dropped and counted);
 * {@link close} flushes everything and closes the file.
 */
export class PcapFile {
  readonly tap: PcapTap;
  private readonly stream: WriteStream;
  private error: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    options: PcapFileOptions,
  ) {
    const max = options.maxQueuedBytes ?? 16 * 1024 * 1024;
    if (!(max >= 0)) throw new ConfigError('maxQueuedBytes', options.maxQueuedBytes, 'must be a non-negative number of bytes');
    this.stream = createWriteStream(path);
    this.stream.on('error', (err) => {
      this.error = err;
    });
    let header = true;
    this.tap = new PcapTap((bytes) => {
      if (this.closing !== undefined) return false;
      // the global header always goes; a record only while the stream is not too far behind
      if (!header && this.stream.writableLength + bytes.length > max) return false;
      header = false;
      this.stream.write(bytes);
      return true;
    }, options);
  }

  /** Create (truncate) the file and write the pcap global header. */
  static open(path: string, options: PcapFileOptions = {}): PcapFile {
    return new PcapFile(path, options);
  }

  /** The tap as a FrameSink (records the frame, then passes it to `options.inner` if given). */
  get sink(): FrameSink {
    return this.tap;
  }

  /** Flush and close the file. Rejects with a NetError if writing failed. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.tap.stop();
      this.closing = new Promise<void>((resolve, reject) => {
        const fail = (err: Error): void => reject(new NetError('pcap-file', 'io', this.path, `cannot write pcap: ${err.message}`, { cause: err }));
        if (this.error) {
          fail(this.error);
          return;
        }
        this.stream.once('error', fail);
        this.stream.end(() => {
          if (this.error) fail(this.error);
          else resolve();
        });
      });
    }
    return this.closing;
  }
}
