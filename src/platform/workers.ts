import { fork, type ChildProcess } from 'node:child_process';
import type { Config } from './config.js';
import { ConfigError } from './config.js';
import type { Logger } from './obs/logger.js';

/**
 * Runs WORKERS gateway processes on one port. uWS listens with SO_REUSEPORT on Linux, so the
 * kernel spreads new connections over the workers; each worker is a full replica (its own
 * sockets, feeds and bus connection), which is why more than one needs Redis and PostgreSQL.
 * A worker that dies is started again; SIGTERM drains every worker and waits for them.
 */
export async function runWorkers(config: Config, logger: Logger, entry: string): Promise<void> {
  const { workers: count, port } = config.server;
  if (!config.redis.url || !config.storage.databaseUrl) {
    throw new ConfigError(`invalid WORKERS=${count}: more than one worker needs REDIS_URL and DATABASE_URL (replicas share no memory)`);
  }
  if (port === 0) throw new ConfigError(`invalid PORT=0: WORKERS=${count} share one fixed port`);

  const workers = new Map<number, ChildProcess>();
  let stopping = false;
  const restarts: number[] = [];

  const start = (index: number) => {
    // The child inherits this process's environment; the command line makes it one worker of many.
    const child = fork(entry, ['start', '--workers', '1', '--worker', String(index)], { stdio: 'inherit' });
    workers.set(index, child);
    child.on('exit', (code, signal) => {
      workers.delete(index);
      if (stopping) return;
      logger.error('worker exited; starting it again', { worker: index, code, signal });
      // Back off when workers keep dying (a bad deploy should not spin the CPU).
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && restarts[0]! < now - 60_000) restarts.shift();
      setTimeout(() => start(index), Math.min(30_000, 250 * 2 ** Math.min(restarts.length, 7)));
    });
  };

  for (let i = 0; i < count; i++) start(i);
  logger.info('workers started', { workers: count, port });

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info('draining workers', { signal });
      for (const child of workers.values()) child.kill('SIGTERM');
      const deadline = setTimeout(
        () => {
          for (const child of workers.values()) child.kill('SIGKILL');
        },
        config.server.drainNoticeMs + config.server.drainTimeoutMs + 5000,
      );
      const check = setInterval(() => {
        if (workers.size > 0) return;
        clearInterval(check);
        clearTimeout(deadline);
        resolve();
      }, 50);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
