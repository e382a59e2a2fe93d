import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/protocol/errors.js';
import { createLogger, type LogLevel, type LogStreams } from '../../src/platform/obs/logger.js';

function capture(level: LogLevel) {
  const out: string[] = [];
  const err: string[] = [];
  const streams: LogStreams = { out: { write: (line) => out.push(line) }, err: { write: (line) => err.push(line) } };
  return { logger: createLogger(level, streams), out, err };
}

const parsed = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe('logger', () => {
  it('writes one JSON object per line: ISO time, level as a word, msg, then the fields; warn and error apart', () => {
    const { logger, out, err } = capture('debug');
    logger.debug('d', { a: 1 });
    logger.info('i');
    logger.warn('w', { b: 'two' });
    logger.error('e', { c: [3] });
    expect(out.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1)).toBe(true);
    expect(parsed(out)).toEqual([
      { time: expect.any(String), level: 'debug', msg: 'd', a: 1 },
      { time: expect.any(String), level: 'info', msg: 'i' },
    ]);
    expect(parsed(err)).toEqual([
      { time: expect.any(String), level: 'warn', msg: 'w', b: 'two' },
      { time: expect.any(String), level: 'error', msg: 'e', c: [3] },
    ]);
    const time = parsed(out)[0]!.time as string;
    expect(new Date(time).toISOString()).toBe(time);
  });

  it('drops lines under LOG_LEVEL, and writes nothing when silent', () => {
    const warn = capture('warn');
    warn.logger.debug('no');
    warn.logger.info('no');
    warn.logger.warn('yes');
    expect(warn.out).toEqual([]);
    expect(parsed(warn.err).map((l) => l.msg)).toEqual(['yes']);
    expect(warn.logger.enabled('info')).toBe(false);
    expect(warn.logger.enabled('error')).toBe(true);

    const silent = capture('silent');
    silent.logger.error('no', { err: new Error('x') });
    expect([...silent.out, ...silent.err]).toEqual([]);
  });

  it('serialises an error in `err` with its name, message, stack and own fields', () => {
    const { logger, err } = capture('info');
    logger.error('failed', { err: new AppError('forbidden', 'not yours', { groupId: 'g1' }) });
    const [line] = parsed(err);
    expect(line).toMatchObject({ level: 'error', msg: 'failed', err: { name: 'AppError', message: 'not yours', code: 'forbidden' } });
    expect((line!.err as { stack: string }).stack).toContain('not yours');

    logger.warn('plain', { err: new TypeError('bad') });
    expect(parsed(err)[1]!.err).toMatchObject({ name: 'TypeError', message: 'bad', stack: expect.stringContaining('TypeError: bad') });
  });

  it('child loggers carry their bindings on every line, nested children too', () => {
    const { logger, out } = capture('info');
    const socket = logger.child({ connectionId: 'c1', userId: 'u1' });
    socket.info('frame', { type: 'send' });
    socket.child({ re: 'r1' }).info('nested');
    logger.info('root');
    expect(parsed(out)).toEqual([
      { time: expect.any(String), level: 'info', msg: 'frame', connectionId: 'c1', userId: 'u1', type: 'send' },
      { time: expect.any(String), level: 'info', msg: 'nested', connectionId: 'c1', userId: 'u1', re: 'r1' },
      { time: expect.any(String), level: 'info', msg: 'root' },
    ]);
  });
});
