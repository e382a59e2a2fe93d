import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Bytes the type sniffer needs from the start of a file (file-type reads at most this many). */
const HEAD_BYTES = 4100;

export class TooLarge extends Error {}

export interface Received {
  path: string;
  size: number;
  sha256: string;
  /** The first bytes, for sniffing the type. */
  head: Buffer;
}

/**
 * Streams an upload to a temp file in `dir`, counting, hashing and keeping its first bytes on the
 * way; memory stays at a few chunks whatever its size (the pipeline's backpressure reaches the
 * socket). Past `maxBytes` it stops with TooLarge; on any failure the temp file is removed.
 */
export async function receiveToFile(body: Readable, dir: string, maxBytes: number): Promise<Received> {
  const path = join(dir, randomBytes(12).toString('hex'));
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headSize = 0;
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > maxBytes) return callback(new TooLarge(`body over ${maxBytes} bytes`));
      hash.update(chunk);
      if (headSize < HEAD_BYTES) {
        const part = chunk.subarray(0, HEAD_BYTES - headSize);
        head.push(Buffer.from(part));
        headSize += part.length;
      }
      callback(null, chunk);
    },
  });
  try {
    await pipeline(body, meter, createWriteStream(path, { flags: 'wx' }));
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return { path, size, sha256: hash.digest('hex'), head: Buffer.concat(head) };
}
