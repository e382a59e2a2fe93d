#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startApp } from './platform/app.js';
import { runBackup, runRestore } from './platform/backup/commands.js';
import { BackupRefused } from './platform/backup/restore.js';
import { resolveJwtSecret } from './platform/auth/secret.js';
import { Tokens } from './platform/auth/tokens.js';
import { ConfigError, loadConfig } from './platform/config.js';
import { runMigrations } from './platform/db/connect.js';
import { DataDirLocked } from './platform/db/data-dir-lock.js';
import { createLogger } from './platform/obs/logger.js';
import { runWorkers } from './platform/workers.js';

// CLI entry: `start` (default), `migrate`, `token`, `backup`, `restore`. Nothing else lives here.

// `--worker I` is not for operators: platform/workers.ts starts each of WORKERS processes with it.
const usage = `usage: banyan [start [--workers N] | migrate | token --sub ID [--name NAME] [--scope server] [--ttl SECONDS] | backup FILE | restore FILE]`;

const print = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<void> {
  const [command = 'start', ...rest] = argv;
  const start =
    command === 'start' ? parseArgs({ args: rest, options: { workers: { type: 'string' }, worker: { type: 'string' } } }).values : {};
  const config = loadConfig(undefined, { WORKERS: start.workers });
  const logger = createLogger(config.server.logLevel);
  switch (command) {
    case 'start': {
      if (config.server.workers > 1) {
        await runWorkers(config, logger, fileURLToPath(import.meta.url));
        process.exit(0);
      }
      const app = await startApp(config, start.worker === undefined ? {} : { worker: Number(start.worker) });
      const stop = (signal: string) => {
        logger.info('draining', { signal });
        // A second signal, or a drain that hangs, still ends the process.
        setTimeout(() => process.exit(1), config.server.drainNoticeMs + config.server.drainTimeoutMs + 5000).unref();
        app.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error('shutdown failed', { err });
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      return;
    }
    case 'migrate':
      await runMigrations({ ...config.storage, poolSize: 1 });
      logger.info('migrations applied');
      return;
    case 'token': {
      const { values } = parseArgs({
        args: rest,
        options: { sub: { type: 'string' }, name: { type: 'string' }, scope: { type: 'string' }, ttl: { type: 'string' } },
      });
      if (!values.sub) throw new ConfigError(usage);
      const tokens = new Tokens({
        secret: await resolveJwtSecret(config, logger),
        issuer: config.auth.issuer,
        audience: config.auth.audience,
      });
      const { token } = await tokens.sign({
        userId: values.sub,
        name: values.name ?? values.sub,
        ...(values.scope === 'server' ? { scope: 'server' as const } : {}),
        ttlSeconds: Number(values.ttl ?? 3600),
      });
      process.stdout.write(`${token}\n`);
      return;
    }
    case 'backup':
    case 'restore': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true });
      if (positionals.length !== 1) throw new ConfigError(usage);
      await (command === 'backup' ? runBackup : runRestore)(config, positionals[0]!, print);
      return;
    }
    default:
      throw new ConfigError(usage);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // Nothing in the code is at fault: one line, no stack.
  if (err instanceof ConfigError || err instanceof DataDirLocked || err instanceof BackupRefused) {
    process.stderr.write(`banyan: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`banyan: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
