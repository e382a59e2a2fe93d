import { afterAll, beforeAll } from 'vitest';
import type { ConfigInput } from '../../src/platform/config.js';
import { startServer, type StorageMode, type TestServer, type TestUser } from './server.js';
import { connect, type TestSocket } from './ws-client.js';

/**
 * One server for a describe block's tests: started before them, stopped after them together with
 * every socket opened through `open` (or handed to `track`). Call it in the block's body.
 */
export function sharedServer(options: () => { mode?: StorageMode; env?: ConfigInput }) {
  let server: TestServer | undefined;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    server = await startServer(options());
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await server?.stop();
  });
  const started = (): TestServer => {
    if (!server) throw new Error('the shared server starts in beforeAll');
    return server;
  };
  return {
    get server(): TestServer {
      return started();
    },
    track(socket: TestSocket): TestSocket {
      sockets.push(socket);
      return socket;
    },
    async open(user: TestUser): Promise<TestSocket> {
      const socket = await connect(started().wsUrl, user.token);
      sockets.push(socket);
      return socket;
    },
    users(n: number): Promise<TestUser[]> {
      return Promise.all(Array.from({ length: n }, () => started().signUp()));
    },
  };
}
