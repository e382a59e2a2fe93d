import { Readable } from 'node:stream';
import type { HttpResponse } from 'uWebSockets.js';

// Node streams over uWS request and response bodies, with backpressure both ways. Hand-written:
// uWS has no stream adapter, and the maintained wrappers buffer bodies whole.

/** Whether the response may still be touched: uWS throws on any call after an abort or an end. */
export interface ResponseState {
  aborted: boolean;
  ended?: boolean;
  /** Called once when the client goes away (the owner's onAborted calls it). */
  onAbort?: (() => void) | undefined;
}

/**
 * The request body as a Readable, registered now (uWS drops data that arrives before onData is
 * set). Past `highWaterMark` unread bytes the socket is paused, so a slow consumer (disk, S3,
 * an await before reading) holds the client back instead of filling memory.
 */
export function requestBody(res: HttpResponse, state: ResponseState, highWaterMark = 256 * 1024): Readable {
  let paused = false;
  const live = () => !state.aborted && !state.ended;
  const body = new Readable({
    highWaterMark,
    read() {
      if (paused && live()) {
        paused = false;
        res.resume();
      }
    },
  });
  state.onAbort = () => body.destroy(new Error('the client went away'));
  res.onData((chunk, isLast) => {
    if (body.destroyed) return;
    // The ArrayBuffer is neutered after this callback: copy it.
    const more = body.push(Buffer.from(chunk.slice(0)));
    if (isLast) body.push(null);
    else if (!more && !paused && live()) {
      paused = true;
      res.pause();
    }
  });
  return body;
}

/**
 * Writes `size` bytes from `source` as the body after `writeHead` (status and headers), pausing
 * the source while uWS's send buffer is full. Resolves when done or when the client went away
 * (the source is then destroyed); a source failure mid-body closes the connection.
 */
export function pipeToResponse(
  res: HttpResponse,
  state: ResponseState,
  source: Readable,
  size: number,
  writeHead: () => void,
): Promise<void> {
  return new Promise((resolve) => {
    let pending: Buffer | undefined;
    let pendingOffset = 0;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      state.ended = true;
      source.destroy();
      resolve();
    };
    const done = finish;
    state.onAbort = finish;
    /** Tries to send `chunk`; true when uWS took all of it. */
    const attempt = (chunk: Buffer): boolean => {
      const offset = res.getWriteOffset();
      const [ok, responded] = res.tryEnd(chunk, size);
      if (responded) done();
      else if (!ok) {
        pending = chunk;
        pendingOffset = offset;
      }
      return ok;
    };
    res.cork(() => {
      writeHead();
    });
    res.onWritable((offset) => {
      if (state.aborted || !pending) return true;
      const rest = pending.subarray(offset - pendingOffset);
      let ok = false;
      res.cork(() => {
        ok = attempt(rest);
      });
      if (ok && !finished) {
        pending = undefined;
        source.resume();
      }
      return ok;
    });
    source.on('data', (chunk: Buffer) => {
      if (state.aborted) return done();
      let ok = false;
      res.cork(() => {
        ok = attempt(chunk);
      });
      if (!ok && !finished) source.pause();
    });
    source.on('error', () => {
      if (!state.aborted && !finished) res.close();
      done();
    });
    source.on('end', () => {
      // Fewer bytes than promised (a blob changed under us): the client must not take it as whole.
      if (!finished && !state.aborted && !pending) {
        res.close();
        done();
      }
    });
  });
}
